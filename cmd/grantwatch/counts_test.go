package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/changes"
	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/notify"
	"github.com/grantwatch/grantwatch/pkg/result"
)

// tally is what one output format says about a run: per status, how many
// account checks and how many principal results, and the totals it states.
type tally struct {
	checks, principals           map[result.Status]int
	checksTotal, principalsTotal int
}

func newTally() tally {
	return tally{checks: map[result.Status]int{}, principals: map[result.Status]int{}}
}

// count adds one result: a principal result or an account check.
func (tl *tally) count(principal bool, status result.Status) {
	if principal {
		tl.principals[status]++
		tl.principalsTotal++
	} else {
		tl.checks[status]++
		tl.checksTotal++
	}
}

// countRow takes one row of a counts table: a status's counts (kept when not
// zero) or, for the row named "total", the totals.
func (tl *tally) countRow(status string, checks, principals int) {
	if status == "total" {
		tl.checksTotal, tl.principalsTotal = checks, principals
		return
	}
	if checks > 0 {
		tl.checks[result.Status(status)] = checks
	}
	if principals > 0 {
		tl.principals[result.Status(status)] = principals
	}
}

func sumOf(counts map[result.Status]int) int {
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

// addsUp reports where t's counts do not add up to the totals it states.
func (t tally) addsUp() []string {
	var bad []string
	if got := sumOf(t.checks); got != t.checksTotal {
		bad = append(bad, fmt.Sprintf("account check counts add up to %d; the stated total is %d", got, t.checksTotal))
	}
	if got := sumOf(t.principals); got != t.principalsTotal {
		bad = append(bad, fmt.Sprintf("principal result counts add up to %d; the stated total is %d", got, t.principalsTotal))
	}
	return bad
}

func (t tally) equal(o tally) bool {
	return maps.Equal(t.checks, o.checks) && maps.Equal(t.principals, o.principals) &&
		t.checksTotal == o.checksTotal && t.principalsTotal == o.principalsTotal
}

func (t tally) String() string {
	return fmt.Sprintf("checks %d %v; principals %d %v", t.checksTotal, t.checks, t.principalsTotal, t.principals)
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("count %q: %v", s, err)
	}
	return n
}

// statusCounts parses "ENABLED=3 IAM_DENIED=1".
func statusCounts(t *testing.T, text string) map[result.Status]int {
	t.Helper()
	counts := map[result.Status]int{}
	for _, f := range strings.Fields(text) {
		st, n, ok := strings.Cut(f, "=")
		if !ok {
			t.Fatalf("count %q: want STATUS=N", f)
		}
		counts[result.Status(st)] += atoi(t, n)
	}
	return counts
}

var (
	summaryChecks     = regexp.MustCompile(`(\d+) of \d+ checks in [\d.]+s; ([A-Z_=\d ]*)`)
	summaryPrincipals = regexp.MustCompile(`; (\d+) principal results: ([A-Z_=\d ]*)`)
	markdownCount     = regexp.MustCompile(`(?m)^\| ([A-Z_]+|total) \| (\d+) \| (\d+) \|$`)
	htmlCountRowRE    = regexp.MustCompile(`<tr>(?:<td><span class="badge \w+">([A-Z_]+)</span></td>|<th>(total)</th>)<td>(\d+)</td><td>(\d+)</td></tr>`)
	htmlSectionRE     = regexp.MustCompile(`<h2><span class="badge \w+">([A-Z_]+)</span> \(([^)]*)\)</h2>`)
	htmlSectionPart   = regexp.MustCompile(`^(\d+) (account checks?|principal results?)$`)
	htmlGridCell      = regexp.MustCompile(`<td class="(?:ok|warning|critical|unknown|none)">(.*?)</td>`)
	htmlBadge         = regexp.MustCompile(`<span class="badge \w+">([A-Z_]+) (\d+)</span>`)
)

// fromSummaryLine reads the counts of a summary line (table, Markdown and
// HTML show it).
func fromSummaryLine(t *testing.T, out string) tally {
	t.Helper()
	got := newTally()
	m := summaryChecks.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary line in:\n%s", out)
	}
	got.checksTotal, got.checks = atoi(t, m[1]), statusCounts(t, m[2])
	if m := summaryPrincipals.FindStringSubmatch(out); m != nil {
		got.principalsTotal, got.principals = atoi(t, m[1]), statusCounts(t, m[2])
	}
	return got
}

// fromTableSummary reads the counts of the table's summary: its
// "account checks (N): ..." and "principal results (N): ..." lines, which
// wrap onto lines indented by four spaces.
func fromTableSummary(t *testing.T, out string) tally {
	t.Helper()
	got := newTally()
	out = strings.ReplaceAll(out, "\n    ", " ")
	m := tableChecks.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no account checks line in:\n%s", out)
	}
	got.checksTotal, got.checks = atoi(t, m[1]), statusCounts(t, m[2])
	if m := tablePrincipals.FindStringSubmatch(out); m != nil {
		got.principalsTotal, got.principals = atoi(t, m[1]), statusCounts(t, m[2])
	}
	return got
}

