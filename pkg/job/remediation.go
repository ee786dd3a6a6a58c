package job

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/notify"
	"github.com/grantwatch/grantwatch/pkg/remediate"
	"github.com/grantwatch/grantwatch/pkg/result"
	"github.com/grantwatch/grantwatch/pkg/securityhub"
)

// Remediation is the scheduled run's remediation step: with
// remediation.auto it applies the plan grantwatch fix would make, through
// the same pkg/remediate code; without, it only reports it.
type Remediation struct {
	Remediator *remediate.Remediator
	// Identity is the principal the run acts as: its ARN is recorded with
	// each action (its account is no default form target).
	Identity func(ctx context.Context) (account, arn string, err error)
	// Publisher carries the per-account messages; nil means the job's
	// notifier (none without notify.topic_arn).
	Publisher remediate.Publisher
}

// WithRemediation adds the remediation step to each run, before its digest.
func WithRemediation(r *Remediation) Option { return func(j *Job) { j.remediation = r } }

// NewRemediation builds the remediation step of cfg's remediation section,
// or nil when there is none. The form file, if any, must be loaded.
func NewRemediation(cfg *config.Config, awsCfg aws.Config, opts ...remediate.Option) *Remediation {
	if cfg.Remediation == nil {
		return nil
	}
	stsClient := sts.NewFromConfig(awsCfg, func(o *sts.Options) { o.Region = cmp.Or(awsCfg.Region, cfg.Regions[0]) })
	r := &Remediation{
		Remediator: remediate.New(cfg, awsCfg, opts...),
		// GetCallerIdentity needs no permission (ledger: STS-caller-identity).
		Identity: func(ctx context.Context) (string, string, error) {
			id, err := stsClient.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				return "", "", fmt.Errorf("find the principal the run acts as (GetCallerIdentity): %w", err)
			}
			return aws.ToString(id.Account), aws.ToString(id.Arn), nil
		},
	}
	return r
}

// RemediationBudget is the most time a run gives its remediation step:
// planning (an offer read per missing agreement), with remediation.auto the
// writes (a read, the write and a re-read per action, remediation.concurrency
// at once), and recording them. The audit stops that much earlier. Actions
// the budget does not reach are reported as not attempted, and the next
// run, which finds them still missing, plans them again: a large first
// remediation takes a few runs, never the run's own results.
const RemediationBudget = 2 * time.Minute

// recordShare is the part of the remediation budget kept for recording
// what was done (history, one message per account).
const recordShare = 20 * time.Second

// remediate plans from candidates (remediate.Candidates of the run's
// results) and, with remediation.auto, applies the plan and records each
// action as grantwatch fix --apply does: a history event per action and an
// SNS message per account. It runs before the run's digest, which says in
// one line what was done or, without auto, what fix would do; its time
// ends keep before ctx's deadline. Nothing here fails the run; what went
// wrong is in the outcome.
func (j *Job) remediate(ctx context.Context, out *Outcome, candidates []remediate.Action, left leftOut, keep time.Duration) {
	r := j.remediation
	auto := j.cfg.Remediation.Auto
	log := j.logger.With("run_id", out.RunID)
	note := &notify.Remediation{Auto: auto, NotAllowed: left.notAllowed}
	out.digestNote = note

	end := time.Now().Add(RemediationBudget)
	if d, ok := ctx.Deadline(); ok && d.Add(-keep).Before(end) {
		end = d.Add(-keep)
	}
	share := min(recordShare, time.Until(end)/3)
	stepCtx, cancel := context.WithDeadline(ctx, end.Add(-share))
	defer cancel()

	// The account is not used: the use-case form's accounts are required
	// (the caller's account is the audit account, not the management one).
	_, by, err := r.Identity(stepCtx)
	if err != nil {
		out.RemediationError, note.Error = err.Error(), err.Error()
		log.ErrorContext(ctx, "remediation skipped", "error", err)
		return
	}
	// A candidate skipped before Resolve is outside what the section
	// allows; one Resolve skips found no one offer to accept.
	notAllowed := skippedAgreements(candidates)
	rem := r.Remediator.ForRun(out.RunID) // the member accounts' CloudTrail names the run
	actions := rem.Resolve(stepCtx, candidates)
	// Remediable is the backlog: what is planned, what the time did not
	// reach and what a batch record had no room for; the next runs plan
	// them all again.
	out.Remediable = remediate.Pending(actions) + left.cut
	for _, a := range actions {
		if a.NotAttempted {
			out.Remediable++
		}
	}
	note.NotAllowed += notAllowed
	note.NoOffer = skippedAgreements(actions) - notAllowed
	if auto {
		actions = rem.Apply(stepCtx, actions)
	}
	out.Remediation = actions
	accounts := map[string]bool{}
	want := map[bool]string{false: remediate.Planned, true: remediate.Done}[auto]
	for _, a := range actions {
		switch {
		case a.Outcome == want && a.Action == remediate.CreateAgreement:
			note.Agreements++
		case a.Outcome == want && a.Action == remediate.PutUseCaseForm:
			note.Forms++
		case a.Outcome == remediate.Failed || a.Outcome == remediate.NotPlanned:
			note.Failed++ // the digest's line: failed or could not be planned
		case a.Outcome == remediate.Unknown:
			note.Unknown++
		case a.NotAttempted:
			note.NotAttempted++
		}
		if a.Outcome == want {
			accounts[a.Account] = true
		}
	}
	note.Accounts, note.NotAttempted = len(accounts), note.NotAttempted+left.cut
	log.InfoContext(ctx, "remediation", "auto", auto, "remediable", out.Remediable, "failed", remediate.Failures(actions),
		"not_attempted", note.NotAttempted, "actions", len(actions))
	if !auto {
		return
	}
	// What was done on the organization's behalf is recorded even when the
	// run was interrupted meanwhile: its own share of the budget, at least
	// a few seconds.
	recordCtx, cancel := context.WithDeadline(context.WithoutCancel(ctx), later(end, time.Now().Add(5*time.Second)))
	defer cancel()
	var errs []error
	if records := remediate.Records(out.RunID, by, j.now().UTC(), actions); j.store != nil && len(records) > 0 {
		if err := j.store.PutActions(recordCtx, records); err != nil {
			errs = append(errs, fmt.Errorf("store remediation actions: %w", err))
		}
	}
	var pub remediate.Publisher = r.Publisher
	if pub == nil && j.notifier != nil {
		pub = j.notifier // chat formatting and the per-call timeout, as alerts
	}
	if pub != nil {
		if _, err := remediate.Publish(recordCtx, pub, remediate.Messages(out.RunID, by, actions)); err != nil {
			errs = append(errs, err)
		}
	}
	out.remediatedBy = by
	if err := errors.Join(errs...); err != nil {
		out.RemediationError = err.Error()
		log.ErrorContext(ctx, "remediation not fully recorded", "error", err)
	}
}

