// Package notify turns a run's alerts into SNS messages: one per account with
// that account's changes (split when very large), and one digest per run.
//
// Every message carries the attributes account_id (String; "ALL" on the
// digest), event_type (String.Array of NEW, RESOLVED, REGRESSED, REMINDER,
// AUDIT_ERROR, DIGEST or RUN_FAILED), severity (String: critical, warning or info; the
// highest of the message's alerts, each the configured severity of its status
// under alerts.severity) and regions (String.Array), so that subscriptions can
// filter; see the README for example filter policies.
//
// render.go builds the messages; publish.go sends them.
package notify

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/grantwatch/grantwatch/pkg/changes"
	"github.com/grantwatch/grantwatch/pkg/result"
)

// MaxBytes bounds a message's body and attributes: SNS takes 262,144 bytes,
// and the rest is headroom for the envelope.
// ledger: SNS-message-256kb
const MaxBytes = 240 * 1024

// maxSubject is SNS's limit for email subjects, less one.
const maxSubject = 99

// Message is one SNS message.
type Message struct {
	Subject    string
	Body       string
	Account    string // "ALL" for the digest
	Kinds      []changes.Kind
	Severity   result.Severity
	Regions    []string
	Part, Of   int
	Attributes map[string]types.MessageAttributeValue
}

// kindOrder is the order kinds appear in messages: what needs action first.
// A reminder that a suppression ended is shown apart from the others.
var kindOrder = []changes.Kind{changes.New, changes.Regressed, changes.AuditFailed, changes.SuppressionEnded, changes.Reminder, changes.Resolved}

// AccountMessages builds the messages of one account (alerts all of that
// account), splitting them so that each stays under maxBytes.
func AccountMessages(runID, account string, alerts []changes.Alert, reminder time.Duration, maxBytes int) ([]Message, error) {
	return accountMessages(runID, account, alerts, reminder, Message.size, maxBytes)
}

// accountMessages is AccountMessages with the size of a message as it is
// published.
func accountMessages(runID, account string, alerts []changes.Alert, reminder time.Duration, size func(Message) int, maxBytes int) ([]Message, error) {
	sortAlerts(alerts)
	parts := [][]changes.Alert{alerts}
	for i := 0; i < len(parts); {
		m := accountMessage(runID, account, parts[i], reminder, 1, 1)
		n := size(m)
		if n <= maxBytes {
			i++
			continue
		}
		if len(parts[i]) == 1 {
			return nil, fmt.Errorf("account %s: one alert alone renders %d bytes, more than %d", account, n, maxBytes)
		}
		piece := parts[i]
		half := len(piece) / 2
		parts = slices.Replace(parts, i, i+1, piece[:half], piece[half:])
	}
	msgs := make([]Message, len(parts))
	for i, p := range parts {
		msgs[i] = accountMessage(runID, account, p, reminder, i+1, len(parts))
	}
	return msgs, nil
}

func sortAlerts(alerts []changes.Alert) {
	slices.SortStableFunc(alerts, func(a, b changes.Alert) int {
		if d := slices.Index(kindOrder, a.Shown()) - slices.Index(kindOrder, b.Shown()); d != 0 {
			return d
		}
		return strings.Compare(a.Result.Region+" "+a.Result.Model, b.Result.Region+" "+b.Result.Model)
	})
}

