package job

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	securityhubapi "github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/grantwatch/grantwatch/pkg/check"
	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/notify"
	"github.com/grantwatch/grantwatch/pkg/securityhub"
	"github.com/grantwatch/grantwatch/pkg/targets"
)

// BuildOptions are Build's settings, changed with functions in the SDK's
// style (as stscreds.NewAssumeRoleProvider takes them).
type BuildOptions struct {
	// Logger goes to the planner, the checker and the job.
	Logger *slog.Logger
	// Progress, when set, hears how many checks are done of how many.
	Progress func(done, total int)
	// Caller asks for the caller's identity (Parts.Caller) even when
	// Security Hub does not need it: the command line's asff output and fix.
	Caller bool
	// Store and Notifier, when set, replace those the configuration names
	// (the demo's local stand-ins, each with its own endpoint).
	Store    *history.Store
	Notifier *notify.Notifier
	// Job are the options of the job itself (clock, heartbeat, ...).
	Job []Option
}

// Parts is what Build wires: the job and the pieces a caller may use alone
// (fix audits with the planner and the checker without running the job).
type Parts struct {
	Job      *Job
	Planner  *targets.Planner
	Checker  *check.Checker
	Store    *history.Store
	Notifier *notify.Notifier
	// Hub is where findings go; nil unless the configuration enables
	// Security Hub and the job stores its runs (findings follow a stored run).
	Hub *Hub
	// Caller is who the AWS configuration signs as; nil unless asked for
	// or needed by Hub. One GetCallerIdentity serves both.
	Caller *Caller
}

// Caller is the principal grantwatch runs as.
type Caller struct {
	Account string
	ARN     string
}

// Build wires the job a configuration describes with one AWS configuration:
// the planner, the checker, the history store and notifier the
// configuration names, and Security Hub's destination in the caller's own
// account. The Lambda handler, the command line and the demo build their
// jobs here, so they cannot drift apart.
func Build(ctx context.Context, cfg *config.Config, awsCfg aws.Config, optFns ...func(*BuildOptions)) (*Parts, error) {
	var o BuildOptions
	for _, fn := range optFns {
		fn(&o)
	}
	logger := cmp.Or(o.Logger, slog.New(slog.DiscardHandler))
	p := &Parts{
		Planner: targets.New(cfg, awsCfg, targets.WithLogger(logger)),
		Checker: check.New(cfg, awsCfg, check.WithLogger(logger), check.WithProgress(o.Progress)),
	}
	p.Store, p.Notifier = Destinations(cfg, awsCfg)
	if o.Store != nil {
		p.Store = o.Store
	}
	if o.Notifier != nil {
		p.Notifier = o.Notifier
	}
	hub := cfg.SecurityHub.Enabled && p.Store != nil
	if hub || o.Caller {
		c, err := callerOf(ctx, cfg, awsCfg)
		if err != nil {
			return nil, err
		}
		p.Caller = c
	}
	opts := []Option{WithLogger(logger)}
	if hub {
		p.Hub = newHub(cfg, awsCfg, p.Caller.Account)
		opts = append(opts, WithSecurityHub(p.Hub))
	}
	p.Job = New(cfg, p.Planner, p.Checker, p.Store, p.Notifier, append(opts, o.Job...)...)
	return p, nil
}

// callerOf asks STS who the AWS configuration signs as, in its region (or
// the first configured one when it names none).
func callerOf(ctx context.Context, cfg *config.Config, awsCfg aws.Config) (*Caller, error) {
	region := cmp.Or(awsCfg.Region, cfg.Regions[0])
	id, err := sts.NewFromConfig(awsCfg, func(o *sts.Options) { o.Region = region }).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, fmt.Errorf("find the account grantwatch runs in (STS GetCallerIdentity): %w", err)
	}
	return &Caller{Account: aws.ToString(id.Account), ARN: aws.ToString(id.Arn)}, nil
}

// Source is the Security Hub source of findings imported into account, in
// the AWS configuration's region (or the first configured one).
func Source(cfg *config.Config, awsCfg aws.Config, account string) securityhub.Source {
	return securityhub.Source{Account: account, Region: cmp.Or(awsCfg.Region, cfg.Regions[0]), Partition: cfg.Partition(), Severity: cfg.Alerts.Severity}
}

// newHub sends findings to the auditor's own account (see pkg/securityhub
// on why), in the region of its AWS configuration.
func newHub(cfg *config.Config, awsCfg aws.Config, account string) *Hub {
	src := Source(cfg, awsCfg, account)
	return &Hub{
		API:    securityhubapi.NewFromConfig(awsCfg, func(o *securityhubapi.Options) { o.Region = src.Region }),
		Source: src,
	}
}
