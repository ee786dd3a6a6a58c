package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/securityhub"
)

// Every format of the list is one the writers know: run and demo write each,
// history each marked for it; the lists keep the order of outputFormats.
func TestEveryFormatIsWritten(t *testing.T) {
	hub := securityhub.Source{Account: "999999999999", Region: "us-east-1"}
	entries := []history.Entry{{Account: "111111111111", Region: "us-east-1", Model: "m", Status: "ENABLED"}}
	// writeEntries prints the table for a format it has no case for.
	var table bytes.Buffer
	if err := writeEntries(&table, "table", entries, false, tableView{width: defaultWidth}); err != nil {
		t.Fatal(err)
	}
	for _, f := range outputFormats {
		var buf bytes.Buffer
		if err := writeReport(&buf, f.Name, sampleReport(), hub); err != nil {
			t.Errorf("writeReport %s: got %v; want it written", f.Name, err)
		} else if buf.Len() == 0 {
			t.Errorf("writeReport %s: got no output; want the report", f.Name)
		}
		if !f.History {
			continue
		}
		buf.Reset()
		if err := writeEntries(&buf, f.Name, entries, false, tableView{width: defaultWidth}); err != nil {
			t.Errorf("writeEntries %s: got %v; want it written", f.Name, err)
		} else if f.Name != "table" && bytes.Equal(buf.Bytes(), table.Bytes()) {
			t.Errorf("writeEntries %s: got the table; want the format's own output (a case in writeEntries)", f.Name)
		}
	}
	want := []string{"table", "json", "csv", "markdown", "html", "asff"}
	if !slices.Equal(formats, want) {
		t.Errorf("formats: got %v; want %v", formats, want)
	}
	if want := "table|json|csv|html"; strings.Join(historyFormats, "|") != want {
		t.Errorf("historyFormats: got %v; want %s", historyFormats, want)
	}
}