var (
	tableChecks     = regexp.MustCompile(`(?m)^account checks \((\d+)\): ([A-Z_=\d ]*)`)
	tablePrincipals = regexp.MustCompile(`(?m)^principal results \((\d+)\): ([A-Z_=\d ]*)`)
)

// Every output format of the demo counts account checks and principal
// results apart, each kind adds up to its total, and all formats agree with
// the JSON summary and with the results themselves.
func TestDemoCountsAddUpInEveryFormat(t *testing.T) {
	outputs := map[string]string{}
	for _, format := range []string{"json", "csv", "markdown", "table", "html"} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), []string{"demo", "--output", format}, &stdout, &stderr); code != exitUsable {
			t.Fatalf("demo --output %s: exit code %d; stderr: %s", format, code, &stderr)
		}
		outputs[format] = stdout.String()
	}

	var rep result.Report
	if err := json.Unmarshal([]byte(outputs["json"]), &rep); err != nil {
		t.Fatalf("demo JSON: %v", err)
	}
	s := rep.Summary
	want := tally{checks: s.Counts, principals: s.PrincipalCounts, checksTotal: s.Checked, principalsTotal: s.PrincipalChecks}
	if want.principalsTotal == 0 || want.checksTotal == 0 {
		t.Fatalf("the demo has %d account checks and %d principal results; want some of each", want.checksTotal, want.principalsTotal)
	}
	fromResults := newTally()
	for _, r := range rep.Results {
		fromResults.count(r.Principal != "", r.Status)
	}
	if n := s.NotUsable + s.AuditErrs + s.Suppressed + s.Counts[result.Enabled]; n != s.Checked {
		t.Errorf("json: not_usable + audit_errors + suppressed + ENABLED = %d; want checks_done %d", n, s.Checked)
	}
	if n := s.PrincipalNotUsable + s.PrincipalAuditErrs + s.PrincipalSuppressed + s.PrincipalCounts[result.Enabled]; n != s.PrincipalChecks {
		t.Errorf("json: principal not usable + audit errors + suppressed + ENABLED = %d; want principal_checks %d", n, s.PrincipalChecks)
	}

	fromCSV := newTally()
	rows, err := csv.NewReader(strings.NewReader(outputs["csv"])).ReadAll()
	if err != nil {
		t.Fatalf("demo CSV: %v", err)
	}
	for _, row := range rows[1:] {
		fromCSV.count(row[3] != "", result.Status(row[4]))
	}

	fromMarkdown := newTally()
	for _, m := range markdownCount.FindAllStringSubmatch(outputs["markdown"], -1) {
		fromMarkdown.countRow(m[1], atoi(t, m[2]), atoi(t, m[3]))
	}

	page := outputs["html"]
	fromHTMLTable := newTally()
	for _, m := range htmlCountRowRE.FindAllStringSubmatch(page, -1) {
		// A status row fills group 1, the total row group 2.
		fromHTMLTable.countRow(m[1]+m[2], atoi(t, m[3]), atoi(t, m[4]))
	}
	// The sections show the statuses that are not usable; with the ENABLED
	// counts of the table they make up the totals.
	fromHTMLSections := newTally()
	fromHTMLSections.checksTotal, fromHTMLSections.principalsTotal = s.Checked, s.PrincipalChecks
	fromHTMLSections.checks[result.Enabled], fromHTMLSections.principals[result.Enabled] = fromHTMLTable.checks[result.Enabled], fromHTMLTable.principals[result.Enabled]
	for _, m := range htmlSectionRE.FindAllStringSubmatch(page, -1) {
		for _, part := range strings.Split(m[2], ", ") {
			p := htmlSectionPart.FindStringSubmatch(part)
			if p == nil {
				t.Errorf("html: section %s heading %q: want \"N account checks, M principal results\"", m[1], m[2])
				continue
			}
			if strings.HasPrefix(p[2], "account") {
				fromHTMLSections.checks[result.Status(m[1])] += atoi(t, p[1])
			} else {
				fromHTMLSections.principals[result.Status(m[1])] += atoi(t, p[1])
			}
		}
	}
	maps.DeleteFunc(fromHTMLSections.checks, func(_ result.Status, n int) bool { return n == 0 })
	maps.DeleteFunc(fromHTMLSections.principals, func(_ result.Status, n int) bool { return n == 0 })
	fromHTMLGrid := newTally()
	fromHTMLGrid.checksTotal, fromHTMLGrid.principalsTotal = s.Checked, s.PrincipalChecks
	grid := page[strings.Index(page, `<table class="grid">`):]
	grid = grid[:strings.Index(grid, "</table>")]
	for _, cell := range htmlGridCell.FindAllStringSubmatch(grid, -1) {
		checks, principals, _ := strings.Cut(cell[1], `<div class="principals">`)
		for _, b := range htmlBadge.FindAllStringSubmatch(checks, -1) {
			fromHTMLGrid.checks[result.Status(b[1])] += atoi(t, b[2])
		}
		for _, b := range htmlBadge.FindAllStringSubmatch(principals, -1) {
			fromHTMLGrid.principals[result.Status(b[1])] += atoi(t, b[2])
		}
	}

	for _, f := range []struct {
		name string
		got  tally
	}{
		{"json summary", want},
		{"json results", fromResults},
		{"csv rows", fromCSV},
		{"table summary", fromTableSummary(t, outputs["table"])},
		{"markdown summary line", fromSummaryLine(t, outputs["markdown"])},
		{"markdown counts table", fromMarkdown},
		{"html summary", fromSummaryLine(t, page)},
		{"html counts table", fromHTMLTable},
		{"html section headings", fromHTMLSections},
		{"html grid", fromHTMLGrid},
	} {
		for _, bad := range f.got.addsUp() {
			t.Errorf("%s: %s", f.name, bad)
		}
		if !f.got.equal(want) {
			t.Errorf("%s: got %v; want the JSON summary's %v", f.name, f.got, want)
		}
	}

	// The digest of the alerts of a first run over the demo: alerts on
	// account checks and on principal results are counted apart, and its
	// text, its subject and its JSON agree with the alerts.
	cfg, err := config.Parse(demoConfig)
	if err != nil {
		t.Fatal(err)
	}
	policy := changes.Policy{Grace: cfg.PendingGrace.Std(), Reminder: cfg.Notify.ReminderInterval.Std(), Severity: cfg.Alerts.Severity}
	var alerts []changes.Alert
	onChecks, onPrincipals := map[changes.Kind]int{}, map[changes.Kind]int{}
	for _, u := range changes.Evaluate(nil, rep.Results, time.Now(), policy) {
		if u.Alert == nil {
			continue
		}
		alerts = append(alerts, *u.Alert)
		if u.Alert.Result.Principal == "" {
			onChecks[u.Alert.Kind]++
		} else {
			onPrincipals[u.Alert.Kind]++
		}
	}
	if len(onChecks) == 0 || len(onPrincipals) == 0 {
		t.Fatalf("alerts of the demo: %v on account checks, %v on principals; want some of each", onChecks, onPrincipals)
	}
	checkDigest(t, notify.Digest(rep.Summary.RunID, changes.TallyOf(alerts), nil, notify.MaxBytes), onChecks, onPrincipals)
}

