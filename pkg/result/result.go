// Package result holds what one audit check found: a status, the signal that
// decided it (the cause) and what a person should do about it.
package result

import (
	"cmp"
	"slices"
	"time"
	"unicode/utf8"
)

// Usable reports whether an application can call the model as far as the audit can tell.
func (s Status) Usable() bool { return s == Enabled }

// Result is the outcome of checking one required model in one account and
// region: for the account (Principal empty), or for one principal that calls
// Bedrock there.
type Result struct {
	Account string `json:"account"`
	Region  string `json:"region"`
	Model   string `json:"model"`
	// Principal is the role whose permissions were evaluated; empty for the
	// account-level result.
	Principal   string `json:"principal,omitempty"`
	Status      Status `json:"status"`
	Cause       string `json:"cause"`
	Remediation string `json:"remediation"`
	// Marks are what few results carry; nil for most. One pointer keeps a
	// result small: a run holds hundreds of thousands.
	*Marks
}

// Marks are a result's rare annotations; their JSON fields appear at the
// result's level.
type Marks struct {
	// DestinationRegions are where an inference profile routes calls, from
	// its models' ARNs; empty for a base model id.
	DestinationRegions []string `json:"destination_regions,omitempty"`
	// Critical overrides the configured severity of the status: a missing
	// agreement that a principal could not create on its first call is.
	Critical bool `json:"critical,omitempty"`
	// Suppressed is the suppression the check is under, if any: it keeps
	// its real status but is not alerted and does not fail the command line.
	Suppressed *Suppressed `json:"suppressed,omitempty"`
}

// Suppressed says who suppressed a check, why, and until when.
type Suppressed struct {
	Reason string `json:"reason"`
	Owner  string `json:"owner"`
	// Until is the last day (YYYY-MM-DD, UTC) the suppression holds.
	Until string `json:"until"`
}

// Destinations returns where an inference profile routes calls (nil for a
// base model).
func (r Result) Destinations() []string {
	if r.Marks == nil {
		return nil
	}
	return r.Marks.DestinationRegions
}

// SetDestinations records where the profile routes calls.
func (r *Result) SetDestinations(regions []string) {
	m := Marks{}
	if r.Marks != nil {
		m = *r.Marks
	}
	m.DestinationRegions = regions
	r.Marks = &m
}

// IsCritical reports whether the result was marked critical.
func (r Result) IsCritical() bool { return r.Marks != nil && r.Marks.Critical }

// SuppressedBy returns the suppression the check is under, or nil.
func (r Result) SuppressedBy() *Suppressed {
	if r.Marks == nil {
		return nil
	}
	return r.Marks.Suppressed
}

// MarkCritical marks the result critical.
func (r *Result) MarkCritical() {
	m := Marks{}
	if r.Marks != nil {
		m = *r.Marks
	}
	m.Critical = true
	r.Marks = &m
}

// Suppress puts the result under s.
func (r *Result) Suppress(s *Suppressed) {
	m := Marks{}
	if r.Marks != nil {
		m = *r.Marks
	}
	m.Suppressed = s
	r.Marks = &m
}

// Less orders results by account, region, model, then principal (the
// account-level result first): the stable order of every report.
func Less(a, b Result) bool {
	if a.Account != b.Account {
		return a.Account < b.Account
	}
	if a.Region != b.Region {
		return a.Region < b.Region
	}
	if a.Model != b.Model {
		return a.Model < b.Model
	}
	return a.Principal < b.Principal
}

// Compare is Less as a three-way comparison, for slices.SortFunc.
func Compare(a, b Result) int {
	switch {
	case Less(a, b):
		return -1
	case Less(b, a):
		return 1
	}
	return 0
}

// Report is what a run found: its summary and every check's result.
type Report struct {
	Summary Summary  `json:"run"`
	Results []Result `json:"results"`
}

