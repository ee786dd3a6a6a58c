package job

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grantwatch/grantwatch/pkg/changes"
	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/remediate"
	"github.com/grantwatch/grantwatch/pkg/result"
	"github.com/grantwatch/grantwatch/pkg/targets"
)

// A sharded run is one run in three steps, each its own invocation, for an
// organization too large for one (see the README, "Large organizations"):
//
//	Start   claim the run, find the accounts, record them as batches
//	Batch   audit, store and alert for one batch (many at once, in a Distributed Map)
//	Finish  a failed batch's accounts become audit errors; remediation; the digest; the run record
//
// The state machine carries only the run id and batch numbers; the accounts
// and what each batch found are in the run's DynamoDB items.

// Started is what Start returns to the state machine.
type Started struct {
	RunID       string        `json:"run_id"`
	ScheduledAt time.Time     `json:"scheduled_time"`
	Claim       history.Claim `json:"claim"`
	// Proceed is false when another execution has the run or it is done
	// (a second delivery of the schedule): the state machine stops.
	Proceed bool `json:"proceed"`
	// Batches are the numbers of the batches to run.
	Batches  []int `json:"batches"`
	Accounts int   `json:"accounts"`
	// Planning is what finding the accounts learned (discovery errors);
	// Finish adds it to the run's summary.
	Planning result.Summary `json:"planning"`
}

// Start claims the run scheduled at scheduledAt for owner (the state
// machine execution, which may retry this step and find the run its own),
// finds its accounts in the run's fair order, those the last run did not
// reach first, and records them in batches of batchSize accounts. A
// resumed run keeps the batches it recorded before, and what they did.
func (j *Job) Start(ctx context.Context, scheduledAt time.Time, owner string, batchSize int) (*Started, error) {
	if j.store == nil {
		return nil, errors.New("a sharded run needs the history table (history.table)")
	}
	if batchSize < 1 {
		return nil, fmt.Errorf("batch size %d: want at least 1 account", batchSize)
	}
	scheduledAt = scheduledAt.UTC().Truncate(time.Second)
	st := &Started{RunID: RunID(scheduledAt), ScheduledAt: scheduledAt, Batches: []int{}}
	log := j.logger.With("run_id", st.RunID)
	now := j.now()
	claim, run, err := j.store.ClaimRun(ctx, st.RunID, owner, scheduledAt, now, config.ShardedRunTimeout+leaseSlack)
	if err != nil {
		return nil, err
	}
	st.Claim = claim
	if claim == history.Done || claim == history.Busy {
		log.InfoContext(ctx, "run already handled; nothing to do", "claim", claim, "state", run.State)
		return st, nil
	}
	st.Proceed = true
	if claim == history.Resumed {
		batches, err := j.store.Batches(ctx, st.RunID)
		if err != nil {
			return nil, err
		}
		if len(batches) > 0 {
			for _, b := range batches {
				st.Batches = append(st.Batches, b.Index)
				st.Accounts += len(b.Accounts)
			}
			st.Planning = result.Summary{RunID: st.RunID, StartedAt: now.UTC(), Regions: len(j.cfg.Regions)}
			log.InfoContext(ctx, "resuming the run's recorded batches", "batches", len(batches))
			return st, nil
		}
	}
	plan := j.plan(ctx, log, st.RunID, scheduledAt, now)
	accounts := plan.Accounts()
	var batches []history.Batch
	for chunk := range slices.Chunk(accounts, batchSize) {
		b := history.Batch{Index: len(batches)}
		for _, a := range chunk {
			b.Accounts = append(b.Accounts, history.BatchAccount{ID: a.ID, OUs: a.OUs})
		}
		batches = append(batches, b)
		st.Batches = append(st.Batches, b.Index)
	}
	if err := j.store.PutBatches(ctx, st.RunID, batches, now); err != nil {
		return nil, err
	}
	st.Accounts = len(accounts)
	// The batches count the accounts, checks and results; the planning
	// summary keeps only what discovery learned.
	st.Planning = result.Summary{RunID: st.RunID, StartedAt: plan.Summary.StartedAt, Regions: plan.Summary.Regions,
		Errors: plan.Summary.Errors, DiscoveryFailed: plan.Summary.DiscoveryFailed, Incomplete: plan.DiscoveryCut}
	log.InfoContext(ctx, "run planned in batches", "claim", claim, "accounts", len(accounts), "batches", len(batches), "batch_size", batchSize)
	return st, nil
}

