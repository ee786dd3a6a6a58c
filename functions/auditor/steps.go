package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/job"
	"github.com/grantwatch/grantwatch/pkg/result"
)

// The steps of a sharded run, as the stack's state machine invokes them
// (infra/statemachine.go builds these payloads):
//
//	{"step": "start", "input": <the schedule's input>, "execution": "<execution ARN>"}
//	{"step": "batch", "run_id": "run-...", "scheduled_time": "...", "batch": 7}
//	{"step": "finish", "run_id": "run-...", "scheduled_time": "...", "execution": "<execution ARN>", "planning": {...}}
type stepEvent struct {
	Step          string          `json:"step"`
	Input         json.RawMessage `json:"input"`
	Execution     string          `json:"execution"`
	RunID         string          `json:"run_id"`
	ScheduledTime string          `json:"scheduled_time"`
	Batch         *int            `json:"batch"`
	Planning      *result.Summary `json:"planning"`
}

// The steps.
const (
	StepStart  = "start"
	StepBatch  = "batch"
	StepFinish = "finish"
)

// batchAccounts reads the batch size the stack sets.
func batchAccounts() (int, error) {
	v := os.Getenv(config.EnvBatchAccounts)
	if v == "" {
		return config.DefaultBatchAccounts, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > config.MaxBatchAccounts {
		return 0, fmt.Errorf("%s: %q: want a number of accounts from 1 to %d", config.EnvBatchAccounts, v, config.MaxBatchAccounts)
	}
	return n, nil
}

// isStep tells a step of a sharded run from a schedule event.
func isStep(payload []byte) bool {
	var probe struct {
		Step *string `json:"step"`
	}
	return json.Unmarshal(bytes.TrimSpace(payload), &probe) == nil && probe.Step != nil
}

// parseStep reads and checks a step's payload; errors name the field.
func parseStep(payload []byte, now time.Time) (*stepEvent, time.Time, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	var e stepEvent
	if err := dec.Decode(&e); err != nil {
		return nil, time.Time{}, fmt.Errorf("step event: %w", err)
	}
	switch e.Step {
	case StepStart:
		if e.Execution == "" {
			return nil, time.Time{}, fmt.Errorf("step event: %q needs \"execution\"", e.Step)
		}
		input := e.Input
		if len(input) == 0 {
			input = json.RawMessage("{}")
		}
		at, _, err := ScheduledAt(input, now)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("step event: \"input\": %w", err)
		}
		return &e, at, nil
	case StepBatch, StepFinish:
		at, err := time.Parse(time.RFC3339, e.ScheduledTime)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("step event: \"scheduled_time\" %q is not an RFC 3339 time", e.ScheduledTime)
		}
		if want := job.RunID(at); e.RunID != want {
			return nil, time.Time{}, fmt.Errorf("step event: \"run_id\" %q is not the run scheduled at %s (%s)", e.RunID, e.ScheduledTime, want)
		}
		if e.Step == StepBatch && (e.Batch == nil || *e.Batch < 0) {
			return nil, time.Time{}, fmt.Errorf("step event: %q needs \"batch\", a batch number from 0", e.Step)
		}
		if e.Step == StepFinish && e.Execution == "" {
			return nil, time.Time{}, fmt.Errorf("step event: %q needs \"execution\"", e.Step)
		}
		if e.Step == StepFinish && e.Planning == nil {
			return nil, time.Time{}, fmt.Errorf("step event: %q needs \"planning\", the start step's summary", e.Step)
		}
		return &e, at, nil
	}
	return nil, time.Time{}, fmt.Errorf("step event: \"step\" %q: want one of %s", e.Step, strings.Join([]string{StepStart, StepBatch, StepFinish}, ", "))
}

// handleStep runs one step of a sharded run and returns what the state
// machine passes on: Started, BatchOutcome or the run's Result.
func (h *Handler) handleStep(ctx context.Context, payload []byte) (any, error) {
	e, at, err := parseStep(payload, h.now())
	if err != nil {
		h.logger.ErrorContext(ctx, "malformed step event", "error", err)
		return nil, err
	}
	switch e.Step {
	case StepStart:
		return h.job.Start(ctx, at, e.Execution, h.batchAccounts)
	case StepBatch:
		return h.job.RunBatch(ctx, e.RunID, at, *e.Batch)
	}
	out, err := h.job.Finish(ctx, e.RunID, at, e.Execution, *e.Planning)
	res := &Result{RunID: out.RunID, Trigger: StateMachine, Claim: out.Claim, Alerts: out.Tally.Total(),
		Published: out.Published, Unpublished: out.Unpublished, Events: out.Events, NotifyError: out.NotifyError,
		// The state's output stays small (ledger: SFN-data-limit): a count
		// and a clipped error, never the actions.
		Remediable: out.Remediable, RemediationError: result.Clip(out.RemediationError, 1000)}
	if out.Stored != nil {
		res.State = string(out.Stored.State)
	}
	if out.Report != nil {
		h.emitMetrics(out, err != nil)
		res.Summary = shortLists(out.Report.Summary)
	}
	if err != nil {
		h.logger.ErrorContext(ctx, "run could not finish", "run_id", out.RunID, "error", err)
	}
	return res, err
}

// maxListed is how many unreached accounts, errors and warnings the Finish
// step's answer lists; the run record keeps them all.
const maxListed = 20

// shortLists keeps the Finish step's answer small whatever the run found: a
// state's output is limited to 256 KB, and States.DataLimitExceeded is a
// terminal error that States.ALL does not catch (Step Functions developer
// guide, "Handling errors in Step Functions workflows"), so thousands of
// unreached accounts would fail the execution after the run was recorded.
// ledger: SFN-data-limit
func shortLists(s result.Summary) *result.Summary {
	clip := func(l []string) []string {
		if len(l) <= maxListed {
			return l
		}
		return append(l[:maxListed:maxListed], fmt.Sprintf("... and %d more (see the run record)", len(l)-maxListed))
	}
	s.Unreached, s.Errors, s.Warnings = clip(s.Unreached), clip(s.Errors), clip(s.Warnings)
	return &s
}