// skippedAgreements counts the agreement actions skipped for a reason
// (not for want of time).
func skippedAgreements(actions []remediate.Action) int {
	n := 0
	for _, a := range actions {
		if a.Outcome == remediate.Skipped && a.Action == remediate.CreateAgreement && !a.NotAttempted {
			n++
		}
	}
	return n
}

// leftOut counts the missing agreements a sharded run's batches did not
// pass on as candidates: cut, too many for the batch record; notAllowed,
// outside what the remediation section allows.
type leftOut struct{ cut, notAllowed int }

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// noteFindings puts a note on the Security Hub finding of each missing
// agreement the run acted on, saying what was done: the next run's import
// then resolves the finding as usual once the agreement is AVAILABLE. It
// comes after the run's findings are imported (a missing agreement found
// this run has no finding before). Actions with the same note share their
// BatchUpdateFindings calls, up to 100 findings a call (ledger:
// SH-update-workflow), so a large remediation takes a few calls, not one
// per action; and the notes end keep before ctx's deadline (what comes
// after them, the digest and the run record, matters more).
func (j *Job) noteFindings(ctx context.Context, out *Outcome, keep time.Duration) {
	if j.hub == nil || out.remediatedBy == "" {
		return
	}
	if d, ok := ctx.Deadline(); ok && keep > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-keep))
		defer cancel()
	}
	var notes []string
	ids := map[string][]string{}
	for _, a := range out.Remediation {
		if a.Action != remediate.CreateAgreement || (a.Outcome != remediate.Done && a.Outcome != remediate.Failed && a.Outcome != remediate.Unknown) {
			continue
		}
		// The note is the same for every account done alike; why one
		// failed is its own (the account's message says the rest).
		note := fmt.Sprintf("grantwatch run %s, as %s: %s %s: %s.", out.RunID, out.remediatedBy, a.Action, a.Model, a.Outcome)
		if a.Outcome == remediate.Failed {
			note += " " + a.Reason
		}
		before := len(ids[note])
		for _, model := range a.Checks {
			ids[note] = append(ids[note], securityhub.ID(result.Result{Account: a.Account, Region: a.Region, Model: model}))
		}
		for _, c := range a.Covers { // the same agreement fixes them (BR-agreement-account-wide)
			for _, model := range c.Checks {
				ids[note] = append(ids[note], securityhub.ID(result.Result{Account: a.Account, Region: c.Region, Model: model}))
			}
		}
		if before == 0 && len(ids[note]) > 0 {
			notes = append(notes, note)
		}
	}
	var errs []error
	for _, note := range notes {
		if ctx.Err() != nil {
			errs = append(errs, fmt.Errorf("%d findings not noted: the run's time ran out", len(ids[note])))
			continue
		}
		if err := securityhub.AddNote(ctx, j.hub.API, j.hub.Source.ProductARN(), ids[note], note, "grantwatch"); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		out.RemediationError = cmp.Or(out.RemediationError+"; ", "") + err.Error()
		j.logger.ErrorContext(ctx, "remediation notes not added to Security Hub", "run_id", out.RunID, "error", err)
	}
}

// batchCandidates are the planned candidates of a batch's report, for the
// batch record (which keeps what fits beside the rest of the batch and
// counts the others: history.Batch.RemediableCut); skipped counts the
// missing agreements the configuration does not allow.
func (j *Job) batchCandidates(actions []remediate.Action) (kept []history.RemediableAgreement, skipped int) {
	for _, a := range actions {
		if a.Outcome != remediate.Planned {
			skipped++
			continue
		}
		ra := history.RemediableAgreement{Account: a.Account, Region: a.Region, Model: a.Model, Checks: a.Checks}
		for _, c := range a.Covers {
			ra.Covers = append(ra.Covers, history.RemediableRegion{Region: c.Region, Checks: c.Checks})
		}
		kept = append(kept, ra)
	}
	return kept, skipped
}
