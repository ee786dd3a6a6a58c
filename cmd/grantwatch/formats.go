package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/result"
	"github.com/grantwatch/grantwatch/pkg/securityhub"
)

// outputFormat is one --output value: how run and demo write a report in
// it, and how history writes entries in it (nil: history does not).
type outputFormat struct {
	Name string
	// Report writes a run's report; hub is who would import ASFF findings,
	// view how a table is printed. A writer ignores what it does not need.
	Report func(w io.Writer, rep *result.Report, hub securityhub.Source, view tableView) error
	// History writes history entries, the latest states when latest.
	History func(w io.Writer, entries []history.Entry, latest bool, view tableView) error
}

// outputFormats is the one list of output formats (table the default):
// run and demo write every one, history those with a History writer. The
// flags, the usage texts, the writers and the docs test read it.
var outputFormats = []outputFormat{
	{Name: "table", Report: reportTable, History: historyTable},
	{Name: "json", Report: jsonReport, History: historyJSON},
	{Name: "csv", Report: csvReport, History: historyCSV},
	{Name: "markdown", Report: markdown},
	{Name: "html", Report: htmlReport, History: htmlHistory},
	{Name: "asff", Report: asffReport},
}

// formats are the output formats of run and demo.
var formats = formatNames(false)

// historyFormats are the output formats history writes.
var historyFormats = formatNames(true)

func formatNames(historyOnly bool) []string {
	var names []string
	for _, f := range outputFormats {
		if f.History != nil || !historyOnly {
			names = append(names, f.Name)
		}
	}
	return names
}

// formatNamed is the format called name, or an error listing those in names.
func formatNamed(name string, names []string) (outputFormat, error) {
	for _, f := range outputFormats {
		if f.Name == name && slices.Contains(names, name) {
			return f, nil
		}
	}
	return outputFormat{}, fmt.Errorf("output format %q: want one of %s", name, strings.Join(names, ", "))
}

// writeReport renders rep in format. hub is who would import ASFF findings
// (for --output asff).
func writeReport(w io.Writer, format string, rep *result.Report, hub securityhub.Source) error {
	return writeReportView(w, format, rep, hub, viewFor(w, false))
}

// writeReportView is writeReport with the table printed as view says.
func writeReportView(w io.Writer, format string, rep *result.Report, hub securityhub.Source, view tableView) error {
	f, err := formatNamed(format, formats)
	if err != nil {
		return err
	}
	return f.Report(w, rep, hub, view)
}

// writeEntries writes history entries in format; a table of the latest
// states is a summary and the problems (historyTable).
func writeEntries(w io.Writer, format string, entries []history.Entry, latest bool, view tableView) error {
	f, err := formatNamed(format, historyFormats)
	if err != nil {
		return err
	}
	return f.History(w, entries, latest, view)
}
