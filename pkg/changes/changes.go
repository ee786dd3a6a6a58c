// Package changes compares a run's results with what grantwatch remembers of
// each check, and decides what to record in history and whom to alert: once
// per change, never once per run.
package changes

import (
	"time"

	"github.com/grantwatch/grantwatch/pkg/result"
)

// Kind is the kind of an alert, and the event_type of a message.
type Kind string

// The alert kinds, then the event_types of the run-wide messages.
const (
	// New: a required model became not usable (or is not usable when first seen).
	New Kind = "NEW"
	// Resolved: a model that was alerted about is usable again.
	Resolved Kind = "RESOLVED"
	// Regressed: a model that had been resolved is not usable again.
	Regressed Kind = "REGRESSED"
	// Reminder: still not usable (or still not checkable) after the reminder interval.
	Reminder Kind = "REMINDER"
	// AuditFailed: grantwatch could not check; says nothing about the model.
	AuditFailed Kind = "AUDIT_ERROR"

	// SuppressionEnded is how messages show and count a REMINDER sent
	// because the suppression a check was under ended: it is not an
	// event_type (the alert's stays REMINDER, for subscription filters).
	SuppressionEnded Kind = "SUPPRESSION_ENDED"

	// Digest is the event_type of the run's one message that sums up every
	// account's alerts (notify.Digest); no alert has it.
	Digest Kind = "DIGEST"
	// RunFailed is the event_type of the message that says a run failed as a
	// whole (notify.RunFailureMessage); no alert has it.
	RunFailed Kind = "RUN_FAILED"
)

// Shown is the kind a message shows and counts a under: its Kind, or
// SuppressionEnded for a reminder that a suppression ended.
func (a Alert) Shown() Kind {
	if a.Kind == Reminder && a.EndedSuppression != nil {
		return SuppressionEnded
	}
	return a.Kind
}

// Key identifies one check: of the account (Principal empty) or of one principal.
type Key struct{ Account, Region, Model, Principal string }

// KeyOf returns the key of a result.
func KeyOf(r result.Result) Key { return Key{r.Account, r.Region, r.Model, r.Principal} }

// State is what grantwatch remembers of one check between runs.
type State struct {
	// Status is the model's last known status. It is AUDIT_ERROR only when the
	// model has never been checked successfully: an audit error does not
	// replace what was known.
	Status      result.Status `dynamodbav:"s"`
	Cause       string        `dynamodbav:"c,omitempty"`
	Remediation string        `dynamodbav:"r,omitempty"`
	// Since is when Status began.
	Since     time.Time `dynamodbav:"since"`
	CheckedAt time.Time `dynamodbav:"checked"`
	// Alerted is the not-usable status an alert went out for and that has not
	// been resolved since; empty when none is open.
	Alerted   result.Status `dynamodbav:"a,omitempty"`
	AlertedAt time.Time     `dynamodbav:"at,omitempty"`
	// ResolvedBefore is set once a RESOLVED alert went out, so that the next
	// problem is a REGRESSED one.
	ResolvedBefore bool `dynamodbav:"rb,omitempty"`
	// Muted is set while the check is under a suppression: when that ends
	// with the problem still there, it is alerted again as a reminder.
	Muted bool `dynamodbav:"mu,omitempty"`
	// MutedBy is the suppression the check was last seen under while Muted,
	// so that the reminder sent when it ends can name it.
	MutedBy *result.Suppressed `dynamodbav:"mb,omitempty"`
	// AuditError is the cause of the last check's audit error; empty when the
	// last check succeeded.
	AuditError     string    `dynamodbav:"ae,omitempty"`
	AuditSince     time.Time `dynamodbav:"as,omitempty"`
	AuditAlertedAt time.Time `dynamodbav:"aa,omitempty"`
}

// Observed is the status the last check saw, audit errors included.
func (s State) Observed() result.Status {
	if s.AuditError != "" {
		return result.AuditError
	}
	return s.Status
}

// Alert is one change to tell people about.
type Alert struct {
	Kind   Kind          `json:"event_type"`
	Result result.Result `json:"result"`
	// Previous is the status before the change, empty for a first observation.
	Previous result.Status `json:"previous,omitempty"`
	// Since is when the current problem began.
	Since time.Time `json:"since"`
	// Severity is the configured severity of the status for NEW, REGRESSED
	// and AUDIT_ERROR, at most warning for a REMINDER, info for RESOLVED.
	Severity result.Severity `json:"severity"`
	// EndedSuppression is set on a REMINDER sent because the suppression
	// the check was under ended (expired or removed) with the problem still
	// there: that suppression, or an empty one when a state stored before
	// grantwatch remembered suppressions does not say which.
	EndedSuppression *result.Suppressed `json:"ended_suppression,omitempty"`
}

// Event is one transition in a check's history.
type Event struct {
	At       time.Time
	Result   result.Result
	Previous result.Status
}

// Policy holds the timings of alerting.
type Policy struct {
	// Grace is how long PENDING may last before it alerts.
	Grace time.Duration
	// Reminder is how long a problem may stay open before it is alerted again.
	Reminder time.Duration
	// Severity is the configured severity per status; a status whose
	// severity is ignore is recorded but never alerted.
	Severity result.Severities
}

