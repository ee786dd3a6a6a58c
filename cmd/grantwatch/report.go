package main

// A run's report: a table for people, JSON for programs, CSV for
// spreadsheets or Markdown for tickets and chat.

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/grantwatch/grantwatch/pkg/result"
	"github.com/grantwatch/grantwatch/pkg/securityhub"
)

// asffReport writes the run's Security Hub findings as hub would import them.
func asffReport(w io.Writer, rep *result.Report, hub securityhub.Source, _ tableView) error {
	if hub.Account == "" {
		return fmt.Errorf("asff: no importing account")
	}
	now := rep.Summary.FinishedAt
	if now.IsZero() {
		now = time.Now()
	}
	out, err := securityhub.JSON(hub.Findings(rep, nil, now))
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", out)
	return err
}

// jsonReport writes the report as indented JSON.
func jsonReport(w io.Writer, rep *result.Report, _ securityhub.Source, _ tableView) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// reportTable writes a run's table: by default its summary and its
// problems, grouped (problemsTable); with view.all every check first.
func reportTable(w io.Writer, rep *result.Report, _ securityhub.Source, view tableView) error {
	if view.all {
		if err := allChecksTable(w, rep.Results, view.width); err != nil {
			return err
		}
		if _, err := fmt.Fprintln(w); err != nil {
			return err
		}
	}
	return problemsTable(w, view.width, summaryLines(rep.Summary), rep.Results)
}

// allChecksTable is every check in one row, the cause and then the model
// cut to fit width.
func allChecksTable(w io.Writer, results []result.Result, width int) error {
	// The PRINCIPAL column only when principals were evaluated.
	principals := slices.ContainsFunc(results, func(r result.Result) bool { return r.Principal != "" })
	rows := [][]string{{"ACCOUNT", "REGION", "MODEL", "STATUS", "CAUSE"}}
	if principals {
		rows[0] = []string{"ACCOUNT", "REGION", "MODEL", "PRINCIPAL", "STATUS", "CAUSE"}
	}
	for _, r := range results {
		status := string(r.Status)
		if r.SuppressedBy() != nil {
			status += " (suppressed)"
		}
		if principals {
			rows = append(rows, []string{r.Account, r.Region, r.Model, cmp.Or(r.Principal, "(account)"), status, r.Cause})
			continue
		}
		rows = append(rows, []string{r.Account, r.Region, r.Model, status, r.Cause})
	}
	return writeColumns(w, rows, width, len(rows[0])-1, 2)
}

func cutNote(width int) string {
	return fmt.Sprintf("(lines cut to %d columns; --output json or csv has the full text)", width)
}

// summaryLines are a run's summary in the table: what was checked, then
// the account checks and the principal results, each with its counts.
func summaryLines(s result.Summary) []string {
	lines := []string{fmt.Sprintf("run %s: %d accounts, %d regions, %d of %d checks in %.1fs",
		s.RunID, s.Accounts, s.Regions, s.Checked, s.Planned, float64(s.DurationMS)/1000)}
	line := fmt.Sprintf("account checks (%d): %s", s.Checked, countsText(s.Counts))
	if s.Suppressed > 0 {
		line += fmt.Sprintf("; %d suppressed", s.Suppressed)
	}
	lines = append(lines, line)
	if s.PrincipalChecks > 0 {
		line := fmt.Sprintf("principal results (%d): %s", s.PrincipalChecks, countsText(s.PrincipalCounts))
		if s.PrincipalSuppressed > 0 {
			line += fmt.Sprintf("; %d suppressed", s.PrincipalSuppressed)
		}
		lines = append(lines, line)
	}
	if s.Incomplete {
		lines = append(lines, "INCOMPLETE (deadline reached)")
	}
	for _, w := range s.Warnings {
		lines = append(lines, "warning: "+w)
	}
	for _, e := range s.Errors {
		lines = append(lines, "error: "+e)
	}
	return lines
}

// summaryLine is a one-line summary of a run: the account checks and their
// counts, then the principal results and theirs, each adding up to its total.
func summaryLine(s result.Summary) string {
	line := fmt.Sprintf("run %s: %d accounts, %d regions, %d of %d checks in %.1fs; %s",
		s.RunID, s.Accounts, s.Regions, s.Checked, s.Planned, float64(s.DurationMS)/1000, countsText(s.Counts))
	if s.Suppressed > 0 {
		line += fmt.Sprintf("; %d suppressed", s.Suppressed)
	}
	if s.PrincipalChecks > 0 {
		line += fmt.Sprintf("; %d principal results: %s", s.PrincipalChecks, countsText(s.PrincipalCounts))
		if s.PrincipalSuppressed > 0 {
			line += fmt.Sprintf(" (%d suppressed)", s.PrincipalSuppressed)
		}
	}
	if s.Incomplete {
		line += "; INCOMPLETE (deadline reached)"
	}
	for _, w := range s.Warnings {
		line += "; warning: " + w
	}
	for _, e := range s.Errors {
		line += "; error: " + e
	}
	return line
}

