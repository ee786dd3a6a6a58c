package targets

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/result"
)

// Plan is the work of one run: the accounts found, and every account-region
// with its required models.
type Plan struct {
	RunID string
	Units []Unit
	// Summary is what planning learned (start, counts, discovery errors);
	// the checks complete it.
	Summary result.Summary
	// DiscoveryCut says the run's deadline ended discovery: the run is
	// incomplete, not failed.
	DiscoveryCut bool
}

// First moves the given accounts (those the previous run did not reach) to
// the front of the plan.
func (p *Plan) First(accounts []string) {
	if len(accounts) > 0 {
		p.Units = Rotate(p.Units, p.RunID, accounts)
	}
}

// Accounts lists the accounts the plan checks, in its order, each with its OUs.
func (p *Plan) Accounts() []Account {
	var accounts []Account
	for _, u := range p.Units {
		if n := len(accounts); n == 0 || accounts[n-1].ID != u.Account { // an account's units are together
			accounts = append(accounts, Account{ID: u.Account, OUs: u.OUs})
		}
	}
	return accounts
}

// AccountRegions is how many account-regions the plan checks.
func (p *Plan) AccountRegions() int { return len(p.Units) }

// Planner plans the runs of one configuration. It is safe to reuse across runs.
type Planner struct {
	cfg    *config.Config
	org    OrganizationsAPI
	logger *slog.Logger
	now    func() time.Time
}

// Option changes how New builds a Planner.
type Option func(*Planner)

// WithOrganizations replaces the Organizations client used for discovery.
func WithOrganizations(c OrganizationsAPI) Option { return func(p *Planner) { p.org = c } }

// WithLogger sets the logger; by default nothing is logged.
func WithLogger(l *slog.Logger) Option { return func(p *Planner) { p.logger = l } }

// WithClock replaces time.Now for the run's start time.
func WithClock(now func() time.Time) Option { return func(p *Planner) { p.now = now } }

// New builds a Planner. awsCfg is the auditor's own AWS configuration; an
// Organizations client is made from it when the configuration discovers
// accounts, with the configured attempts and, without a region in awsCfg,
// the first audited region (Organizations answers in one region per
// partition, which the SDK finds from any region of the partition).
func New(cfg *config.Config, awsCfg aws.Config, opts ...Option) *Planner {
	p := &Planner{cfg: cfg, logger: slog.New(slog.DiscardHandler), now: time.Now}
	if cfg.Accounts.Organizations.Enabled {
		p.org = organizations.NewFromConfig(awsCfg, func(o *organizations.Options) {
			o.Region = cmp.Or(o.Region, cfg.Regions[0])
			o.RetryMaxAttempts = cfg.Limits.MaxAttempts
		})
	}
	for _, opt := range opts {
		opt(p)
	}
	return p
}

// Plan finds the accounts (Organizations and the static list) and lists the
// checks of the run. A failed discovery marks the run failed and plans the
// static accounts only.
func (p *Planner) Plan(ctx context.Context, runID string) *Plan {
	plan := &Plan{RunID: runID, Summary: result.Summary{RunID: runID, StartedAt: p.now().UTC()}}
	var discovered []Account
	if p.org != nil {
		o := p.cfg.Accounts.Organizations
		var err error
		discovered, err = Discover(ctx, p.org, Filter{OUs: o.OUs, Tags: o.Tags})
		if err != nil {
			err = fmt.Errorf("discover accounts: %w", err)
			plan.DiscoveryCut = ctx.Err() != nil
			plan.Summary.DiscoveryFailed = !plan.DiscoveryCut
			plan.Summary.Errors = append(plan.Summary.Errors, err.Error())
			p.logger.ErrorContext(ctx, "account discovery failed; auditing the static accounts only", "run_id", runID, "error", err)
		}
	}
	accounts := Accounts(p.cfg, discovered)
	plan.Units = Rotate(Units(p.cfg, accounts), runID, nil)
	s := &plan.Summary
	s.Accounts, s.Regions, s.Planned = len(accounts), len(p.cfg.Regions), Checks(plan.Units)
	if !s.DiscoveryFailed && !plan.DiscoveryCut {
		s.Warnings = append(s.Warnings, Unaudited(p.cfg, accounts)...)
	}
	return plan
}

// Unaudited says which accounts of models.by_account the run does not
// audit (discovery did not find them, or its filter left them out): their
// required models, an inference profile ARN pinned to the account
// included, are checked nowhere, and the run must say so.
func Unaudited(c *config.Config, accounts []Account) []string {
	var out []string
	for _, id := range slices.Sorted(maps.Keys(c.Models.ByAccount)) {
		if slices.ContainsFunc(accounts, func(a Account) bool { return a.ID == id }) {
			continue
		}
		out = append(out, fmt.Sprintf("models.by_account[%s]: account %s is not among the %d audited accounts, so its required models are not checked: %s",
			id, id, len(accounts), strings.Join(c.Models.ByAccount[id], ", ")))
	}
	return out
}

// PlanAccounts plans the checks of the given accounts only, in their order,
// without discovery: a batch of a sharded run, whose first step found the
// accounts.
func (p *Planner) PlanAccounts(runID string, accounts []Account) *Plan {
	plan := &Plan{RunID: runID, Summary: result.Summary{RunID: runID, StartedAt: p.now().UTC()}}
	plan.Units = Units(p.cfg, accounts)
	s := &plan.Summary
	s.Accounts, s.Regions, s.Planned = len(accounts), len(p.cfg.Regions), Checks(plan.Units)
	return plan
}