// BatchOutcome is what one batch did.
type BatchOutcome struct {
	RunID string `json:"run_id"`
	Batch int    `json:"batch"`
	// Repeated says the batch was done before (a retry): nothing was done again.
	Repeated bool `json:"repeated,omitempty"`
	Checks   int  `json:"checks"`
	// Published and Unpublished count the batch's alert messages.
	Published   int `json:"published"`
	Unpublished int `json:"unpublished"`
}

// RunBatch audits, stores and alerts for batch index of a sharded run, as
// a whole run does for its accounts, without the digest. A batch found done
// is not done again: the state machine's retry of a batch whose invocation
// failed after storing it sends no alert twice. An error (the history could
// not be written) is for the state machine to retry.
func (j *Job) RunBatch(ctx context.Context, runID string, scheduledAt time.Time, index int) (*BatchOutcome, error) {
	scheduledAt = scheduledAt.UTC().Truncate(time.Second)
	if j.store == nil {
		return nil, errors.New("a sharded run needs the history table (history.table)")
	}
	now := j.now()
	claim, b, err := j.store.ClaimBatch(ctx, runID, index, attemptName(ctx), now, j.leaseFor(ctx, now))
	if err != nil {
		return nil, err
	}
	bo := &BatchOutcome{RunID: runID, Batch: index}
	switch {
	case claim == history.Done && b.Closed:
		// Finish gave up on the batch and recorded its accounts: a late
		// invocation must not audit, alert or overwrite that.
		bo.Repeated = true
		j.logger.InfoContext(ctx, "the run's Finish closed this batch; nothing to do", "run_id", runID, "batch", index)
		return bo, nil
	case claim == history.Done:
		bo.Repeated, bo.Published, bo.Unpublished = true, b.Published, b.Unpublished
		if b.Summary != nil {
			bo.Checks = b.Summary.Checked
		}
		j.logger.InfoContext(ctx, "batch already done; nothing to do", "run_id", runID, "batch", index)
		return bo, nil
	case claim == history.Busy:
		// Step Functions invoked the batch again while an invocation still
		// works on it: the error makes the state machine retry later, and
		// Finish waits for the batch (ledger: SFN-task-timeout-invocation-continues).
		return nil, fmt.Errorf("batch %d of run %s: another invocation holds it until %s",
			index, runID, time.Unix(b.HeldUntil, 0).UTC().Format(time.RFC3339))
	}
	sent, err := j.store.SentAlerts(ctx, runID, index)
	if err != nil {
		return nil, err
	}
	accounts := make([]targets.Account, len(b.Accounts))
	for i, a := range b.Accounts {
		accounts[i] = targets.Account{ID: a.ID, OUs: a.OUs}
	}
	plan := j.planner.PlanAccounts(runID, accounts)
	budget := j.saveBudget(plan.AccountRegions())
	auditCtx, cancel := withReserve(ctx, budget)
	rep := j.checker.Check(auditCtx, plan)
	cancel()

	out := &Outcome{RunID: runID, Report: rep, sent: &sentLog{before: sent, note: func(ctx context.Context, sent map[string]string) error {
		return j.store.RecordSent(ctx, runID, index, sent, j.now())
	}}}
	saveCtx, cancel := saveContext(ctx, budget)
	defer cancel()
	if err := j.record(saveCtx, out, scheduledAt, partOfRun); err != nil {
		// The state machine retries the batch: it claims it at once, and
		// sends only the alerts this attempt did not.
		if rerr := j.store.ReleaseBatch(saveCtx, runID, b); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return nil, fmt.Errorf("batch %d of run %s: %w", index, runID, err)
	}
	b.Summary, b.Tally, b.Published, b.Unpublished = &rep.Summary, out.Tally, out.Published, out.Unpublished
	if j.remediation != nil {
		// The run's Finish plans and applies for the whole run, before its
		// digest: the batch keeps what it found missing (no AWS call here).
		b.Remediable, b.NotRemediable = j.batchCandidates(j.remediation.Remediator.Candidates(rep, plan.Units))
	}
	if err := j.store.FinishBatch(saveCtx, runID, *b, j.now()); err != nil {
		return nil, err
	}
	bo.Checks, bo.Published, bo.Unpublished = rep.Summary.Checked, out.Published, out.Unpublished
	j.logger.InfoContext(ctx, "batch done", "run_id", runID, "batch", index, "accounts", len(accounts),
		"checks", rep.Summary.Checked, "alerts", len(out.Alerts), "published", out.Published)
	return bo, nil
}

