// Package job is one scheduled run from end to end: claim the run, audit,
// compare with the stored state, alert on changes, store the results.
//
//	schedule event -> targets -> checks -> results -> history store and notifications
package job

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/grantwatch/grantwatch/pkg/audit"
	"github.com/grantwatch/grantwatch/pkg/changes"
	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/notify"
)

// Job runs audits with history and alerts.
type Job struct {
	cfg      *config.Config
	auditor  *audit.Auditor
	store    *history.Store
	notifier *notify.Notifier
	logger   *slog.Logger
	now      func() time.Time
	lease    time.Duration
}

// Option changes a Job.
type Option func(*Job)

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(j *Job) { j.logger = l } }

// WithClock replaces time.Now.
func WithClock(now func() time.Time) Option { return func(j *Job) { j.now = now } }

// WithLease sets how long a run is held before another invocation may resume it.
func WithLease(d time.Duration) Option { return func(j *Job) { j.lease = d } }

// New builds a Job. store may be nil (no history, no alerts); notifier may be
// nil (history without alerts).
func New(cfg *config.Config, auditor *audit.Auditor, store *history.Store, notifier *notify.Notifier, opts ...Option) *Job {
	j := &Job{cfg: cfg, auditor: auditor, store: store, notifier: notifier,
		logger: slog.New(slog.DiscardHandler), now: time.Now, lease: 20 * time.Minute}
	for _, o := range opts {
		o(j)
	}
	return j
}

// Destinations builds the history store and the notifier a configuration
// names (nil for those it does not). SNS is called in the topic's own region,
// whatever the default region is.
func Destinations(cfg *config.Config, awsCfg aws.Config) (*history.Store, *notify.Notifier) {
	var store *history.Store
	var notifier *notify.Notifier
	if cfg.History.Table != "" {
		store = history.New(dynamodb.NewFromConfig(awsCfg), cfg.History.Table, cfg.History.Retention.Std())
	}
	if arn := cfg.Notify.TopicARN; arn != "" {
		region := strings.Split(arn, ":")[3] // validated as an ARN by config
		client := sns.NewFromConfig(awsCfg, func(o *sns.Options) { o.Region = region })
		notifier = notify.New(client, arn, cfg.Notify.ReminderInterval.Std())
	}
	return store, notifier
}

// RunID is the id of the run scheduled at t: a second delivery of the same
// schedule event gets the same id.
func RunID(t time.Time) string { return "run-" + t.UTC().Format("20060102T150405Z") }

// Outcome is what one Run did.
type Outcome struct {
	RunID string        `json:"run_id"`
	Claim history.Claim `json:"claim,omitempty"`
	// Report is nil when the run was not audited (a duplicate delivery).
	Report *audit.Report `json:"report,omitempty"`
	// Stored is the run's record: for a duplicate, the one found.
	Stored    *history.Run    `json:"stored,omitempty"`
	Alerts    []changes.Alert `json:"alerts,omitempty"`
	Published int             `json:"published"`
	Events    int             `json:"history_events"`
	// NotifyError is set when some alerts could not be published; they will
	// be sent by the next run.
	NotifyError string `json:"notify_error,omitempty"`
}

