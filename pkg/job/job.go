// Package job is one scheduled run from end to end: claim the run, audit,
// compare with the stored state, alert on changes, store the results.
//
//	schedule event -> targets -> checks -> results -> history store and notifications
package job

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/grantwatch/grantwatch/pkg/changes"
	"github.com/grantwatch/grantwatch/pkg/check"
	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/notify"
	"github.com/grantwatch/grantwatch/pkg/remediate"
	"github.com/grantwatch/grantwatch/pkg/result"
	"github.com/grantwatch/grantwatch/pkg/securityhub"
	"github.com/grantwatch/grantwatch/pkg/targets"
)

// Job runs audits with history and alerts.
type Job struct {
	cfg      *config.Config
	planner  *targets.Planner
	checker  *check.Checker
	store    *history.Store
	notifier *notify.Notifier
	logger   *slog.Logger
	now      func() time.Time
	lease    time.Duration
	// saveBudget is the time kept after the audit for storing and alerting.
	saveBudget func(accountRegions int) time.Duration
	hub        *Hub
	// beat is how often a run's attempt heartbeats; zero for none.
	beat time.Duration
	// poll is how often a sharded run's Finish looks again at what another
	// invocation holds (finishPoll; tests shorten it).
	poll time.Duration
	// remediation, when set, runs after the audit, before the digest
	// (remediation.go).
	remediation *Remediation
}

// Hub is where the run's Security Hub findings go.
type Hub struct {
	API    securityhub.API
	Source securityhub.Source
}

// WithSecurityHub sends findings to Security Hub after each stored run.
func WithSecurityHub(h *Hub) Option { return func(j *Job) { j.hub = h } }

// Option changes a Job.
type Option func(*Job)

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(j *Job) { j.logger = l } }

// WithClock replaces time.Now.
func WithClock(now func() time.Time) Option { return func(j *Job) { j.now = now } }

// WithSaveBudget replaces SaveBudget, the time kept after the audit for
// storing and alerting.
func WithSaveBudget(f func(accountRegions int) time.Duration) Option {
	return func(j *Job) { j.saveBudget = f }
}

// WithLease sets how long a run is held before another invocation may resume it.
func WithLease(d time.Duration) Option { return func(j *Job) { j.lease = d } }

// HeartbeatInterval is how often the Lambda function's attempt at a run
// says it is still at work. An attempt silent for StaleBeats intervals is
// gone (crashed, killed, out of memory; ledger: LAM-async-retries), and a
// retry takes its run over although its lease has not run out. Each beat is
// one small UpdateItem of the run record: a 15-minute run makes 180.
const (
	HeartbeatInterval = 5 * time.Second
	StaleBeats        = 6
)

// WithHeartbeat makes Run's attempts heartbeat every interval, and a
// delivery that finds the run held by a silent attempt take it over
// (history.BeginAttempt). The command line does not heartbeat: nothing
// retries it.
func WithHeartbeat(interval time.Duration) Option { return func(j *Job) { j.beat = interval } }

type attemptKey struct{}

// WithAttempt names the attempt that ctx runs (the Lambda request id), for
// the run's lease and the logs.
func WithAttempt(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, attemptKey{}, id)
}

func attemptOf(ctx context.Context) string {
	id, _ := ctx.Value(attemptKey{}).(string)
	return id
}

// New builds a Job: the planner finds the targets, the checker checks them,
// the store records the results and the notifier alerts on changes. store may
// be nil (no history, no alerts); notifier may be nil (history without alerts).
func New(cfg *config.Config, planner *targets.Planner, checker *check.Checker, store *history.Store, notifier *notify.Notifier, opts ...Option) *Job {
	j := &Job{cfg: cfg, planner: planner, checker: checker, store: store, notifier: notifier,
		logger: slog.New(slog.DiscardHandler), now: time.Now, lease: 20 * time.Minute, saveBudget: SaveBudget, poll: finishPoll}
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
	if cfg.History.Table != "" {
		// Each HTTP attempt is bounded, so a DynamoDB endpoint that hangs
		// costs the SDK's retries, not the whole save budget.
		client := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
			o.HTTPClient = awshttp.NewBuildableClient().WithTimeout(CallTimeout)
		})
		store = history.New(client, cfg.History.Table, cfg.History.Retention.Std())
	}
	return store, NewNotifier(cfg, awsCfg)
}