// Finish ends a sharded run: the accounts of every batch that never
// finished (the state machine gave up on it) are recorded and alerted as
// audit errors, the digest sums up every batch's alerts, and the run record
// gets the whole run's summary. A second Finish of a finished run does
// nothing.
func (j *Job) Finish(ctx context.Context, runID string, scheduledAt time.Time, owner string, planning result.Summary) (*Outcome, error) {
	scheduledAt = scheduledAt.UTC().Truncate(time.Second)
	out := &Outcome{RunID: runID}
	if j.store == nil {
		return out, errors.New("a sharded run needs the history table (history.table)")
	}
	stored, err := j.store.GetRun(ctx, runID)
	switch {
	case err != nil:
		return out, err
	case stored == nil:
		return out, fmt.Errorf("finish run %s: no such run", runID)
	case stored.State != history.Running:
		out.Claim, out.Stored = history.Done, stored
		return out, nil
	}
	if !stored.OwnedBy(owner) {
		return out, fmt.Errorf("finish run %s: another execution took the run over", runID)
	}
	claim, run, err := j.beginFinish(ctx, stored)
	switch {
	case err != nil:
		return out, err
	case claim == history.Done:
		out.Claim, out.Stored = history.Done, run
		return out, nil
	}
	out.Stored = run
	if err := j.finishClaimed(ctx, out, run, scheduledAt, owner, planning); err != nil {
		// The state machine retries Finish: it claims the finishing at
		// once, and sends only what this attempt did not.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CallTimeout)
		defer cancel()
		if rerr := j.store.ReleaseFinish(rctx, run); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return out, err
	}
	return out, nil
}

// beginFinish claims the finishing of run stored. While another invocation
// holds it, it waits, within its own time, until that invocation finished
// the run (Done) or its claim ran out (it crashed or timed out): a Finish
// that died must not leave the run RUNNING after every retry of the step
// found it busy.
func (j *Job) beginFinish(ctx context.Context, stored *history.Run) (history.Claim, *history.Run, error) {
	for {
		now := j.now()
		claim, run, err := j.store.BeginFinish(ctx, stored, attemptName(ctx), now, j.leaseFor(ctx, now))
		if err != nil || claim != history.Busy {
			return claim, run, err
		}
		until := time.Unix(run.FinishingUntil()+1, 0)
		j.logger.InfoContext(ctx, "another invocation is finishing the run; waiting for it", "run_id", stored.ID, "claimed_until", until.UTC())
		select {
		case <-ctx.Done():
			// Step Functions retries the step; by then the other
			// invocation has finished the run or its claim ran out.
			return "", nil, fmt.Errorf("finish run %s: another invocation is finishing it until %s: %w",
				stored.ID, until.UTC().Format(time.RFC3339), context.Cause(ctx))
		case <-time.After(max(min(until.Sub(now), j.poll), 100*time.Millisecond)):
		}
	}
}