// Run audits the run scheduled at scheduledAt. Without a store it only
// audits. With one, a run already finished or in progress elsewhere is not
// audited again. It returns an error only when the history cannot be
// written; the run is then recorded FAILED where possible.
func (j *Job) Run(ctx context.Context, scheduledAt time.Time) (*Outcome, error) {
	scheduledAt = scheduledAt.UTC().Truncate(time.Second)
	out := &Outcome{RunID: RunID(scheduledAt)}
	log := j.logger.With("run_id", out.RunID)
	if j.store == nil {
		out.Report = j.auditor.Run(ctx, out.RunID)
		return out, nil
	}

	now := j.now()
	if n, err := j.store.FailStaleRuns(ctx, now.Add(-7*24*time.Hour), now); err != nil {
		log.WarnContext(ctx, "could not sweep stale runs", "error", err)
	} else if n > 0 {
		log.WarnContext(ctx, "marked runs that never finished as FAILED", "runs", n)
	}
	claim, run, err := j.store.BeginRun(ctx, out.RunID, scheduledAt, now, j.lease)
	if err != nil {
		return out, err // the store names the run and what failed
	}
	out.Claim, out.Stored = claim, run
	if claim == history.Done || claim == history.Busy {
		log.InfoContext(ctx, "run already handled; nothing to do", "claim", claim, "state", run.State)
		return out, nil
	}
	log.InfoContext(ctx, "run claimed", "claim", claim, "attempt", run.Attempts)

	auditCtx, cancel := withReserve(ctx)
	defer cancel()
	rep := j.auditor.Run(auditCtx, out.RunID)
	out.Report = rep

	if err := j.record(ctx, out, scheduledAt); err != nil {
		if ferr := j.store.FinishRun(ctx, run, history.Failed, &rep.Summary, err.Error(), j.now()); ferr != nil {
			err = errors.Join(err, ferr)
		}
		log.ErrorContext(ctx, "run failed", "error", err)
		return out, err
	}
	state := history.Complete
	if rep.Summary.Incomplete {
		state = history.Incomplete
	}
	if err := j.store.FinishRun(ctx, run, state, &rep.Summary, out.NotifyError, j.now()); err != nil {
		return out, err
	}
	log.InfoContext(ctx, "run finished", "state", state, "alerts", len(out.Alerts), "published", out.Published, "history_events", out.Events)
	return out, nil
}

// record compares, alerts and stores. Alert bookkeeping advances only for the
// accounts whose messages were published, so an SNS outage delays alerts to
// the next run instead of losing them.
func (j *Job) record(ctx context.Context, out *Outcome, at time.Time) error {
	rep := out.Report
	var ars []history.AccountRegion
	for _, r := range rep.Results {
		ar := history.AccountRegion{Account: r.Account, Region: r.Region}
		if len(ars) == 0 || ars[len(ars)-1] != ar { // results are sorted
			ars = append(ars, ar)
		}
	}
	prev, err := j.store.Latest(ctx, ars)
	if err != nil {
		return err
	}
	policy := changes.Policy{Grace: j.cfg.PendingGrace.Std(), Reminder: j.cfg.Notify.ReminderInterval.Std()}
	updates := changes.Evaluate(prev.States, rep.Results, at, policy)
	var events []changes.Event
	for _, u := range updates {
		if u.Alert != nil {
			out.Alerts = append(out.Alerts, *u.Alert)
		}
		if u.Event != nil {
			events = append(events, *u.Event)
		}
	}
	out.Events = len(events)

	delivered := func(string) bool { return true } // no topic: nobody to tell
	if j.notifier != nil && len(out.Alerts) > 0 {
		sent := j.notifier.Send(ctx, out.RunID, out.Alerts)
		out.Published = sent.Published
		delivered = func(account string) bool { return sent.Delivered[account] }
		if sent.Err != nil {
			out.NotifyError = sent.Err.Error()
			j.logger.ErrorContext(ctx, "some alerts were not published; the next run sends them", "run_id", out.RunID, "error", sent.Err)
		}
	}

	states := make(map[changes.Key]changes.State, len(updates))
	for _, u := range updates {
		if u.Alert == nil || delivered(u.Key.Account) {
			states[u.Key] = u.Next
		} else {
			states[u.Key] = u.Undelivered
		}
	}
	if rep.Summary.Incomplete {
		// Keep what this run did not get to check in the account-regions it rewrites.
		for k, st := range prev.States {
			if _, ok := states[k]; !ok {
				states[k] = st
			}
		}
	}
	return j.store.Save(ctx, out.RunID, at, prev, states, events)
}

// withReserve leaves part of ctx's time for storing and alerting: the audit
// gets the rest, so that it ends incomplete rather than the run ending
// unrecorded. It reserves a fifth of the time left, between 5 s and 60 s.
func withReserve(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	left := time.Until(deadline)
	reserve := min(max(left/5, 5*time.Second), 60*time.Second)
	return context.WithDeadline(ctx, deadline.Add(-reserve))
}