// checkDigest checks that a digest's subject, text and JSON state the
// alerts counted apart, and that its accounts add up to its totals.
func checkDigest(t *testing.T, m notify.Message, onChecks, onPrincipals map[changes.Kind]int) {
	t.Helper()
	checks, principals := 0, 0
	for _, n := range onChecks {
		checks += n
	}
	for _, n := range onPrincipals {
		principals += n
	}
	if want := fmt.Sprintf(": %d changes to checks, %d to principals, in ", checks, principals); !strings.Contains(m.Subject, want) {
		t.Errorf("digest subject %q: want it to say %q", m.Subject, want)
	}
	for _, want := range []string{fmt.Sprintf("account checks: %d changes (", checks), fmt.Sprintf("principal results: %d changes (", principals)} {
		if !strings.Contains(m.Body, want) {
			t.Errorf("digest text: want %q in\n%s", want, m.Body)
		}
	}
	_, data, _ := strings.Cut(m.Body, "--- structured data (JSON) ---\n")
	var got struct {
		Totals          map[changes.Kind]int `json:"totals"`
		PrincipalTotals map[changes.Kind]int `json:"principal_totals"`
		Accounts        []struct {
			Counts          map[changes.Kind]int `json:"counts"`
			PrincipalCounts map[changes.Kind]int `json:"principal_counts"`
		} `json:"accounts"`
	}
	if err := json.Unmarshal([]byte(data), &got); err != nil {
		t.Fatalf("digest JSON: %v", err)
	}
	if !maps.Equal(got.Totals, onChecks) || !maps.Equal(got.PrincipalTotals, onPrincipals) {
		t.Errorf("digest totals: got %v and principal %v; want %v and %v", got.Totals, got.PrincipalTotals, onChecks, onPrincipals)
	}
	sumChecks, sumPrincipals := map[changes.Kind]int{}, map[changes.Kind]int{}
	for _, a := range got.Accounts {
		for k, n := range a.Counts {
			sumChecks[k] += n
		}
		for k, n := range a.PrincipalCounts {
			sumPrincipals[k] += n
		}
	}
	if !maps.Equal(sumChecks, got.Totals) || !maps.Equal(sumPrincipals, got.PrincipalTotals) {
		t.Errorf("digest accounts add up to %v and principal %v; want the totals %v and %v", sumChecks, sumPrincipals, got.Totals, got.PrincipalTotals)
	}
}