// NewNotifier is the notifier of cfg's notify section, or nil without a
// topic: SNS is called in the topic's own region, each Publish bounded by
// CallTimeout, with chat formatting when notify.chat is set.
func NewNotifier(cfg *config.Config, awsCfg aws.Config) *notify.Notifier {
	topic, err := arn.Parse(cfg.Notify.TopicARN) // validated by config when set
	if err != nil {
		return nil
	}
	client := sns.NewFromConfig(awsCfg, func(o *sns.Options) { o.Region = topic.Region })
	opts := []notify.Option{notify.WithCallTimeout(CallTimeout)}
	if cfg.Notify.Chat {
		opts = append(opts, notify.WithChat())
	}
	return notify.New(client, cfg.Notify.TopicARN, cfg.Notify.ReminderInterval.Std(), opts...)
}

// CallTimeout bounds one DynamoDB request attempt and one SNS Publish.
const CallTimeout = 10 * time.Second

// RunID is the id of the run scheduled at t: a second delivery of the same
// schedule event gets the same id.
func RunID(t time.Time) string { return "run-" + t.UTC().Format("20060102T150405Z") }

// Outcome is what one Run did.
type Outcome struct {
	RunID string        `json:"run_id"`
	Claim history.Claim `json:"claim,omitempty"`
	// Report is nil when the run was not audited (a duplicate delivery).
	Report *result.Report `json:"report,omitempty"`
	// Stored is the run's record: for a duplicate, the one found.
	Stored    *history.Run    `json:"stored,omitempty"`
	Alerts    []changes.Alert `json:"alerts,omitempty"`
	Published int             `json:"published"`
	// Unpublished counts alerts that could not be published; the next run
	// sends them.
	Unpublished int `json:"unpublished"`
	// Events is how many history events the run produced; Saved says whether
	// they and the latest state were written.
	Events int  `json:"history_events"`
	Saved  bool `json:"saved"`
	// NotifyError is set when some alerts could not be published; they will
	// be sent by the next run.
	NotifyError string `json:"notify_error,omitempty"`
	// FindingsImported counts the Security Hub findings imported (archived
	// ones included); SecurityHubError says what failed, if anything.
	FindingsImported int    `json:"findings_imported,omitempty"`
	SecurityHubError string `json:"security_hub_error,omitempty"`
	// Remediation are the actions the remediation step planned (or, with
	// remediation.auto, carried out); Remediable counts those planned;
	// RemediationError says what of the step failed.
	Remediation      []remediate.Action `json:"remediation,omitempty"`
	Remediable       int                `json:"remediable,omitempty"`
	RemediationError string             `json:"remediation_error,omitempty"`
	// Tally counts the alerts of a part of a run, for the run's digest; a
	// sharded run's Finish, those of the whole run.
	Tally changes.Tally `json:"-"`

	// sent, for a part of a sharded run, is what earlier attempts at the
	// part sent, and where record notes what it sends.
	sent *sentLog
	// digestNote is the remediation step's line for the run's digest;
	// remediatedBy, the principal that applied its actions.
	digestNote   *notify.Remediation
	remediatedBy string
}

// sentLog is what the attempts at one part of a sharded run (a batch) have
// sent: for each account, the fingerprint of the alerts its message
// carried. record notes what it sent before it writes the history, so that
// a retry after a failure in between sends only what was not sent.
type sentLog struct {
	before map[string]string
	note   func(ctx context.Context, sent map[string]string) error
}

// fingerprints sums up each account's alerts in a fingerprint of what
// they say (kind, check, status; not the cause, whose text may carry a
// request id): a retry that finds the same alerts for an account knows
// its message went out.
func fingerprints(alerts []changes.Alert) map[string]string {
	lines := map[string][]string{}
	for _, a := range alerts {
		r := a.Result
		lines[r.Account] = append(lines[r.Account], strings.Join([]string{string(a.Kind), r.Region, r.Model, r.Principal,
			string(r.Status), string(a.Previous), string(a.Severity)}, "|"))
	}
	fps := make(map[string]string, len(lines))
	for account, l := range lines {
		slices.Sort(l)
		sum := sha256.Sum256([]byte(strings.Join(l, "\n")))
		fps[account] = hex.EncodeToString(sum[:8])
	}
	return fps
}

