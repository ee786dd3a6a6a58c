package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/grantwatch/grantwatch/pkg/result"
)

// Trigger names what started a run.
type Trigger string

// The triggers.
const (
	// Rule is an EventBridge scheduled rule ("detail-type": "Scheduled Event").
	Rule Trigger = "eventbridge-rule"
	// Scheduler is EventBridge Scheduler, with the stack's input template
	// {"scheduled_time": "<aws.scheduler.scheduled-time>"} or, without an
	// input, its default event (source aws.scheduler).
	Scheduler Trigger = "eventbridge-scheduler"
	// Manual is an invocation by hand: {} or {"scheduled_time": "..."}.
	Manual Trigger = "manual"
	// StateMachine is a step of a sharded run (see steps.go).
	StateMachine Trigger = "step-functions"
)

// input is the payload's shape: an EventBridge event (told by its
// detail-type), the stack's scheduler input or a manual invocation.
type input struct {
	DetailType    *string         `json:"detail-type"`
	Time          json.RawMessage `json:"time"`
	ScheduledTime *string         `json:"scheduled_time"`
	Manual        *bool           `json:"manual"`
}

// The window a scheduled time must fall in, around now: a redelivery or a
// manual re-run of the last week is fine; a time far off is a broken event
// (year 9999 would send every reminder at once; year 1 would be stored as a
// check time).
const (
	MaxEventAge  = 7 * 24 * time.Hour
	MaxEventLead = time.Hour
)

// ScheduledAt reads an invocation's payload and returns the time the run is
// for. The run id comes from it, so a second delivery of the same event is
// the same run. A manual invocation without a time is for now, to the minute.
// ledger: SCH-async-target
func ScheduledAt(payload []byte, now time.Time) (time.Time, Trigger, error) {
	at, trigger, field, err := scheduledAt(payload, now)
	if err != nil {
		return time.Time{}, "", err
	}
	switch {
	case at.Before(now.Add(-MaxEventAge)):
		return time.Time{}, "", fmt.Errorf("event: %q %s is more than %s before now (%s); run such an old schedule by hand with a recent time", field, at.Format(time.RFC3339), days(MaxEventAge), now.UTC().Format(time.RFC3339))
	case at.After(now.Add(MaxEventLead)):
		return time.Time{}, "", fmt.Errorf("event: %q %s is more than %s after now (%s); a schedule delivers its events on time", field, at.Format(time.RFC3339), MaxEventLead, now.UTC().Format(time.RFC3339))
	}
	return at, trigger, nil
}

func scheduledAt(payload []byte, now time.Time) (at time.Time, trigger Trigger, field string, err error) {
	trimmed := bytes.TrimSpace(payload)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return time.Time{}, "", "", fmt.Errorf("event: want a JSON object, got %q", abbreviate(trimmed))
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &fields); err != nil {
		return time.Time{}, "", "", fmt.Errorf("event: %w", err)
	}
	var in input
	if err := json.Unmarshal(trimmed, &in); err != nil {
		return time.Time{}, "", "", fmt.Errorf("event: %w", err)
	}
	switch {
	case in.DetailType != nil:
		return scheduledEvent(trimmed, in.Time)
	case in.ScheduledTime != nil:
		t, err := time.Parse(time.RFC3339, *in.ScheduledTime)
		if err != nil {
			return time.Time{}, "", "", fmt.Errorf("event: \"scheduled_time\" %q is not an RFC 3339 time", *in.ScheduledTime)
		}
		trigger := Scheduler
		if in.Manual != nil && *in.Manual {
			trigger = Manual
		}
		return t.UTC(), trigger, "scheduled_time", nil
	case len(fields) == 0 || (len(fields) == 1 && in.Manual != nil):
		return now.UTC().Truncate(time.Minute), Manual, "", nil
	}
	return time.Time{}, "", "", fmt.Errorf("event: unrecognized fields %v; want an EventBridge scheduled event, {\"scheduled_time\": \"RFC 3339\"} or {}", slices.Sorted(maps.Keys(fields)))
}

// scheduledEvent reads an event that EventBridge delivers: a scheduled rule
// sends source aws.events; EventBridge Scheduler, when the schedule has no
// input (a console edit removes it), sends its default event with source
// aws.scheduler and "detail": "{}".
func scheduledEvent(payload []byte, rawTime json.RawMessage) (time.Time, Trigger, string, error) {
	// The time is read first, for an error that names it.
	var when string
	if len(rawTime) == 0 || string(rawTime) == "null" {
		return time.Time{}, "", "", errors.New("event: scheduled event has no \"time\"")
	}
	if err := json.Unmarshal(rawTime, &when); err != nil {
		return time.Time{}, "", "", fmt.Errorf("event: \"time\" %s is not an RFC 3339 time", rawTime)
	}
	if _, err := time.Parse(time.RFC3339, when); err != nil {
		return time.Time{}, "", "", fmt.Errorf("event: \"time\" %q is not an RFC 3339 time", when)
	}
	var e events.EventBridgeEvent
	if err := json.Unmarshal(payload, &e); err != nil {
		return time.Time{}, "", "", fmt.Errorf("event: not an EventBridge event: %w", err)
	}
	if e.DetailType != "Scheduled Event" || (e.Source != "aws.events" && e.Source != "aws.scheduler") {
		return time.Time{}, "", "", fmt.Errorf("event: detail-type %q from source %q is not an EventBridge scheduled event", e.DetailType, e.Source)
	}
	trigger := Rule
	if e.Source == "aws.scheduler" {
		trigger = Scheduler
	}
	return e.Time.UTC(), trigger, "time", nil
}

func days(d time.Duration) string { return fmt.Sprintf("%d days", d/(24*time.Hour)) }

func abbreviate(b []byte) string { return result.Clip(string(b), 80) }
