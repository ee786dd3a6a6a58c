// Package auditor is the scheduled Lambda function: it reads the schedule
// event, runs the job and returns the run's summary.
package auditor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Trigger names what started a run.
type Trigger string

// The triggers.
const (
	// Rule is an EventBridge scheduled rule ("detail-type": "Scheduled Event").
	Rule Trigger = "eventbridge-rule"
	// Scheduler is EventBridge Scheduler with the stack's input template
	// {"scheduled_time": "<aws.scheduler.scheduled-time>"}.
	Scheduler Trigger = "eventbridge-scheduler"
	// Manual is an invocation by hand: {} or {"scheduled_time": "..."}.
	Manual Trigger = "manual"
)

type event struct {
	Source        *string `json:"source"`
	DetailType    *string `json:"detail-type"`
	Time          *string `json:"time"`
	ScheduledTime *string `json:"scheduled_time"`
	Manual        *bool   `json:"manual"`
}

// ScheduledAt reads an invocation's payload and returns the time the run is
// for. The run id comes from it, so a second delivery of the same event is
// the same run. A manual invocation without a time is for now, to the minute.
func ScheduledAt(payload []byte, now time.Time) (time.Time, Trigger, error) {
	trimmed := bytes.TrimSpace(payload)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return time.Time{}, "", fmt.Errorf("event: want a JSON object, got %q", abbreviate(trimmed))
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &fields); err != nil {
		return time.Time{}, "", fmt.Errorf("event: %w", err)
	}
	var e event
	if err := json.Unmarshal(trimmed, &e); err != nil {
		return time.Time{}, "", fmt.Errorf("event: %w", err)
	}
	switch {
	case e.DetailType != nil:
		if *e.DetailType != "Scheduled Event" || e.Source == nil || *e.Source != "aws.events" {
			return time.Time{}, "", fmt.Errorf("event: detail-type %q from source %q is not an EventBridge scheduled event", *e.DetailType, deref(e.Source))
		}
		if e.Time == nil {
			return time.Time{}, "", errors.New("event: scheduled event has no \"time\"")
		}
		t, err := time.Parse(time.RFC3339, *e.Time)
		if err != nil {
			return time.Time{}, "", fmt.Errorf("event: \"time\" %q is not an RFC 3339 time", *e.Time)
		}
		return t.UTC(), Rule, nil
	case e.ScheduledTime != nil:
		t, err := time.Parse(time.RFC3339, *e.ScheduledTime)
		if err != nil {
			return time.Time{}, "", fmt.Errorf("event: \"scheduled_time\" %q is not an RFC 3339 time", *e.ScheduledTime)
		}
		trigger := Scheduler
		if e.Manual != nil && *e.Manual {
			trigger = Manual
		}
		return t.UTC(), trigger, nil
	case len(fields) == 0 || (len(fields) == 1 && e.Manual != nil):
		return now.UTC().Truncate(time.Minute), Manual, nil
	}
	return time.Time{}, "", fmt.Errorf("event: unrecognized fields %v; want an EventBridge scheduled event, {\"scheduled_time\": \"RFC 3339\"} or {}", keys(fields))
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func keys(m map[string]json.RawMessage) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	return k
}

func abbreviate(b []byte) string {
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}