// unreachedLastTime returns the accounts the latest earlier run (of the
// last 8 days) did not reach. Failing to read it costs only the order.
func (j *Job) unreachedLastTime(ctx context.Context, runID string, scheduledAt time.Time) []string {
	runs, err := j.store.Runs(ctx, scheduledAt.Add(-8*24*time.Hour), scheduledAt)
	if err != nil {
		j.logger.WarnContext(ctx, "could not read the last run; the account order is the plain rotation", "run_id", runID, "error", err)
		return nil
	}
	var last *history.Run
	for i := range runs {
		r := &runs[i]
		if r.ID != runID && r.Summary != nil && (last == nil || r.ScheduledAt > last.ScheduledAt) {
			last = r
		}
	}
	if last == nil {
		return nil
	}
	return last.Summary.Unreached
}

// leaseSlack is how long past the function's deadline a lease lasts: the
// clock of whoever reads it may run a little ahead.
const leaseSlack = 10 * time.Second

// Run audits the run scheduled at scheduledAt. Without a store it only
// audits. With one, a run already finished or in progress elsewhere is not
// audited again, and a run whose invocation died is resumed by the next
// delivery of its event (Lambda's asynchronous retries).
//
// Storing and alerting happen on a context that survives ctx's end (Ctrl-C,
// the audit's deadline), bounded by a budget that grows with the number of
// account-regions. Run returns an error when the history cannot be written;
// the run is then left for a retry to resume, or recorded FAILED after
// history.MaxAttempts.
func (j *Job) Run(ctx context.Context, scheduledAt time.Time) (*Outcome, error) {
	scheduledAt = scheduledAt.UTC().Truncate(time.Second)
	out := &Outcome{RunID: RunID(scheduledAt)}
	log := j.logger.With("run_id", out.RunID)
	if j.store == nil {
		plan := j.planner.Plan(ctx, out.RunID)
		auditCtx, cancel := withReserve(ctx, j.remediationReserve())
		out.Report = j.checker.Check(auditCtx, plan)
		cancel()
		if j.remediation != nil {
			j.remediate(ctx, out, j.remediation.Remediator.Candidates(out.Report, plan.Units), leftOut{}, 0)
			j.noteFindings(ctx, out, 0)
		}
		return out, nil
	}

	now := j.now()
	claim, run, err := j.claim(ctx, log, out.RunID, scheduledAt, now)
	if err != nil {
		return out, err // the store names the run and what failed
	}
	out.Claim, out.Stored = claim, run
	if claim == history.Done || claim == history.Busy {
		log.InfoContext(ctx, "run already handled; nothing to do", "claim", claim, "state", run.State)
		return out, nil
	}
	log.InfoContext(ctx, "run claimed", "claim", claim, "attempt", run.Attempts, "request_id", attemptOf(ctx))
	lost, stopBeats := j.heartbeat(ctx, log, run)
	defer func() { _ = stopBeats() }()
	plan := j.plan(ctx, log, out.RunID, scheduledAt, now)
	budget := j.saveBudget(plan.AccountRegions())
	auditCtx, cancel := withReserve(ctx, budget+j.remediationReserve())
	stop := context.AfterFunc(lost, cancel) // taken over: stop auditing
	rep := j.checker.Check(auditCtx, plan)
	stop()
	cancel()
	out.Report = rep
	if j.remediation != nil {
		// Before the digest, which says what was done (or would be); a
		// retry of this run audits again and finds the agreements made.
		remCtx, cancel := context.WithCancel(ctx)
		stop := context.AfterFunc(lost, cancel) // taken over: stop remediating
		j.remediate(remCtx, out, j.remediation.Remediator.Candidates(rep, plan.Units), leftOut{}, budget)
		stop()
		cancel()
	}

	saveCtx, cancel := saveContext(ctx, budget)
	defer cancel()
	unwatch := context.AfterFunc(lost, cancel) // taken over: stop storing and alerting
	err = j.record(saveCtx, out, scheduledAt, wholeRun)
	unwatch()
	if cause := stopBeats(); cause != nil {
		// Another attempt holds the run: it stores and finishes it.
		log.ErrorContext(ctx, "run taken over by another attempt; this one stops", "error", cause)
		return out, fmt.Errorf("run %s: %w", out.RunID, cause)
	}
	if err != nil {
		if run.Attempts < history.MaxAttempts {
			if rerr := j.store.ReleaseRun(saveCtx, run, err.Error(), j.now()); rerr != nil {
				err = errors.Join(err, rerr)
			}
		} else if ferr := j.store.FinishRun(saveCtx, run, history.Failed, &rep.Summary, err.Error(), j.now()); ferr != nil {
			err = errors.Join(err, ferr)
		}
		log.ErrorContext(ctx, "run could not store its results", "attempt", run.Attempts, "error", err)
		return out, err
	}
	state, why := history.Complete, out.NotifyError
	switch s := rep.Summary; {
	case s.Failed():
		state, why = history.Failed, failure(s)
	case s.Incomplete:
		state = history.Incomplete
	}
	if err := j.store.FinishRun(saveCtx, run, state, &rep.Summary, why, j.now()); err != nil {
		return out, err
	}
	j.noteFindings(saveCtx, out, 0)
	log.InfoContext(ctx, "run finished", "state", state, "alerts", len(out.Alerts), "published", out.Published,
		"unpublished", out.Unpublished, "history_events", out.Events)
	return out, nil
}