// countsText is counts as STATUS=N in the order of result.Statuses.
func countsText(counts map[result.Status]int) string {
	var parts []string
	for _, st := range result.Statuses {
		if n := counts[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", st, n))
		}
	}
	return strings.Join(parts, " ")
}

// countRow is one status's line of a counts table: its account checks and
// its principal results.
type countRow struct {
	Status     result.Status
	Checks     int
	Principals int
}

// countRows are the statuses a run saw, account checks and principal
// results side by side, and last the totals (Status "total"): what the
// Markdown and HTML counts tables show.
func countRows(s result.Summary) []countRow {
	var rows []countRow
	for _, st := range result.Statuses {
		if s.Counts[st] > 0 || s.PrincipalCounts[st] > 0 {
			rows = append(rows, countRow{st, s.Counts[st], s.PrincipalCounts[st]})
		}
	}
	return append(rows, countRow{"total", s.Checked, s.PrincipalChecks})
}

// suppressedText is a suppression in one cell: "until DATE, OWNER: REASON".
func suppressedText(r result.Result) string {
	sp := r.SuppressedBy()
	if sp == nil {
		return ""
	}
	return fmt.Sprintf("until %s, %s: %s", sp.Until, sp.Owner, sp.Reason)
}

// where names a check: account/region/model, and " as ROLE" for a principal's.
func where(r result.Result) string {
	s := r.Account + "/" + r.Region + "/" + r.Model
	if r.Principal != "" {
		s += " as " + r.Principal
	}
	return s
}

func csvReport(w io.Writer, rep *result.Report, _ securityhub.Source, _ tableView) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"account", "region", "model", "principal", "status", "cause", "remediation", "destination_regions", "suppressed"})
	for _, r := range rep.Results {
		_ = cw.Write([]string{r.Account, r.Region, r.Model, r.Principal, string(r.Status), r.Cause, r.Remediation, strings.Join(r.Destinations(), " "), suppressedText(r)})
	}
	cw.Flush()
	return cw.Error()
}

func markdown(w io.Writer, rep *result.Report, _ securityhub.Source, _ tableView) error {
	s := rep.Summary
	fmt.Fprintf(w, "## grantwatch run %s\n\n%s\n\n", cell(s.RunID), cell(summaryLine(s)))
	if s.PrincipalChecks > 0 {
		fmt.Fprintln(w, "| status | account checks | principal results |\n|---|---|---|")
	} else {
		fmt.Fprintln(w, "| status | account checks |\n|---|---|")
	}
	for _, c := range countRows(s) {
		if s.PrincipalChecks > 0 {
			fmt.Fprintf(w, "| %s | %d | %d |\n", c.Status, c.Checks, c.Principals)
			continue
		}
		fmt.Fprintf(w, "| %s | %d |\n", c.Status, c.Checks)
	}
	var rows []result.Result
	for _, r := range rep.Results {
		if !r.Status.Usable() {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "\nEvery required model is usable.")
		return err
	}
	fmt.Fprintln(w, "\n### Not usable\n\n| account | region | model | principal | status | cause | what to do |\n|---|---|---|---|---|---|---|")
	for _, r := range rows {
		status := string(r.Status)
		if sp := suppressedText(r); sp != "" {
			status += " (suppressed " + sp + ")"
		}
		fmt.Fprintf(w, "| %s | %s | `%s` | %s | %s | %s | %s |\n", cell(r.Account), cell(r.Region), code(r.Model), cell(r.Principal), cell(status), cell(r.Cause), cell(r.Remediation))
	}
	return nil
}

// cell keeps a text inside its Markdown table cell, as text: HTML (a
// cause quoting AWS may hold "<script>") becomes entities, and link brackets
// are escaped, so that nothing a cause says renders as markup.
func cell(s string) string { return cellText.Replace(s) }

var cellText = strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ", "&", "&amp;", "<", "&lt;", ">", "&gt;", "[", `\[`, "]", `\]`)

// code keeps a text inside a Markdown code span in a table cell: entities
// do not apply there, so a backquote, which would end the span, is replaced.
func code(s string) string {
	return strings.NewReplacer("`", "'", "|", `\|`, "\n", " ", "\r", " ").Replace(s)
}