// finishClaimed is Finish once this invocation claimed the finishing.
func (j *Job) finishClaimed(ctx context.Context, out *Outcome, run *history.Run, scheduledAt time.Time, owner string, planning result.Summary) error {
	runID := run.ID
	batches, err := j.store.Batches(ctx, runID)
	if err != nil {
		return err
	}
	// Close the batches that never finished, so that no invocation of them
	// audits or alerts after this; wait for those an invocation still holds.
	for i, b := range batches {
		if b.Done || b.Closed {
			continue
		}
		closed, err := j.closeBatch(ctx, runID, b.Index, owner)
		if err != nil {
			return err
		}
		batches[i] = *closed
	}
	summary := planning
	summary.RunID = runID
	var tally changes.Tally
	var failed []targets.Account
	var failedBatches []int
	for _, b := range batches {
		if !b.Done || b.Summary == nil {
			failedBatches = append(failedBatches, b.Index)
			for _, a := range b.Accounts {
				failed = append(failed, targets.Account{ID: a.ID, OUs: a.OUs})
			}
			continue
		}
		summary.Add(*b.Summary)
		tally.Add(b.Tally)
		out.Published += b.Published
		out.Unpublished += b.Unpublished
	}

	if len(failed) > 0 {
		j.logger.ErrorContext(ctx, "batches did not finish; their accounts are recorded as audit errors", "run_id", runID,
			"batches", failedBatches, "accounts", len(failed))
		rep := j.unfinished(runID, failed, failedBatches)
		sent, err := j.store.SentAlerts(ctx, runID, finishPart)
		if err != nil {
			return err
		}
		part := &Outcome{RunID: runID, Report: rep, sent: &sentLog{before: sent, note: func(ctx context.Context, sent map[string]string) error {
			return j.store.RecordSent(ctx, runID, finishPart, sent, j.now())
		}}}
		if err := j.record(ctx, part, scheduledAt, partOfRun); err != nil {
			return fmt.Errorf("record the accounts of unfinished batches of run %s: %w", runID, err)
		}
		summary.Add(rep.Summary)
		tally.Add(part.Tally)
		out.Alerts = part.Alerts
		out.Events += part.Events
		out.Published += part.Published
		out.Unpublished += part.Unpublished
	}
	out.Tally = tally
	if j.remediation != nil {
		// Every attempt at Finish plans again from the batches' records:
		// an agreement an earlier attempt made reads PENDING or AVAILABLE
		// now and is left alone (remediate.Apply reads it first).
		candidates, left := finishCandidates(batches)
		j.remediate(ctx, out, candidates, left, finishKeep)
		j.noteFindings(ctx, out, finishKeep/2)
	}
	summary.FinishedAt = j.now().UTC()
	summary.DurationMS = summary.FinishedAt.Sub(summary.StartedAt).Milliseconds()
	out.Report = &result.Report{Summary: summary}

	if j.notifier != nil && run.Notified {
		j.logger.InfoContext(ctx, "an earlier Finish sent the run's digest; not sent again", "run_id", runID)
	} else if j.notifier != nil {
		var errs []error
		if err := j.notifier.SendDigest(ctx, runID, tally, out.digestNote); err != nil {
			errs = append(errs, err)
		} else if !tally.Empty() || out.digestNote.Acted() {
			out.Published++
		}
		if summary.Failed() {
			if err := j.notifier.SendRunFailure(ctx, runID, failure(summary)); err != nil {
				errs = append(errs, fmt.Errorf("run failure alert: %w", err))
			} else {
				out.Published++
			}
		}
		if err := errors.Join(errs...); err != nil {
			out.NotifyError = err.Error()
		}
		if err := j.store.MarkNotified(ctx, run); err != nil {
			return err
		}
	}
	state, why := history.Complete, out.NotifyError
	switch {
	case summary.Failed():
		state, why = history.Failed, failure(summary)
	case summary.Incomplete:
		state = history.Incomplete
	}
	if j.hub != nil && state == history.Complete {
		audited := map[string]bool{}
		for _, b := range batches {
			for _, a := range b.Accounts {
				audited[a.ID] = true
			}
		}
		j.archiveDropped(ctx, out, audited, scheduledAt)
	}
	if err := j.store.FinishRun(ctx, run, state, &summary, why, j.now()); err != nil {
		return err
	}
	out.Saved = true
	j.logger.InfoContext(ctx, "run finished", "run_id", runID, "state", state, "batches", len(batches),
		"unfinished_batches", len(failedBatches), "published", out.Published)
	return nil
}