func accountMessage(runID, account string, alerts []changes.Alert, reminder time.Duration, part, of int) Message {
	alerts = forMessage(alerts)
	m := Message{Account: account, Part: part, Of: of, Severity: result.Info}
	counts, onPrincipals, eventTypes := map[changes.Kind]int{}, map[changes.Kind]int{}, map[changes.Kind]bool{}
	for _, a := range alerts {
		counts[a.Shown()]++
		eventTypes[a.Kind] = true
		if a.Result.Principal != "" {
			onPrincipals[a.Shown()]++
		}
		m.Severity = louder(m.Severity, a.Severity)
		if !slices.Contains(m.Regions, a.Result.Region) {
			m.Regions = append(m.Regions, a.Result.Region)
		}
	}
	slices.Sort(m.Regions)
	var summary []string
	for _, k := range kindOrder {
		if eventTypes[k] {
			m.Kinds = append(m.Kinds, k)
		}
		if counts[k] > 0 {
			summary = append(summary, countText(k, counts[k]))
		}
	}
	m.Subject = fmt.Sprintf("[grantwatch] account %s: %s", account, strings.Join(summary, ", "))
	if of > 1 {
		m.Subject = fmt.Sprintf("[grantwatch] account %s (%d/%d): %s", account, part, of, strings.Join(summary, ", "))
	}
	m.Subject = result.Clip(m.Subject, maxSubject)

	var b strings.Builder
	switch {
	case counts[changes.New]+counts[changes.Regressed]+counts[changes.AuditFailed]+counts[changes.Resolved] > 0:
		fmt.Fprintf(&b, "grantwatch found changes in Amazon Bedrock model access for account %s", account)
	case counts[changes.Reminder] == 0:
		fmt.Fprintf(&b, "A suppression of grantwatch alerts ended for account %s, and what it held back is still not usable", account)
	default:
		fmt.Fprintf(&b, "grantwatch reminds you of Amazon Bedrock model access problems still open in account %s", account)
	}
	if of > 1 {
		fmt.Fprintf(&b, " (part %d of %d)", part, of)
	}
	b.WriteString(".\n")
	for _, k := range kindOrder {
		if counts[k] == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n%s: %s\n", k, headline(k, counts[k]-onPrincipals[k], onPrincipals[k]))
		for _, g := range groupAlerts(alerts, k) {
			fmt.Fprintf(&b, "  %s: %s\n", g.status, strings.Join(g.where, "; "))
			if k == changes.Resolved {
				continue
			}
			if k == changes.SuppressionEnded {
				fmt.Fprintf(&b, "    Suppression that ended: %s\n", endedText(g.ended))
			}
			fmt.Fprintf(&b, "    Why: %s\n    What to do: %s\n", g.cause, g.remediation)
		}
	}
	fmt.Fprintf(&b, "\nRun %s. grantwatch alerts once per change; problems still open are reminded every %s.\n", runID, days(reminder))
	b.WriteString("\n--- structured data (JSON) ---\n")
	data, _ := json.MarshalIndent(struct {
		Account string          `json:"account"`
		RunID   string          `json:"run_id"`
		Part    int             `json:"part"`
		Of      int             `json:"of"`
		Alerts  []changes.Alert `json:"alerts"`
	}{account, runID, part, of, alerts}, "", " ")
	b.Write(data)
	b.WriteString("\n")
	m.Body = b.String()
	m.Attributes = Attributes(account, m.Kinds, m.Severity, m.Regions)
	return m
}

func countText(k changes.Kind, n int) string {
	word := map[changes.Kind]string{changes.New: "new", changes.Regressed: "regressed", changes.AuditFailed: "audit errors",
		changes.SuppressionEnded: "no longer suppressed", changes.Reminder: "still open", changes.Resolved: "resolved"}[k]
	return fmt.Sprintf("%d %s", n, word)
}

