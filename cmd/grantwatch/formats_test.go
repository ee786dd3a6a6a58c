package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/securityhub"
)

// Every format of the list is written: run and demo write each, history each
// with a History writer and refuses the others; a name is listed once.
func TestEveryFormatIsWritten(t *testing.T) {
	hub := securityhub.Source{Account: "999999999999", Region: "us-east-1"}
	entries := []history.Entry{{Account: "111111111111", Region: "us-east-1", Model: "m", Status: "ENABLED"}}
	view := tableView{width: defaultWidth}
	seen := map[string]bool{}
	for _, f := range outputFormats {
		if seen[f.Name] {
			t.Errorf("format %s: listed twice; want once", f.Name)
		}
		seen[f.Name] = true
		if f.Report == nil {
			t.Errorf("format %s: no Report writer; want one (run and demo write every format)", f.Name)
			continue
		}
		var buf bytes.Buffer
		if err := writeReport(&buf, f.Name, sampleReport(), hub); err != nil {
			t.Errorf("writeReport %s: got %v; want it written", f.Name, err)
		} else if buf.Len() == 0 {
			t.Errorf("writeReport %s: got no output; want the report", f.Name)
		}
		buf.Reset()
		err := writeEntries(&buf, f.Name, entries, false, view)
		switch {
		case f.History == nil && (err == nil || !strings.Contains(err.Error(), "want one of "+strings.Join(historyFormats, ", "))):
			t.Errorf("writeEntries %s: got %v; want it refused with the history formats", f.Name, err)
		case f.History != nil && err != nil:
			t.Errorf("writeEntries %s: got %v; want it written", f.Name, err)
		case f.History != nil && buf.Len() == 0:
			t.Errorf("writeEntries %s: got no output; want the entries", f.Name)
		}
	}
	if !seen["table"] {
		t.Errorf("formats %v: no table; want it, the default of --output", formats)
	}
}
