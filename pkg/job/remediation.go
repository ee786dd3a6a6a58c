package job

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/remediate"
	"github.com/grantwatch/grantwatch/pkg/result"
	"github.com/grantwatch/grantwatch/pkg/securityhub"
	"github.com/grantwatch/grantwatch/pkg/targets"
)

// Remediation is the scheduled run's remediation step: with
// remediation.auto it applies the plan grantwatch fix would make, through
// the same pkg/remediate code; without, it only reports it.
type Remediation struct {
	Remediator *remediate.Remediator
	// Identity is the principal the run acts as: its account is the use-case
	// form's default target, its ARN is recorded with each action.
	Identity func(ctx context.Context) (account, arn string, err error)
	// Publisher and Topic carry the messages; either may be empty.
	Publisher remediate.Publisher
	Topic     string
}

// WithRemediation adds the remediation step after each stored run.
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
	if cfg.Notify.TopicARN != "" {
		r.Publisher, r.Topic = sns.NewFromConfig(awsCfg), cfg.Notify.TopicARN
	}
	return r
}

// remediate plans from the stored run's report and, with remediation.auto,
// applies the plan and records each action as grantwatch fix --apply does:
// a history event per action and an SNS message per account. Without auto
// it sends one message listing what fix would do. Nothing here fails the
// run: its results are stored already; what went wrong is in the outcome.
func (j *Job) remediate(ctx context.Context, out *Outcome, units []targets.Unit) {
	if j.remediation == nil || out.Report == nil {
		return
	}
	r := j.remediation
	log := j.logger.With("run_id", out.RunID)
	_, by, err := r.Identity(ctx)
	if err != nil {
		out.RemediationError = err.Error()
		log.ErrorContext(ctx, "remediation skipped", "error", err)
		return
	}
	actions := r.Remediator.Plan(ctx, out.Report, units)
	out.Remediable = remediate.Pending(actions)
	var errs []error
	if !j.cfg.Remediation.Auto {
		out.Remediation = actions
		if m := remediate.Summary(out.RunID, actions); m != nil && r.Publisher != nil && r.Topic != "" {
			if _, err := remediate.Publish(ctx, r.Publisher, r.Topic, []remediate.Message{*m}); err != nil {
				errs = append(errs, err)
			}
		}
	} else {
		actions = r.Remediator.Apply(ctx, actions)
		out.Remediation = actions
		at := j.now().UTC()
		if records := remediate.Records(out.RunID, by, at, actions); j.store != nil && len(records) > 0 {
			if err := j.store.PutActions(ctx, records); err != nil {
				errs = append(errs, fmt.Errorf("store remediation actions: %w", err))
			}
		}
		if r.Publisher != nil && r.Topic != "" {
			if _, err := remediate.Publish(ctx, r.Publisher, r.Topic, remediate.Messages(out.RunID, by, actions)); err != nil {
				errs = append(errs, err)
			}
		}
		if j.hub != nil {
			errs = append(errs, j.noteFindings(ctx, out, by, actions))
		}
	}
	if err := errors.Join(errs...); err != nil {
		out.RemediationError = err.Error()
		log.ErrorContext(ctx, "remediation not fully recorded", "error", err)
	}
	log.InfoContext(ctx, "remediation", "auto", j.cfg.Remediation.Auto, "remediable", out.Remediable,
		"failed", remediate.Failures(actions), "actions", len(actions))
}

// noteFindings puts a note on the Security Hub finding of each missing
// agreement the run acted on, saying what was done: the next run's import
// then resolves the finding as usual once the agreement is AVAILABLE.
func (j *Job) noteFindings(ctx context.Context, out *Outcome, by string, actions []remediate.Action) error {
	var errs []error
	for _, a := range actions {
		if a.Action != remediate.CreateAgreement || (a.Outcome != remediate.Done && a.Outcome != remediate.Failed) {
			continue
		}
		var ids []string
		for _, res := range out.Report.Results {
			if res.Principal == "" && res.Status == result.AgreementMissing && res.Account == a.Account && res.Region == a.Region &&
				config.AgreementModel(res.Model) == a.Model {
				ids = append(ids, securityhub.ID(res))
			}
		}
		if len(ids) == 0 {
			continue
		}
		note := fmt.Sprintf("grantwatch run %s, as %s: %s %s: %s. %s", out.RunID, by, a.Action, a.Model, a.Outcome, a.Reason)
		if err := securityhub.AddNote(ctx, j.hub.API, j.hub.Source.ProductARN(), ids, note, "grantwatch"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
