package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/grantwatch/grantwatch/pkg/changes"
	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/job"
)

// The history line says what a run stored: all, part (a save that failed
// half way has written its first items), or nothing.
func TestHistoryLineSaysWhatWasStored(t *testing.T) {
	partial := &history.PartialSaveError{Written: 950, Total: 1000, Err: errors.New("ProvisionedThroughputExceededException")}
	alerts := make([]changes.Alert, 3)
	tests := []struct {
		name string
		out  job.Outcome
		err  error
		want string
	}{
		{"saved", job.Outcome{Saved: true, Events: 5, Alerts: alerts, Published: 2}, nil,
			"history: 5 changes stored in table t; alerts: 3 found, 2 messages published, 0 alerts held for the next run"},
		{"partly saved, as the run reports it", job.Outcome{Events: 900, Alerts: alerts, Published: 4}, errors.Join(partial, errors.New("release run: timeout")),
			"history: partly stored in table t: 950 of 1000 items written (the 900 changes first, then the latest states) before the save failed; alerts: 3 found, 4 messages published; the run is left for a retry to resume"},
		{"nothing written", job.Outcome{Events: 7}, &history.PartialSaveError{Written: 0, Total: 10, Err: errors.New("AccessDenied")},
			"history: nothing stored in table t (7 changes found); alerts: 0 messages published; the run is left for a retry to resume"},
		{"failed before the save", job.Outcome{Events: 7}, errors.New("read latest: timeout"),
			"history: nothing stored in table t (7 changes found)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := historyLine("t", &tt.out, tt.err); !strings.HasPrefix(got, tt.want) {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}