// headline says what happened to the checks (account checks) and
// principals (principal results) of one kind of alert.
func headline(k changes.Kind, checks, principals int) string {
	subject := func(one, many string) string {
		var parts []string
		if checks > 0 || principals == 0 {
			parts = append(parts, plural(checks, one, many))
		}
		if principals > 0 {
			parts = append(parts, plural(principals, "principal result", "principal results"))
		}
		return strings.Join(parts, " and ")
	}
	n := checks + principals
	switch k {
	case changes.New:
		return subject("required model check", "required model checks") + " became not usable"
	case changes.Regressed:
		return subject("check", "checks") + " broke again after being resolved"
	case changes.AuditFailed:
		return fmt.Sprintf("grantwatch could not check %s; this says nothing about the models themselves", subject("model", "models"))
	case changes.SuppressionEnded:
		return fmt.Sprintf("the suppression of %s ended, and %s still not usable", subject("check", "checks"), map[bool]string{true: "it is", false: "they are"}[n == 1])
	case changes.Reminder:
		return fmt.Sprintf("%s %s still open", subject("problem", "problems"), isAre(n))
	}
	return fmt.Sprintf("%s %s usable again", subject("check", "checks"), isAre(n))
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

type group struct {
	status, cause, remediation string
	// ended is the suppression that ended, for SuppressionEnded.
	ended *result.Suppressed
	where []string
}

// endedText names a suppression that ended: its reason, owner and last day.
func endedText(s *result.Suppressed) string {
	if s == nil || *s == (result.Suppressed{}) {
		return "not recorded (the check was muted before grantwatch remembered which suppression held it)"
	}
	return fmt.Sprintf("%q, owner %s, until %s", s.Reason, s.Owner, s.Until)
}

// groupAlerts gathers the alerts of one kind that share status, cause and
// remediation, so that a region-wide problem reads as one entry.
func groupAlerts(alerts []changes.Alert, k changes.Kind) []group {
	var groups []group
	for _, a := range alerts {
		if a.Shown() != k {
			continue
		}
		r := a.Result
		status := string(r.Status)
		if k == changes.Resolved {
			status = "usable again (was " + string(a.Previous) + ")"
		}
		i := slices.IndexFunc(groups, func(g group) bool {
			return g.status == status && g.cause == r.Cause && g.remediation == r.Remediation && endedText(g.ended) == endedText(a.EndedSuppression)
		})
		if i < 0 {
			i = len(groups)
			groups = append(groups, group{status: status, cause: r.Cause, remediation: r.Remediation, ended: a.EndedSuppression})
		}
		w := r.Model + " in " + r.Region
		if r.Principal != "" {
			w += " for " + r.Principal
		}
		groups[i].where = append(groups[i].where, w)
	}
	return groups
}

// louder is the louder of two severities; an alert's own is never below info.
func louder(a, b result.Severity) result.Severity {
	if b.Rank() > a.Rank() {
		return b
	}
	return a
}

// Attributes are the message attributes every grantwatch message carries
// for subscription filter policies (ledger SNS-filter-attributes).
func Attributes(account string, kinds []changes.Kind, severity result.Severity, regions []string) map[string]types.MessageAttributeValue {
	kindsJSON, _ := json.Marshal(kinds)
	if regions == nil {
		regions = []string{} // String.Array wants [], not null
	}
	regionsJSON, _ := json.Marshal(regions)
	return map[string]types.MessageAttributeValue{
		"account_id": {DataType: aws.String("String"), StringValue: aws.String(account)},
		"event_type": {DataType: aws.String("String.Array"), StringValue: aws.String(string(kindsJSON))},
		"severity":   {DataType: aws.String("String"), StringValue: aws.String(string(severity))},
		"regions":    {DataType: aws.String("String.Array"), StringValue: aws.String(string(regionsJSON))},
	}
}

func (m Message) size() int {
	n := len(m.Body) + len(m.Subject)
	for k, v := range m.Attributes {
		n += len(k) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue))
	}
	return n
}

// Remediation is what the run's remediation step did (remediation.auto)
// or, without auto, what grantwatch fix --apply would do: the digest says
// it in one line (docs/remediation.md).
type Remediation struct {
	Auto bool `json:"auto"`
	// Agreements and Forms count the agreements and use-case forms
	// planned (auto off) or done (auto on); Accounts, the accounts they are in.
	Agreements int `json:"agreements"`
	Forms      int `json:"use_case_forms"`
	Accounts   int `json:"accounts"`
	// Failed counts the actions that failed (or, auto off, could not be
	// planned); NotAttempted, those the run's time did not reach;
	// NotAllowed, the missing agreements the remediation section does not
	// allow; NoOffer, those with no one offer to accept (none listed, or
	// several and remediation.agreements.offers names none).
	Failed       int `json:"failed,omitempty"`
	NotAttempted int `json:"not_attempted,omitempty"`
	NotAllowed   int `json:"not_allowed,omitempty"`
	NoOffer      int `json:"no_offer,omitempty"`
	// Unknown counts the creates whose answer was lost and whose agreement
	// could not be read back: they may have taken effect.
	Unknown int `json:"unknown,omitempty"`
	// Error says what kept the step from planning at all.
	Error string `json:"error,omitempty"`
}

// Acted says the step touched AWS: the digest goes out for it even when
// the run changed nothing else.
func (r *Remediation) Acted() bool {
	return r != nil && r.Auto && r.Agreements+r.Forms+r.Failed+r.Unknown > 0
}