// claim claims the run for this attempt. With heartbeats, a run found held
// by another attempt is watched: while its heartbeats go on it is that
// attempt's (Busy); when they stop for StaleBeats intervals, that attempt is
// gone, and this one takes the run over at once instead of leaving it
// RUNNING until the lease runs out, after every Lambda retry (ledger:
// LAM-async-retries). If this attempt's own time runs out first, it returns
// an error, so that Lambda retries the event and, after the last retry,
// sends it to the failure destination.
func (j *Job) claim(ctx context.Context, log *slog.Logger, runID string, scheduledAt, now time.Time) (history.Claim, *history.Run, error) {
	if j.beat <= 0 {
		return j.store.BeginRun(ctx, runID, scheduledAt, now, j.leaseFor(ctx, now))
	}
	claim, seen, err := j.store.BeginAttempt(ctx, runID, attemptOf(ctx), scheduledAt, now, j.leaseFor(ctx, now), j.beat)
	if err != nil || claim != history.Busy || seen.Beats() == 0 {
		return claim, seen, err
	}
	// The holder's silence is judged by the longer of its own interval (as
	// it recorded) and this attempt's, on this attempt's own clock: the
	// two invocations' clocks are never compared.
	stale := StaleBeats * max(j.beat, seen.BeatInterval())
	log.InfoContext(ctx, "run held by another attempt; watching its heartbeats", "attempts", seen.Attempts, "stale_after", stale)
	silentSince := time.Now()
	tick := time.NewTicker(j.beat)
	defer tick.Stop()
	outOfTime := func() error {
		return fmt.Errorf("run %s is held by another attempt whose heartbeats had not stopped for %s when this attempt's time ran out: %w",
			runID, time.Since(silentSince).Round(time.Second), context.Cause(ctx))
	}
	for {
		select {
		case <-ctx.Done():
			return "", nil, outOfTime()
		case <-tick.C:
		}
		r, err := j.store.GetRun(ctx, runID)
		switch {
		case err != nil && ctx.Err() != nil:
			// The time ran out during the read: the same answer as
			// between two reads, not a storage failure.
			return "", nil, outOfTime()
		case err != nil:
			return "", nil, err
		case r == nil:
			return "", nil, fmt.Errorf("run %s: its record disappeared while another attempt held it", runID)
		case r.State != history.Running:
			return history.Done, r, nil
		case !r.SameHolder(seen):
			return history.Busy, r, nil // it heartbeats, or another attempt took it over
		case time.Since(silentSince) >= stale:
			now := j.now()
			log.WarnContext(ctx, "the attempt holding the run stopped heartbeating; taking the run over",
				"silent_for", time.Since(silentSince).Round(time.Second), "attempts", r.Attempts)
			return j.store.TakeOver(ctx, r, attemptOf(ctx), now, j.leaseFor(ctx, now), j.beat)
		}
	}
}

