package main

// The HTML report: one self-contained file (inline style, no script, no
// fetch), for people who would rather look than read a table.

import (
	"cmp"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/result"
	"github.com/grantwatch/grantwatch/pkg/securityhub"
)

//go:embed report.html.tmpl
var htmlTemplate string

// tone is the colour class of a status: what it asks of a person.
func tone(s result.Status) string {
	switch {
	case s.Usable():
		return "ok"
	case s == result.AuditError:
		return "unknown"
	case result.Severities(nil).Of(s) == result.Critical:
		return "critical"
	}
	return "warning"
}

// toneRank orders tones from best to worst, for a cell's worst status.
var toneRank = map[string]int{"ok": 0, "unknown": 1, "warning": 2, "critical": 3}

// htmlCell is one account and region of the grid: the statuses of its
// account checks and, apart, of its principal results.
type htmlCell struct {
	Tone       string
	Counts     []htmlCount
	Principals []htmlCount
}

type htmlCount struct {
	Status result.Status
	N      int
	Tone   string
}

type htmlRow struct {
	Account string
	Cells   []htmlCell
}

// htmlSection is the results of one status; Checks and Principals count
// its account checks and principal results, as the counts table does.
type htmlSection struct {
	Status             result.Status
	Tone               string
	Checks, Principals int
	// Groups are its checks by model and remediation (problemGroup): each
	// remediation is shown once with the checks it covers.
	Groups []htmlGroup
}

// htmlGroup is one problemGroup of a section: where, the causes, the
// suppression and what to do, each once.
type htmlGroup struct {
	Model       string
	Where       []string
	Causes      []string
	Suppressed  string
	Remediation string
	// Held names the placeholders that stand for each check's own values.
	Held string
}

// Counted is what the heading says: "2 account checks, 1 principal
// result", leaving out a kind with none.
func (s htmlSection) Counted() string {
	var parts []string
	if s.Checks > 0 {
		parts = append(parts, countOf(s.Checks, "account check", "account checks"))
	}
	if s.Principals > 0 {
		parts = append(parts, countOf(s.Principals, "principal result", "principal results"))
	}
	return strings.Join(parts, ", ")
}