// Line is the digest's remediation line, "" when there is nothing to say.
func (r *Remediation) Line() string {
	if r == nil {
		return ""
	}
	if r.Error != "" {
		return "Remediation: grantwatch could not plan what to fix this run: " + oneLine(r.Error, 300)
	}
	var what []string
	if r.Agreements > 0 {
		what = append(what, map[bool]string{false: "create ", true: "created "}[r.Auto]+plural(r.Agreements, "agreement", "agreements"))
	}
	if r.Forms > 0 {
		what = append(what, map[bool]string{false: "submit ", true: "submitted "}[r.Auto]+plural(r.Forms, "use-case form", "use-case forms"))
	}
	var b strings.Builder
	switch {
	case len(what) > 0 && r.Auto:
		fmt.Fprintf(&b, "Remediation (remediation.auto): grantwatch %s in %s", strings.Join(what, " and "), plural(r.Accounts, "account", "accounts"))
	case len(what) > 0:
		fmt.Fprintf(&b, "Remediation: grantwatch fix would %s in %s (remediation.auto is off; grantwatch fix --config F --apply does it)",
			strings.Join(what, " and "), plural(r.Accounts, "account", "accounts"))
	case r.Failed+r.Unknown+r.NotAttempted+r.NoOffer > 0:
		b.WriteString("Remediation: nothing fixed")
	default:
		return ""
	}
	if r.Failed > 0 {
		fmt.Fprintf(&b, "; %d failed", r.Failed)
		if !r.Auto {
			b.WriteString(" to plan")
		}
	}
	if r.Unknown > 0 {
		fmt.Fprintf(&b, "; %d unknown (the answer was lost and the agreement could not be read back: the next run reads it)", r.Unknown)
	}
	if r.NotAttempted > 0 {
		fmt.Fprintf(&b, "; %d not attempted before the run's time ran out (the next run plans them again)", r.NotAttempted)
	}
	if r.NoOffer > 0 {
		fmt.Fprintf(&b, "; %s without one offer to accept (none listed, or several: name the one in remediation.agreements.offers)",
			plural(r.NoOffer, "missing agreement", "missing agreements"))
	}
	if r.NotAllowed > 0 {
		fmt.Fprintf(&b, "; %s outside what the remediation section allows", plural(r.NotAllowed, "missing agreement", "missing agreements"))
	}
	b.WriteString(".")
	if r.Auto {
		b.WriteString(" Each account's remediation message says what was done.")
	}
	return b.String()
}