// Update is the decision for one check.
type Update struct {
	Key Key
	// Next is the state to remember once Alert was delivered (or when there is none).
	Next State
	// Undelivered is the state to remember if Alert's message could not be
	// sent: the observation is kept, the alert bookkeeping is not, so the next
	// run alerts again.
	Undelivered State
	Alert       *Alert
	Event       *Event
}

// Evaluate decides, for every result, what changed since prev (the states
// remembered, by key) as of now.
func Evaluate(prev map[Key]State, results []result.Result, now time.Time, p Policy) []Update {
	updates := make([]Update, 0, len(results))
	for _, r := range results {
		ps, known := prev[KeyOf(r)]
		updates = append(updates, evaluate(ps, known, r, now, p))
	}
	return updates
}

func evaluate(ps State, known bool, r result.Result, now time.Time, p Policy) Update {
	u := Update{Key: KeyOf(r)}
	n := ps
	n.CheckedAt = now
	var previous result.Status
	if known {
		previous = ps.Observed()
	}

	if r.Status == result.AuditError {
		if !known {
			n.Status, n.Since = result.AuditError, now
		}
		if ps.AuditError == "" {
			n.AuditSince, n.AuditAlertedAt = now, time.Time{}
			u.Event = &Event{At: now, Result: r, Previous: previous}
		}
		n.AuditError = r.Cause
		if n.AuditError == "" { // an empty cause must not read as "no audit error"
			n.AuditError = string(result.AuditError)
		}
		sev := p.Severity.For(r)
		suppressed := r.SuppressedBy() != nil
		n.Muted, n.MutedBy = suppressed, r.SuppressedBy()
		switch {
		case suppressed || !sev.Alerts():
		case n.AuditAlertedAt.IsZero():
			u.Alert = &Alert{Kind: AuditFailed, Result: r, Previous: previous, Since: n.AuditSince, Severity: sev}
			n.AuditAlertedAt = now
		case now.Sub(n.AuditAlertedAt) >= p.Reminder:
			u.Alert = &Alert{Kind: Reminder, Result: r, Previous: previous, Since: n.AuditSince, Severity: reminded(sev)}
			n.AuditAlertedAt = now
		}
		u.Next, u.Undelivered = n, n
		u.Undelivered.AuditAlertedAt = ps.AuditAlertedAt
		if ps.AuditError == "" {
			u.Undelivered.AuditAlertedAt = time.Time{}
		}
		return u
	}

	n.AuditError, n.AuditSince, n.AuditAlertedAt = "", time.Time{}, time.Time{}
	if !known || previous != r.Status {
		u.Event = &Event{At: now, Result: r, Previous: previous}
	}
	if !known || ps.Status != r.Status {
		n.Since = now
	}
	n.Status, n.Cause, n.Remediation = r.Status, r.Cause, r.Remediation

	// A suppressed check is recorded and alerts nobody; what was alerted
	// before stays open. When the suppression ends with the problem still
	// there, the first run after it reminds.
	if r.SuppressedBy() != nil && !r.Status.Usable() {
		n.Muted, n.MutedBy = true, r.SuppressedBy()
		u.Next, u.Undelivered = n, n
		return u
	}
	wasMuted := ps.Muted
	n.Muted, n.MutedBy = false, nil
	// A status configured as ignore closes an open alert as a usable one
	// does: what was alerted is gone, and what remains is not to be alerted.
	sev := p.Severity.For(r)
	if r.Status.Usable() || !sev.Alerts() {
		if ps.Alerted != "" {
			u.Alert = &Alert{Kind: Resolved, Result: r, Previous: ps.Alerted, Since: n.Since, Severity: result.Info}
			n.Alerted, n.AlertedAt, n.ResolvedBefore = "", now, true
		}
	} else {
		inGrace := r.Status == result.Pending && now.Sub(n.Since) < p.Grace
		switch {
		case inGrace:
		case wasMuted:
			ended := ps.MutedBy
			if ended == nil {
				ended = &result.Suppressed{}
			}
			u.Alert = &Alert{Kind: Reminder, Result: r, Previous: previous, Since: n.Since, Severity: reminded(sev), EndedSuppression: ended}
			n.Alerted, n.AlertedAt = r.Status, now
		case ps.Alerted != r.Status:
			kind := New
			if ps.Alerted == "" && ps.ResolvedBefore {
				kind = Regressed
			}
			u.Alert = &Alert{Kind: kind, Result: r, Previous: previous, Since: n.Since, Severity: sev}
			n.Alerted, n.AlertedAt = r.Status, now
		case now.Sub(ps.AlertedAt) >= p.Reminder:
			u.Alert = &Alert{Kind: Reminder, Result: r, Previous: previous, Since: n.Since, Severity: reminded(sev)}
			n.AlertedAt = now
		}
	}
	u.Next, u.Undelivered = n, n
	u.Undelivered.Alerted, u.Undelivered.AlertedAt, u.Undelivered.ResolvedBefore = ps.Alerted, ps.AlertedAt, ps.ResolvedBefore
	u.Undelivered.Muted, u.Undelivered.MutedBy = ps.Muted, ps.MutedBy // an undelivered reminder is sent again
	return u
}

// reminded is the severity of a reminder: a problem already known pages
// nobody again.
func reminded(s result.Severity) result.Severity {
	if s.Rank() > result.Warning.Rank() {
		return result.Warning
	}
	return s
}
