package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/job"
	"github.com/grantwatch/grantwatch/pkg/remediate"
	"github.com/grantwatch/grantwatch/pkg/result"
)

// Handler runs one scheduled audit per invocation.
type Handler struct {
	job     *job.Job
	logger  *slog.Logger
	now     func() time.Time
	metrics io.Writer
	// batchAccounts is the size of a sharded run's batches.
	batchAccounts int
	// setupErr is why the function could not start; every invocation returns it.
	setupErr error
	// remediation says the configuration has a remediation section: the
	// run's metrics then include Remediable.
	remediation bool
	// stored says the runs are recorded (history.table): Remediable is
	// then emitted only by the invocation that records the run.
	stored bool
}

// Result is what an invocation returns.
type Result struct {
	RunID       string          `json:"run_id"`
	Trigger     Trigger         `json:"trigger"`
	Claim       history.Claim   `json:"claim,omitempty"`
	State       string          `json:"state,omitempty"`
	Summary     *result.Summary `json:"summary,omitempty"`
	Alerts      int             `json:"alerts"`
	Published   int             `json:"published"`
	Unpublished int             `json:"unpublished"`
	Events      int             `json:"history_events"`
	NotifyError string          `json:"notify_error,omitempty"`
	// Remediable counts the remediation actions planned after the run;
	// RemediationError says what of the remediation step failed.
	Remediable       int    `json:"remediable,omitempty"`
	RemediationError string `json:"remediation_error,omitempty"`
}

// FromEnv builds the handler once, outside the handler function: the
// configuration file, the AWS configuration and the clients. If that fails,
// the returned handler reports the failure on every invocation rather than
// crashing the runtime.
func FromEnv(ctx context.Context, logger *slog.Logger) *Handler {
	h := &Handler{logger: logger, now: time.Now, metrics: os.Stdout}
	n, err := batchAccounts()
	if err != nil {
		h.setupErr = err
		logger.Error("environment is invalid", "error", err)
		return h
	}
	h.batchAccounts = n
	beat, err := heartbeatInterval()
	if err != nil {
		h.setupErr = err
		logger.Error("environment is invalid", "error", err)
		return h
	}
	cfg, err := LoadConfig()
	if err != nil {
		h.setupErr = err
		logger.Error("configuration is invalid", "error", err)
		return h
	}
	h.stored = cfg.History.Table != ""
	if r := cfg.Remediation; r != nil {
		h.remediation = true
		// The function's bundle holds only grantwatch.yaml: a form file that
		// is not there leaves the form to grantwatch fix, and the audit and
		// the agreements run as configured.
		if f := r.UseCaseForm; f != nil {
			if err := f.LoadForm(); err != nil {
				logger.Error("the scheduled run does not submit the use-case form; grantwatch fix does", "error", err)
				r.UseCaseForm = nil
			}
		}
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		h.setupErr = fmt.Errorf("load AWS configuration: %w", err)
		logger.Error("AWS configuration failed", "error", h.setupErr)
		return h
	}
	// Lambda retries a crashed attempt about a minute later: the attempt
	// heartbeats so that the retry can take its run over (pkg/job, claim).
	parts, err := job.Build(ctx, cfg, awsCfg, func(o *job.BuildOptions) {
		o.Logger = logger
		o.Job = append(o.Job, job.WithHeartbeat(beat))
		// The scheduled run remediates (or reports what fix would do) only
		// with a remediation section (docs/remediation.md).
		if r := job.NewRemediation(cfg, awsCfg, remediate.WithLogger(logger)); r != nil {
			o.Job = append(o.Job, job.WithRemediation(r))
		}
	})
	if err != nil {
		h.setupErr = err
		logger.Error("job setup failed", "error", err)
		return h
	}
	h.job = parts.Job
	return h
}

