package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/result"
)

func TestParseStep(t *testing.T) {
	now := time.Date(2026, 11, 27, 6, 5, 0, 0, time.UTC)
	tests := []struct {
		name    string
		payload string
		wantAt  time.Time
		wantErr string
	}{
		{"start with the schedule's input", `{"step":"start","input":{"scheduled_time":"2026-11-27T06:00:00Z"},"execution":"arn:aws:states:us-east-1:999999999999:execution:Runs:1"}`,
			time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC), ""},
		{"start by hand is now, to the minute", `{"step":"start","input":{},"execution":"x"}`, now, ""},
		{"batch", `{"step":"batch","run_id":"run-20261127T060000Z","scheduled_time":"2026-11-27T06:00:00Z","batch":0}`,
			time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC), ""},
		{"finish", `{"step":"finish","run_id":"run-20261127T060000Z","scheduled_time":"2026-11-27T06:00:00Z","execution":"x","planning":{}}`,
			time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC), ""},
		{"unknown step", `{"step":"restart"}`, time.Time{}, `"step" "restart": want one of start, batch, finish`},
		{"unknown field", `{"step":"batch","batches":[1]}`, time.Time{}, `unknown field "batches"`},
		{"start without its execution", `{"step":"start","input":{}}`, time.Time{}, `needs "execution"`},
		{"start with a broken schedule input", `{"step":"start","input":{"scheduled_time":"today"},"execution":"x"}`, time.Time{}, `"input": event: "scheduled_time" "today"`},
		{"batch of another run", `{"step":"batch","run_id":"run-20261126T060000Z","scheduled_time":"2026-11-27T06:00:00Z","batch":0}`,
			time.Time{}, `"run_id" "run-20261126T060000Z" is not the run scheduled at`},
		{"batch without a number", `{"step":"batch","run_id":"run-20261127T060000Z","scheduled_time":"2026-11-27T06:00:00Z"}`,
			time.Time{}, `needs "batch"`},
		{"negative batch", `{"step":"batch","run_id":"run-20261127T060000Z","scheduled_time":"2026-11-27T06:00:00Z","batch":-1}`,
			time.Time{}, `needs "batch"`},
		{"finish without the planning summary", `{"step":"finish","run_id":"run-20261127T060000Z","scheduled_time":"2026-11-27T06:00:00Z","execution":"x"}`,
			time.Time{}, `needs "planning"`},
		{"bad time", `{"step":"finish","run_id":"run-1","scheduled_time":"6 am","execution":"x","planning":{}}`,
			time.Time{}, `"scheduled_time" "6 am" is not an RFC 3339 time`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !isStep([]byte(tt.payload)) {
				t.Fatalf("isStep: got false; want true")
			}
			_, at, err := parseStep([]byte(tt.payload), now)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("got error %v; want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !at.Equal(tt.wantAt) {
				t.Errorf("got %v, %v; want %v", at, err, tt.wantAt)
			}
		})
	}
	if isStep([]byte(`{"scheduled_time":"2026-11-27T06:00:00Z"}`)) {
		t.Errorf("isStep: a schedule event read as a step")
	}
}

func TestBatchAccounts(t *testing.T) {
	tests := []struct {
		name, value string
		want        int
		wantErr     bool
	}{
		{"unset", "", config.DefaultBatchAccounts, false},
		{"set", "25", 25, false},
		{"zero", "0", 0, true},
		{"the stack's maximum", strconv.Itoa(config.MaxBatchAccounts), config.MaxBatchAccounts, false},
		{"above the stack's maximum", strconv.Itoa(config.MaxBatchAccounts + 1), 0, true},
		{"not a number", "fifty", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(config.EnvBatchAccounts, tt.value)
			got, err := batchAccounts()
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("got %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), config.EnvBatchAccounts) {
				t.Errorf("error %q does not name %s", err, config.EnvBatchAccounts)
			}
		})
	}
}

// The Finish step's answer lists a few unreached accounts and says how many
// more there are; the summary it came from keeps them all.
func TestShortLists(t *testing.T) {
	var s result.Summary
	for i := range 5000 {
		s.Unreached = append(s.Unreached, fmt.Sprintf("%012d", i))
	}
	short := shortLists(s)
	if len(short.Unreached) != maxListed+1 || short.Unreached[maxListed] != "... and 4980 more (see the run record)" {
		t.Errorf("unreached: got %d entries ending %q", len(short.Unreached), short.Unreached[len(short.Unreached)-1])
	}
	if len(s.Unreached) != 5000 || s.Unreached[maxListed] != fmt.Sprintf("%012d", maxListed) {
		t.Errorf("the summary itself changed: %d entries, [%d] = %q", len(s.Unreached), maxListed, s.Unreached[maxListed])
	}
}