// heartbeat advances the run's heartbeats every j.beat until stop is
// called. The context it returns ends when another attempt took the run
// over, and stop then returns history.ErrLost: this attempt must stop.
func (j *Job) heartbeat(ctx context.Context, log *slog.Logger, run *history.Run) (lost context.Context, stop func() error) {
	if j.beat <= 0 {
		return context.Background(), func() error { return nil }
	}
	lost, lose := context.WithCancelCause(context.Background())
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(j.beat)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
			}
			// A slow DynamoDB delays the next beat (the ticker drops
			// ticks), never piles them up.
			bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CallTimeout)
			err := j.store.Heartbeat(bctx, run)
			cancel()
			switch {
			case errors.Is(err, history.ErrLost):
				lose(err)
				return
			case err != nil:
				log.WarnContext(ctx, "heartbeat failed; trying again at the next", "error", err)
			}
		}
	}()
	var once sync.Once
	var cause error
	return lost, func() error {
		once.Do(func() {
			close(quit)
			<-done
			cause = context.Cause(lost)
			lose(nil)
		})
		return cause
	}
}

// plan sweeps the runs that never finished and plans the claimed run, the
// accounts the last run did not reach first. The sweep comes after the
// claim and spares this run: a redelivery must resume its own run, never
// find it failed by its own sweep.
func (j *Job) plan(ctx context.Context, log *slog.Logger, runID string, scheduledAt, now time.Time) *targets.Plan {
	if n, err := j.store.FailStaleRuns(ctx, runID, now.Add(-7*24*time.Hour), now); err != nil {
		log.WarnContext(ctx, "could not sweep stale runs", "error", err)
	} else if n > 0 {
		log.WarnContext(ctx, "marked runs that never finished as FAILED", "runs", n)
	}
	plan := j.planner.Plan(ctx, runID)
	if first := j.unreachedLastTime(ctx, runID, scheduledAt); len(first) > 0 {
		plan.First(first)
		log.InfoContext(ctx, "checking first the accounts the last run did not reach", "accounts", len(first))
	}
	return plan
}

// failure says why a run failed as a whole.
func failure(s result.Summary) string {
	return cmp.Or(s.ConfigError, strings.Join(s.Errors, "; "))
}

// leaseFor is how long this invocation holds the run: until the Lambda
// function's deadline (plus a little), so that Lambda's retry of a crashed or
// timed-out invocation, which comes after that deadline, resumes it at once.
// Without a deadline (the command line), the Job's lease.
func (j *Job) leaseFor(ctx context.Context, now time.Time) time.Duration {
	if d, ok := ctx.Deadline(); ok && d.After(now) {
		return d.Sub(now) + leaseSlack
	}
	return j.lease
}

// scope says what record stores: a whole run sends the run's digest and its
// failure alert; a part (a batch of a sharded run) sends its accounts'
// messages only and keeps the digest's counts in the outcome.
type scope int

const (
	wholeRun scope = iota
	partOfRun
)