// LoadConfig reads the configuration file named by the environment and
// applies the stack's resource names.
func LoadConfig() (*config.Config, error) {
	path := os.Getenv(config.EnvConfig)
	if path == "" {
		path = filepath.Join(os.Getenv("LAMBDA_TASK_ROOT"), "grantwatch.yaml")
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if v := os.Getenv(config.EnvTable); v != "" {
		cfg.History.Table = v
	}
	if v := os.Getenv(config.EnvTopic); v != "" {
		cfg.Notify.TopicARN = v
	}
	if os.Getenv(config.EnvSecurityHub) == "true" {
		cfg.SecurityHub.Enabled = true
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config %s with %s and %s: %w", path, config.EnvTable, config.EnvTopic, err)
	}
	return cfg, nil
}

// heartbeatInterval reads config.EnvHeartbeat.
func heartbeatInterval() (time.Duration, error) {
	v := os.Getenv(config.EnvHeartbeat)
	if v == "" {
		return job.HeartbeatInterval, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 100*time.Millisecond || d > time.Minute {
		return 0, fmt.Errorf("%s: %q: want a duration from 100ms to 1m", config.EnvHeartbeat, v)
	}
	return d, nil
}

// Invoke is the Lambda handler: a step of a sharded run (from the stack's
// state machine) or a schedule event (Handle).
func (h *Handler) Invoke(ctx context.Context, payload json.RawMessage) (any, error) {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		// The attempt's name in the run's lease and the logs; Lambda's
		// retries of one event keep its request id (ledger: LAM-async-retries).
		ctx = job.WithAttempt(ctx, lc.AwsRequestID)
	}
	if h.setupErr == nil && isStep(payload) {
		return h.handleStep(ctx, payload)
	}
	return h.Handle(ctx, payload)
}

// Handle runs the whole run of a schedule event. It stops the audit before the function's
// deadline, leaving time to store and alert, and records such a run as
// INCOMPLETE.
func (h *Handler) Handle(ctx context.Context, payload json.RawMessage) (*Result, error) {
	if h.setupErr != nil {
		return nil, fmt.Errorf("grantwatch cannot run: %w", h.setupErr)
	}
	at, trigger, err := ScheduledAt(payload, h.now())
	if err != nil {
		h.logger.ErrorContext(ctx, "malformed event", "error", err)
		return nil, err
	}
	out, err := h.job.Run(ctx, at)
	res := &Result{RunID: out.RunID, Trigger: trigger, Claim: out.Claim, Alerts: len(out.Alerts),
		Published: out.Published, Unpublished: out.Unpublished, Events: out.Events, NotifyError: out.NotifyError,
		Remediable: out.Remediable, RemediationError: out.RemediationError}
	if out.Stored != nil {
		res.State = string(out.Stored.State)
	}
	if out.Report != nil {
		res.Summary = &out.Report.Summary
		h.emitMetrics(out, err != nil)
	}
	if err != nil {
		h.logger.ErrorContext(ctx, "run failed", "run_id", out.RunID, "error", err)
		return res, err
	}
	return res, nil
}

// emitMetrics writes the run's metrics in CloudWatch Embedded Metric Format:
// Lambda's log stream turns the line into metrics, so the alarms need no
// cloudwatch:PutMetricData permission. One directive with one empty
// dimension set ([[]]: metrics by namespace and name only) and the unit
// Count (ledger: CW-emf-no-dimensions).
func (h *Handler) emitMetrics(out *job.Outcome, failed bool) {
	s := out.Report.Summary
	b2i := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	values := map[string]int{
		config.MetricRunsIncomplete: b2i(s.Incomplete), config.MetricRunsFailed: b2i(failed || s.Failed()), config.MetricDiscoveryFailed: b2i(s.DiscoveryFailed),
		config.MetricAuditErrors: s.AllAuditErrs(), config.MetricNotUsable: s.NotUsable, config.MetricChecksDone: s.Checked,
		config.MetricAlertsPublished: out.Published, config.MetricAlertsUnpublished: out.Unpublished,
		config.MetricRemediable: out.Remediable,
	}
	names := config.Metrics
	// Remediable counts a backlog: with a history table only the
	// invocation that records the run emits it, once per run (a failed
	// attempt at Finish, retried, would count the same backlog again).
	if h.remediation && (out.Saved || !h.stored) {
		names = append(slices.Clip(names), config.MetricRemediable)
	}
	var metrics []map[string]string
	line := map[string]any{}
	for _, name := range names {
		metrics = append(metrics, map[string]string{"Name": name, "Unit": "Count"})
		line[name] = values[name]
	}
	line["run_id"] = out.RunID
	line["_aws"] = map[string]any{
		"Timestamp":         h.now().UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{"Namespace": config.MetricNamespace, "Dimensions": [][]string{{}}, "Metrics": metrics}},
	}
	b, _ := json.Marshal(line)
	fmt.Fprintln(h.metrics, string(b))
}