// Summary describes one audit run.
type Summary struct {
	RunID      string    `json:"run_id"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	DurationMS int64     `json:"duration_ms"`
	Accounts   int       `json:"accounts"`
	Regions    int       `json:"regions"`
	Planned    int       `json:"checks_planned"`
	// The account checks (one per account, region and model): Checked is
	// how many were done, Counts how many ended in each status; Counts add
	// up to Checked. NotUsable, AuditErrs and Suppressed are account checks
	// too: Suppressed counts the checks under a suppression, which are left
	// out of NotUsable and AuditErrs.
	Checked    int            `json:"checks_done"`
	Counts     map[Status]int `json:"counts"`
	NotUsable  int            `json:"not_usable"`
	AuditErrs  int            `json:"audit_errors"`
	Suppressed int            `json:"suppressed,omitempty"`
	// The principal results (one per principal evaluated for an account
	// check), counted apart from the account checks in the same way:
	// PrincipalCounts add up to PrincipalChecks. A principal's copy of its
	// account's problem is a principal result too, counted here under that
	// status.
	PrincipalChecks     int            `json:"principal_checks,omitempty"`
	PrincipalCounts     map[Status]int `json:"principal_counts,omitempty"`
	PrincipalNotUsable  int            `json:"principal_not_usable,omitempty"`
	PrincipalAuditErrs  int            `json:"principal_audit_errors,omitempty"`
	PrincipalSuppressed int            `json:"principal_suppressed,omitempty"`
	// Warnings are things to fix that did not stop the run, such as a
	// suppression that matches no check.
	Warnings []string `json:"warnings,omitempty"`
	// Incomplete is set when the deadline ended the run before every check was done.
	Incomplete bool `json:"incomplete"`
	// Unreached are the accounts an incomplete run did not check at all;
	// the next run checks them first.
	Unreached []string `json:"unreached,omitempty"`
	// Errors are failures outside any single check, such as account discovery.
	Errors []string `json:"errors,omitempty"`
	// DiscoveryFailed is set when AWS Organizations could not be read: the
	// run checked at most the static accounts, so the run as a whole failed.
	DiscoveryFailed bool `json:"discovery_failed,omitempty"`
	// ConfigError is set when AWS refused a request as malformed because of
	// the configuration (such as a session longer than role chaining allows);
	// the run stopped at the first such answer.
	ConfigError string `json:"config_error,omitempty"`
}

// Failed reports whether the run as a whole failed, whatever its checks say.
func (s *Summary) Failed() bool { return s.DiscoveryFailed || s.ConfigError != "" }

// Add adds the summary of another part of the same run (a batch of its
// accounts): counts add up, flags and lists join, the run spans both parts'
// times. Regions and the run id stay s's.
func (s *Summary) Add(o Summary) {
	if s.StartedAt.IsZero() || (!o.StartedAt.IsZero() && o.StartedAt.Before(s.StartedAt)) {
		s.StartedAt = o.StartedAt
	}
	if o.FinishedAt.After(s.FinishedAt) {
		s.FinishedAt = o.FinishedAt
	}
	if !s.StartedAt.IsZero() && !s.FinishedAt.IsZero() {
		s.DurationMS = s.FinishedAt.Sub(s.StartedAt).Milliseconds()
	}
	s.Accounts += o.Accounts
	s.Planned += o.Planned
	s.Checked += o.Checked
	s.Counts = addCounts(s.Counts, o.Counts)
	s.NotUsable += o.NotUsable
	s.AuditErrs += o.AuditErrs
	s.Suppressed += o.Suppressed
	s.PrincipalChecks += o.PrincipalChecks
	s.PrincipalCounts = addCounts(s.PrincipalCounts, o.PrincipalCounts)
	s.PrincipalNotUsable += o.PrincipalNotUsable
	s.PrincipalAuditErrs += o.PrincipalAuditErrs
	s.PrincipalSuppressed += o.PrincipalSuppressed
	for _, w := range o.Warnings {
		if !slices.Contains(s.Warnings, w) {
			s.Warnings = append(s.Warnings, w)
		}
	}
	s.Incomplete = s.Incomplete || o.Incomplete
	s.Unreached = append(s.Unreached, o.Unreached...)
	s.Errors = append(s.Errors, o.Errors...)
	s.DiscoveryFailed = s.DiscoveryFailed || o.DiscoveryFailed
	s.ConfigError = cmp.Or(s.ConfigError, o.ConfigError)
}

// addCounts adds o to c, making c when it is nil and o is not empty.
func addCounts(c, o map[Status]int) map[Status]int {
	if c == nil && len(o) > 0 {
		c = make(map[Status]int, len(o))
	}
	for st, n := range o {
		c[st] += n
	}
	return c
}

// Summarize fills the counts of s from results: the account checks
// (Principal empty) in Checked, Counts, NotUsable, AuditErrs and
// Suppressed; the principal results, each of them, in the Principal fields.
func (s *Summary) Summarize(results []Result) {
	s.Counts = make(map[Status]int, len(Statuses))
	s.PrincipalCounts = nil
	s.Checked, s.NotUsable, s.AuditErrs, s.Suppressed = 0, 0, 0, 0
	s.PrincipalChecks, s.PrincipalNotUsable, s.PrincipalAuditErrs, s.PrincipalSuppressed = 0, 0, 0, 0
	for _, r := range results {
		done, counts, notUsable, auditErrs, suppressed := &s.Checked, s.Counts, &s.NotUsable, &s.AuditErrs, &s.Suppressed
		if r.Principal != "" {
			if s.PrincipalCounts == nil {
				s.PrincipalCounts = make(map[Status]int, len(Statuses))
			}
			done, counts, notUsable, auditErrs, suppressed = &s.PrincipalChecks, s.PrincipalCounts, &s.PrincipalNotUsable, &s.PrincipalAuditErrs, &s.PrincipalSuppressed
		}
		*done++
		counts[r.Status]++
		switch {
		case r.SuppressedBy() != nil:
			*suppressed++
		case r.Status == AuditError:
			*auditErrs++
		case !r.Status.Usable():
			*notUsable++
		}
	}
}

// AllAuditErrs is how many results, account checks and principal results
// alike, could not be checked.
func (s *Summary) AllAuditErrs() int { return s.AuditErrs + s.PrincipalAuditErrs }

// Clip shortens s to at most max bytes, cutting at a rune boundary and
// marking the cut with "...": for texts with a size limit (DynamoDB items,
// SNS subjects, error messages).
func Clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