// Digest is the one message of a run that sums up every account's changes:
// the alerts on account checks and on principal results counted apart, as
// the run's summary counts them, and the run's remediation line (rem may
// be nil).
func Digest(runID string, t changes.Tally, rem *Remediation, maxBytes int) Message {
	m := Message{Account: "ALL", Part: 1, Of: 1, Severity: louder(result.Info, t.Severity), Kinds: []changes.Kind{changes.Digest},
		Regions: slices.Clone(t.Regions)}
	totals, principalTotals := map[changes.Kind]int{}, map[changes.Kind]int{}
	type line struct {
		Account         string               `json:"account"`
		Counts          map[changes.Kind]int `json:"counts"`
		PrincipalCounts map[changes.Kind]int `json:"principal_counts,omitempty"`
	}
	var lines []line
	accounts := t.AccountIDs()
	for _, a := range accounts {
		l := line{Account: a, Counts: t.Accounts[a], PrincipalCounts: t.Principals[a]}
		if l.Counts == nil {
			l.Counts = map[changes.Kind]int{} // an account with principal alerts only
		}
		for k, n := range l.Counts {
			totals[k] += n
		}
		for k, n := range l.PrincipalCounts {
			principalTotals[k] += n
		}
		lines = append(lines, l)
	}
	checks, principals := t.ChecksTotal(), t.PrincipalsTotal()
	subject := fmt.Sprintf("[grantwatch] run %s: %d changes in %d accounts", runID, checks+principals, len(accounts))
	if principals > 0 {
		subject = fmt.Sprintf("[grantwatch] run %s: %d changes to checks, %d to principals, in %d accounts", runID, checks, principals, len(accounts))
	}
	if checks+principals == 0 && rem.Acted() {
		subject = fmt.Sprintf("[grantwatch] run %s: no changes; remediation in %s", runID, plural(rem.Accounts, "account", "accounts"))
	}
	m.Subject = result.Clip(subject, maxSubject)
	var b strings.Builder
	fmt.Fprintf(&b, "grantwatch run %s, in %d accounts:\n  account checks: %s\n", runID, len(accounts), kindsText(totals, checks))
	if principals > 0 {
		fmt.Fprintf(&b, "  principal results: %s\n", kindsText(principalTotals, principals))
	}
	if line := rem.Line(); line != "" {
		// One line whatever the run's size: counts, never a list.
		fmt.Fprintf(&b, "\n%s\n", line)
	}
	b.WriteString("\n")
	// Each account appears twice, as text and as JSON: stop listing before
	// the two together pass the limit, with room for the rest of the message.
	shown, used := 0, b.Len()+1024
	for _, l := range lines {
		var kinds []string
		if len(l.Counts) > 0 {
			kinds = append(kinds, kindsText(l.Counts, -1))
		}
		if len(l.PrincipalCounts) > 0 {
			kinds = append(kinds, "principals: "+kindsText(l.PrincipalCounts, -1))
		}
		entry := fmt.Sprintf("  %s: %s\n", l.Account, strings.Join(kinds, "; "))
		asJSON, _ := json.Marshal(l)
		if used+len(entry)+len(asJSON)+1 > maxBytes {
			break
		}
		used += len(entry) + len(asJSON) + 1
		b.WriteString(entry)
		shown++
	}
	if shown < len(lines) {
		fmt.Fprintf(&b, "  ... and %d more accounts\n", len(lines)-shown)
	}
	b.WriteString("\nEach account's own message says what changed, why and what to do.\n\n--- structured data (JSON) ---\n")
	data, _ := json.Marshal(struct {
		RunID           string               `json:"run_id"`
		Totals          map[changes.Kind]int `json:"totals"`
		PrincipalTotals map[changes.Kind]int `json:"principal_totals,omitempty"`
		Accounts        []line               `json:"accounts"`
		Remediation     *Remediation         `json:"remediation,omitempty"`
	}{runID, totals, principalTotals, lines[:shown], rem})
	b.Write(data)
	b.WriteString("\n")
	m.Body = b.String()
	m.Attributes = Attributes("ALL", m.Kinds, m.Severity, m.Regions)
	return m
}

// kindsText is counts as "2 new, 1 resolved" in kindOrder, "none" when
// empty; with total >= 0 it is "TOTAL changes: ..." .
func kindsText(counts map[changes.Kind]int, total int) string {
	var parts []string
	for _, k := range kindOrder {
		if counts[k] > 0 {
			parts = append(parts, countText(k, counts[k]))
		}
	}
	text := strings.Join(parts, ", ")
	if len(parts) == 0 {
		text = "none"
	}
	if total >= 0 {
		return fmt.Sprintf("%s (%s)", plural(total, "change", "changes"), text)
	}
	return text
}

func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		if d == 24*time.Hour {
			return "day"
		}
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}

// RunFailureMessage tells the governance subscribers that a run failed as a
// whole (account discovery, a configuration AWS refused): one message with
// account_id ALL, event_type RUN_FAILED and severity critical.
func RunFailureMessage(runID, reason string) Message {
	m := Message{Account: "ALL", Part: 1, Of: 1, Severity: result.Critical, Kinds: []changes.Kind{changes.RunFailed}}
	m.Subject = result.Clip("[grantwatch] run "+runID+" failed: its results are not the whole organization", maxSubject)
	m.Body = fmt.Sprintf("grantwatch run %s failed as a whole:\n\n  %s\n\n"+
		"The checks it could do are stored and alerted as usual, but accounts it could not reach were not audited: "+
		"a quiet inbox does not mean they are fine. Fix the cause above; the next scheduled run audits everything again.\n",
		runID, oneLine(reason, 4000))
	m.Attributes = Attributes("ALL", m.Kinds, m.Severity, nil)
	return m
}