// finishKeep is the time Finish keeps after its remediation step for the
// digest, Security Hub and the run record.
const finishKeep = time.Minute

// finishCandidates are the missing agreements the done batches of a run
// kept for remediation, and what they left out.
func finishCandidates(batches []history.Batch) ([]remediate.Action, leftOut) {
	var actions []remediate.Action
	var left leftOut
	for _, b := range batches {
		if !b.Done {
			continue
		}
		left.cut += b.RemediableCut
		left.notAllowed += b.NotRemediable
		for _, a := range b.Remediable {
			// One per (account, model), as the batch's Candidates made it:
			// an account's regions are all in one batch.
			act := remediate.Action{Account: a.Account, Region: a.Region, Model: a.Model,
				Action: remediate.CreateAgreement, Outcome: remediate.Planned, Checks: a.Checks,
				Reason: fmt.Sprintf("AGREEMENT_MISSING (found by batch %d)", b.Index)}
			for _, c := range a.Covers {
				act.Covers = append(act.Covers, remediate.Cover{Region: c.Region, Checks: c.Checks})
			}
			if len(act.Covers) > 0 {
				act.Reason = fmt.Sprintf("AGREEMENT_MISSING in %s (one agreement covers the account in every region; found by batch %d)",
					strings.Join(act.Regions(), ", "), b.Index)
			}
			actions = append(actions, act)
		}
	}
	return actions, left
}

// finishPart names the alerts Finish sends for the accounts of batches
// that never finished, in the run's sent records (history.SentAlerts).
const finishPart = -1

// closeBatch closes batch index of a run for Finish. A batch an invocation
// still holds is waited for, until it is done or its claim runs out (the
// invocation's deadline: Lambda stops it then), within Finish's own time.
func (j *Job) closeBatch(ctx context.Context, runID string, index int, owner string) (*history.Batch, error) {
	for {
		claim, b, err := j.store.CloseBatch(ctx, runID, index, owner, j.now())
		if err != nil || claim != history.Busy {
			return b, err
		}
		wait := time.Until(time.Unix(b.HeldUntil+1, 0))
		j.logger.InfoContext(ctx, "waiting for the invocation that holds a batch", "run_id", runID, "batch", index,
			"held_until", time.Unix(b.HeldUntil, 0).UTC())
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("finish run %s: batch %d is still held by an invocation: %w", runID, index, context.Cause(ctx))
		case <-time.After(max(min(wait, j.poll), 100*time.Millisecond)):
		}
	}
}

// finishPoll is how often Finish looks again at a batch an invocation
// holds, or at a run another Finish is finishing (Job.poll).
const finishPoll = 5 * time.Second

// attemptName names this invocation in the claims of batches and of a
// run's finishing: the Lambda request id, and a random suffix that keeps
// two deliveries with the same id apart.
func attemptName(ctx context.Context) string {
	return cmp.Or(attemptOf(ctx), "cli") + "/" + rand.Text()[:8]
}

// unfinished is the report of the accounts of batches that never finished:
// every check an audit error that says so.
func (j *Job) unfinished(runID string, accounts []targets.Account, batches []int) *result.Report {
	plan := j.planner.PlanAccounts(runID, accounts)
	rep := &result.Report{Summary: plan.Summary}
	cause := fmt.Sprintf("batch-failed: the state machine gave up on this account's batch (batches %v of the run did not finish)", batches)
	for _, u := range plan.Units {
		for _, m := range u.Models {
			rep.Results = append(rep.Results, result.Result{Account: u.Account, Region: u.Region, Model: m, Status: result.AuditError, Cause: cause,
				Remediation: "The account was not audited this run. The execution's history in the Step Functions console names the error " +
					"(a timeout: lower grantwatch:batchAccounts). The next run checks the account again."})
		}
	}
	rep.Summary.Summarize(rep.Results)
	rep.Summary.FinishedAt = j.now().UTC()
	return rep
}