// record compares, alerts and stores. Alert bookkeeping advances only for the
// accounts whose messages were published, so an SNS outage delays alerts to
// the next run instead of losing them. Publishing gets at most half of the
// time left: the save always has its share, even when SNS hangs.
func (j *Job) record(ctx context.Context, out *Outcome, at time.Time, sc scope) error {
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
	policy := changes.Policy{Grace: j.cfg.PendingGrace.Std(), Reminder: j.cfg.Notify.ReminderInterval.Std(), Severity: j.cfg.Alerts.Severity}
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
	if j.notifier != nil {
		publishCtx, cancel := halfOf(ctx)
		var errs []error
		send := func(ctx context.Context, runID string, alerts []changes.Alert) notify.Outcome {
			return j.notifier.SendRun(ctx, runID, alerts, out.digestNote)
		}
		if sc == partOfRun {
			send = j.notifier.SendAccounts
			out.Tally = changes.TallyOf(out.Alerts)
		}
		toSend, fps, sentBefore := out.Alerts, map[string]string{}, map[string]bool{}
		if out.sent != nil {
			// An earlier attempt at this part sent these accounts' messages.
			fps = fingerprints(out.Alerts)
			toSend = nil
			for _, a := range out.Alerts {
				if acct := a.Result.Account; out.sent.before[acct] == fps[acct] {
					sentBefore[acct] = true
				} else {
					toSend = append(toSend, a)
				}
			}
			if len(sentBefore) > 0 {
				j.logger.InfoContext(ctx, "an earlier attempt sent some of these alerts; they are not sent again", "run_id", out.RunID, "accounts", len(sentBefore))
			}
		}
		if len(toSend) > 0 {
			sent := send(publishCtx, out.RunID, toSend)
			out.Published, out.Unpublished = sent.Published, sent.Unpublished
			delivered = func(account string) bool { return sentBefore[account] || sent.Delivered[account] }
			errs = append(errs, sent.Err)
			if out.sent != nil && len(sent.Delivered) > 0 {
				all := maps.Clone(out.sent.before)
				if all == nil {
					all = map[string]string{}
				}
				for acct, ok := range sent.Delivered {
					if ok {
						all[acct] = fps[acct]
					}
				}
				if err := out.sent.note(ctx, all); err != nil {
					cancel()
					return err
				}
			}
		} else if len(sentBefore) > 0 {
			delivered = func(account string) bool { return sentBefore[account] }
		}
		if len(out.Alerts) == 0 && sc == wholeRun && out.digestNote.Acted() {
			// Nothing changed, but the remediation step acted: the digest says what it did.
			if err := j.notifier.SendDigest(publishCtx, out.RunID, changes.Tally{}, out.digestNote); err != nil {
				errs = append(errs, err)
			} else {
				out.Published++
			}
		}
		// Messages an earlier attempt sent count as published, one per account.
		out.Published += len(sentBefore)
		if sc == wholeRun && rep.Summary.Failed() {
			if err := j.notifier.SendRunFailure(publishCtx, out.RunID, failure(rep.Summary)); err != nil {
				errs = append(errs, fmt.Errorf("run failure alert: %w", err))
			} else {
				out.Published++
			}
		}
		cancel()
		if err := errors.Join(errs...); err != nil {
			out.NotifyError = err.Error()
			j.logger.ErrorContext(ctx, "some alerts were not published; the next run sends them", "run_id", out.RunID,
				"unpublished", out.Unpublished, "error", err)
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
	if err := j.store.SaveRun(ctx, out.RunID, at, prev, states, events); err != nil {
		return err
	}
	out.Saved = true
	if j.hub != nil {
		j.sendFindings(ctx, out, updates, at, sc)
	}
	return nil
}

// remediationReserve is the time the audit leaves for the remediation
// step: RemediationBudget with a remediation section, else none.
func (j *Job) remediationReserve() time.Duration {
	if j.remediation == nil {
		return 0
	}
	return RemediationBudget
}

// SaveBudget is the time kept for comparing, alerting and storing after the
// audit: 20 s, plus 5 ms per account-region (measured: about 1 ms each on
// dynalite, `make bench`; real DynamoDB batches take longer), at most 5
// minutes.
func SaveBudget(accountRegions int) time.Duration {
	return min(20*time.Second+time.Duration(accountRegions)*5*time.Millisecond, 5*time.Minute)
}

// withReserve ends the audit early enough to keep budget for storing and
// alerting before ctx's deadline, so that a run ends incomplete rather than
// unrecorded. At least a tenth of the time left goes to the audit.
func withReserve(ctx context.Context, budget time.Duration) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	reserve := min(budget, time.Until(deadline)*9/10)
	return context.WithDeadline(ctx, deadline.Add(-reserve))
}

// saveContext survives ctx's cancellation (Ctrl-C, a --timeout that ended the
// audit) for budget; a deadline of ctx still in the future, the Lambda
// function's, still bounds it.
func saveContext(ctx context.Context, budget time.Duration) (context.Context, context.CancelFunc) {
	deadline := time.Now().Add(budget)
	if d, ok := ctx.Deadline(); ok && d.After(time.Now()) && d.Before(deadline) {
		deadline = d
	}
	return context.WithDeadline(context.WithoutCancel(ctx), deadline)
}

// halfOf ends at half the time ctx has left.
func halfOf(ctx context.Context) (context.Context, context.CancelFunc) {
	d, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, time.Now().Add(time.Until(d)/2))
}