func countOf(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// htmlCountRow is one line of the counts table.
type htmlCountRow struct {
	countRow
	Tone string
}

type htmlPage struct {
	Title   string
	Summary string
	Regions []string
	Rows    []htmlRow
	// Counts are a history's status changes per status.
	Counts []htmlCount
	// RunCounts is a run's counts table: account checks and principal
	// results per status, and their totals.
	RunCounts      []htmlCountRow
	WithPrincipals bool
	Sections       []htmlSection
	Timeline       []htmlDay
}

type htmlDay struct {
	Day     string
	Entries []history.Entry
}

var htmlFuncs = template.FuncMap{
	"tone": tone,
	"when": func(t time.Time) string { return t.UTC().Format("15:04Z") },
	"join": strings.Join,
}

// htmlReport writes a run's report: a grid of accounts × regions coloured by
// each cell's worst status with its counts, the counts per status, and a
// table per not-usable status with cause and remediation.
func htmlReport(w io.Writer, rep *result.Report, _ securityhub.Source, _ tableView) error {
	page := htmlPage{Title: "grantwatch run " + rep.Summary.RunID, Summary: summaryLine(rep.Summary)}
	type key struct {
		account, region string
		principal       bool
	}
	cells := map[key]map[result.Status]int{}
	var accounts []string
	for _, r := range rep.Results {
		if !slices.Contains(accounts, r.Account) {
			accounts = append(accounts, r.Account)
		}
		if !slices.Contains(page.Regions, r.Region) {
			page.Regions = append(page.Regions, r.Region)
		}
		k := key{r.Account, r.Region, r.Principal != ""}
		if cells[k] == nil {
			cells[k] = map[result.Status]int{}
		}
		cells[k][r.Status]++
	}
	slices.Sort(accounts)
	slices.Sort(page.Regions)
	for _, a := range accounts {
		row := htmlRow{Account: a}
		for _, region := range page.Regions {
			cell := htmlCell{Tone: "none"}
			for _, principal := range []bool{false, true} {
				for _, s := range result.Statuses {
					n := cells[key{a, region, principal}][s]
					if n == 0 {
						continue
					}
					if principal {
						cell.Principals = append(cell.Principals, htmlCount{s, n, tone(s)})
					} else {
						cell.Counts = append(cell.Counts, htmlCount{s, n, tone(s)})
					}
					if cell.Tone == "none" || toneRank[tone(s)] > toneRank[cell.Tone] {
						cell.Tone = tone(s)
					}
				}
			}
			row.Cells = append(row.Cells, cell)
		}
		page.Rows = append(page.Rows, row)
	}
	page.WithPrincipals = rep.Summary.PrincipalChecks > 0
	for _, c := range countRows(rep.Summary) {
		page.RunCounts = append(page.RunCounts, htmlCountRow{c, tone(c.Status)})
	}
	page.RunCounts[len(page.RunCounts)-1].Tone = "" // the totals
	groups := groupResults(rep.Results, func(r result.Result) bool { return !r.Status.Usable() })
	for _, g := range groups {
		if len(page.Sections) == 0 || page.Sections[len(page.Sections)-1].Status != g.status {
			page.Sections = append(page.Sections, htmlSection{Status: g.status, Tone: tone(g.status)})
		}
		sec := &page.Sections[len(page.Sections)-1]
		for _, c := range g.checks {
			if c.Principal != "" {
				sec.Principals++
			} else {
				sec.Checks++
			}
		}
		hg := htmlGroup{Model: g.model, Where: g.where(), Remediation: g.specialize(g.template)}
		for _, c := range g.causes {
			hg.Causes = append(hg.Causes, g.specialize(c))
		}
		if sp := g.checks[0].SuppressedBy(); sp != nil {
			hg.Suppressed = fmt.Sprintf("suppressed until %s by %s: %s", sp.Until, sp.Owner, sp.Reason)
		}
		hg.Held = g.held(len(g.causes))
		sec.Groups = append(sec.Groups, hg)
	}
	return renderHTML(w, page)
}

// htmlHistory writes an account's history as a timeline of status changes,
// newest day first.
func htmlHistory(w io.Writer, entries []history.Entry, _ bool, _ tableView) error {
	account := ""
	if len(entries) > 0 {
		account = entries[0].Account
	}
	page := htmlPage{Title: "grantwatch history of account " + account,
		Summary: fmt.Sprintf("%d status changes", len(entries))}
	sorted := slices.Clone(entries)
	slices.SortStableFunc(sorted, func(a, b history.Entry) int { return b.At.Compare(a.At) })
	for _, e := range sorted {
		day := e.At.UTC().Format(time.DateOnly)
		if len(page.Timeline) == 0 || page.Timeline[len(page.Timeline)-1].Day != day {
			page.Timeline = append(page.Timeline, htmlDay{Day: day})
		}
		d := &page.Timeline[len(page.Timeline)-1]
		d.Entries = append(d.Entries, e)
	}
	counts := map[result.Status]int{}
	for _, e := range entries {
		counts[e.Status]++
	}
	for _, s := range result.Statuses {
		if counts[s] > 0 {
			page.Counts = append(page.Counts, htmlCount{s, counts[s], tone(s)})
		}
	}
	return renderHTML(w, page)
}

func renderHTML(w io.Writer, page htmlPage) error {
	t, err := template.New("report").Funcs(htmlFuncs).Parse(htmlTemplate)
	if err != nil {
		return fmt.Errorf("html template: %w", err)
	}
	page.Title = cmp.Or(page.Title, "grantwatch")
	return t.Execute(w, page)
}
