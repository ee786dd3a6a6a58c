// The member account: the audit role's credentials, the account's regions
// and its use-case forms, each read once per run.

package check

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	awsaccount "github.com/aws/aws-sdk-go-v2/service/account"
	accounttypes "github.com/aws/aws-sdk-go-v2/service/account/types"
	"github.com/aws/smithy-go"

	"github.com/grantwatch/grantwatch/pkg/config"
)

// RegionLister is the part of *account.Client that lists the account's
// regions with their opt-in status.
type RegionLister interface {
	ListRegions(ctx context.Context, in *awsaccount.ListRegionsInput, optFns ...func(*awsaccount.Options)) (*awsaccount.ListRegionsOutput, error)
}

var _ RegionLister = (*awsaccount.Client)(nil)

// accountReadActions are the member role's permissions for RegionLister,
// one row per method. ledger: ACC-list-regions
func accountReadActions() []MemberAction {
	return []MemberAction{
		{Action: "account:ListRegions", Scope: ScopeOwnAccount,
			Why: "which audited regions are opt-in (and which are not enabled) for the account, where the Anthropic use-case form is read again; the role asks about its own account only (the Service Authorization Reference lists the `account` resource type for it). The Account API is global, called in us-east-1: a region-deny SCP must exempt `account:ListRegions` for the audit role, or the form is read in every region and a warning says so"},
	}
}

// RegionStatuses reads the calling account's regions with their opt-in
// status, with the Account Management API's ListRegions (every page; the
// audit role needs account:ListRegions). Every status but
// ENABLED_BY_DEFAULT marks an opt-in region (a default region "cannot be
// enabled or disabled"); only ENABLED and ENABLED_BY_DEFAULT can be used.
// ledger: ACC-list-regions, ACC-opt-in-regions, ACC-region-not-enabled
func RegionStatuses(ctx context.Context, api RegionLister) (map[string]accounttypes.RegionOptStatus, error) {
	statuses := map[string]accounttypes.RegionOptStatus{}
	pages := awsaccount.NewListRegionsPaginator(api, &awsaccount.ListRegionsInput{MaxResults: aws.Int32(50)})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list regions: %w", err)
		}
		for i, r := range out.Regions {
			name := aws.ToString(r.RegionName)
			if name == "" || r.RegionOptStatus == "" {
				return nil, fmt.Errorf("list regions: regions[%d] has no RegionName or RegionOptStatus", i)
			}
			statuses[name] = r.RegionOptStatus
		}
	}
	return statuses, nil
}

// usableRegion reports whether the account can use a region with this
// opt-in status.
func usableRegion(st accounttypes.RegionOptStatus) bool {
	return st == accounttypes.RegionOptStatusEnabled || st == accounttypes.RegionOptStatusEnabledByDefault
}

// memberAccount holds one account's audit-role credentials, and its
// use-case form, for the run.
type memberAccount struct {
	once  sync.Once
	creds aws.CredentialsProvider
	err   error

	// The account's regions' opt-in status (nil when not known), and its use-case
	// forms by scope (see formScope), guarded by run.mu.
	regionsOnce sync.Once
	regions     map[string]accounttypes.RegionOptStatus
	forms       map[string]*formRead

	// For principal checks (guarded by run.mu): the account's units not
	// finished yet, its roles to evaluate, and its results waiting for them.
	units      int
	checks     int // the account's checks, for held's capacity
	principals config.PrincipalSet
	held       []held
}

func (r *run) member(account string) *memberAccount {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.accounts[account]
	if !ok {
		m = &memberAccount{}
		r.accounts[account] = m
	}
	return m
}

// assume returns the account's credentials. The role is assumed once per run:
// every region of the account shares the cached credentials, and a refusal is
// kept too, since aws.CredentialsCache would ask STS again for every region.
//
// The first AssumeRole runs here, holding a call slot, with the run's own
// context: the credentials cache calls its provider with a context that never
// ends, so a slot taken inside it would outlive the run's deadline. Later
// refreshes happen inside a Bedrock call, which already holds a slot.
func (r *run) assume(ctx context.Context, account string) (aws.CredentialsProvider, error) {
	m := r.member(account)
	m.once.Do(func() {
		role := r.c.cfg.Role
		roleARN := r.c.cfg.RoleARN(account)
		provider := stscreds.NewAssumeRoleProvider(r.c.sts, roleARN, func(o *stscreds.AssumeRoleOptions) {
			if role.ExternalID != "" {
				o.ExternalID = aws.String(role.ExternalID)
			}
			o.RoleSessionName = role.SessionName
			o.Duration = role.SessionDuration.Std()
		})
		var first aws.Credentials
		err := r.withCallSlot(ctx, func(ctx context.Context) (err error) {
			first, err = provider.Retrieve(ctx)
			return err
		})
		if err != nil {
			m.err = fmt.Errorf("assume role %s: %w", roleARN, err)
			r.refused(ctx, m.err)
			return
		}
		m.creds = aws.NewCredentialsCache(&seeded{first: &first, next: provider})
	})
	return m.creds, m.err
}

// refused stops the run when STS rejected the request itself rather than
// the caller: a ValidationError names a parameter grantwatch sent from its
// configuration, which is wrong for every account alike.
// ledger: STS-duration, STS-session-name
func (r *run) refused(ctx context.Context, err error) {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ValidationError" {
		return
	}
	r.mu.Lock()
	first := r.configErr == ""
	if first {
		r.configErr = fmt.Sprintf("STS refused AssumeRole as malformed (%s: %s). Fix the configuration: role.session_duration (at most 1h, since the auditor's own credentials are a role session and AWS caps role chaining at 1 hour, and within the member role's maximum), role.session_name, role.arn_template.",
			apiErr.ErrorCode(), apiErr.ErrorMessage())
	}
	r.mu.Unlock()
	if first {
		r.log.ErrorContext(ctx, "configuration error; the run stops", "error", err)
	}
	r.stop()
}

// seeded answers the first Retrieve with credentials already fetched, and
// asks its provider after that.
type seeded struct {
	mu    sync.Mutex
	first *aws.Credentials
	next  aws.CredentialsProvider
}

func (s *seeded) Retrieve(ctx context.Context) (aws.Credentials, error) {
	s.mu.Lock()
	first := s.first
	s.first = nil
	s.mu.Unlock()
	if first != nil {
		return *first, nil
	}
	return s.next.Retrieve(ctx)
}

// form reads the account's use-case form once per run for its commercial
// regions, and once in each opt-in region: the form covers the commercial
// regions, but an opt-in region needs its own (ledger:
// BR-form-opt-in-regions). When the account's opt-in regions are not
// known, every region is read on its own, which is right either way. A
// failure is an audit error of this one signal, kept in the run's summary;
// the model checks go on.
func (r *run) form(ctx context.Context, account, region string, creds aws.CredentialsProvider, api UseCaseGetter) Form {
	m := r.member(account)
	scope, optIn := r.formScope(ctx, m, account, region, creds)
	r.mu.Lock()
	if m.forms == nil {
		m.forms = map[string]*formRead{}
	}
	read, ok := m.forms[scope]
	if !ok {
		read = &formRead{}
		m.forms[scope] = read
	}
	r.mu.Unlock()
	read.once.Do(func() {
		err := r.withCallSlot(ctx, func(ctx context.Context) error {
			read.form = UseCaseForm(ctx, api)
			return nil
		})
		if err != nil {
			read.form = Form{Err: err}
		}
		read.form.Region, read.form.OptIn = scope, optIn
		if read.form.Err != nil && ctx.Err() == nil {
			where := ""
			switch {
			case optIn:
				where = " in opt-in region " + scope
			case scope != "":
				where = " in " + scope
			}
			r.mu.Lock()
			r.errors = append(r.errors, fmt.Sprintf("account %s: use-case form%s: %v%s", account, where, read.form.Err,
				readHint(read.form.Err, "the member role needs bedrock:GetUseCaseForModelAccess")))
			r.mu.Unlock()
			r.log.WarnContext(ctx, "use-case form not read", "account", account, "region", region, "error", read.form.Err)
		}
	})
	return read.form
}

// formScope says which form covers region: "" for the account's
// commercial regions; the region itself when it is an opt-in region
// (optIn) or its status is not known. The account's regions are listed
// once per run.
func (r *run) formScope(ctx context.Context, m *memberAccount, account, region string, creds aws.CredentialsProvider) (scope string, optIn bool) {
	st, known := r.regionStatus(ctx, m, account, region, creds)
	if known && st == accounttypes.RegionOptStatusEnabledByDefault {
		return "", false
	}
	return region, known
}

// regionStatus is region's opt-in status for the account, when known. The
// account's regions are listed once per run; a failure is a warning.
func (r *run) regionStatus(ctx context.Context, m *memberAccount, account, region string, creds aws.CredentialsProvider) (accounttypes.RegionOptStatus, bool) {
	m.regionsOnce.Do(func() {
		err := r.withCallSlot(ctx, func(ctx context.Context) (err error) {
			m.regions, err = RegionStatuses(ctx, r.c.newAccount(creds))
			return err
		})
		if err != nil && ctx.Err() == nil {
			r.mu.Lock()
			r.warnings = append(r.warnings, fmt.Sprintf("account %s: region opt-in status not read (%v)%s; the use-case form is read in each region instead",
				account, err, readHint(err, "the member role needs account:ListRegions")))
			r.mu.Unlock()
			r.log.WarnContext(ctx, "region opt-in status not read", "account", account, "error", err)
		}
	})
	st, known := m.regions[region]
	return st, known
}

// notEnabled reports, after a unit's first Bedrock call failed, whether the
// region is one the account has not enabled (or is enabling or disabling),
// which explains the failure. ledger: ACC-region-not-enabled
func (r *run) notEnabled(ctx context.Context, account, region string, creds aws.CredentialsProvider) (accounttypes.RegionOptStatus, bool) {
	st, known := r.regionStatus(ctx, r.member(account), account, region, creds)
	return st, known && !usableRegion(st)
}

// readHint is advice for a failed read of one signal, only where the error's
// code says what it is: a refusal (AccessDenied...) is the member role's
// missing permission, unless its message names a service control policy
// (AWS's denials say "with an explicit deny in a service control policy";
// ledger: ACC-list-regions), throttling is load. Any other error gets none.
func readHint(err error, denied string) string {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return ""
	}
	switch code := apiErr.ErrorCode(); {
	case strings.HasPrefix(code, "AccessDenied") && strings.Contains(apiErr.ErrorMessage(), "service control policy"):
		return " (a service control policy denies it: exempt the grantwatch audit role from that SCP, not the member-role stack)"
	case strings.HasPrefix(code, "AccessDenied"):
		return " (" + denied + ": update the member-role StackSet)"
	case Throttled(code):
		return " (throttled after every retry: lower limits.per_account_region or limits.concurrency; the next run reads it again)"
	}
	return ""
}

// formRead is one read of a use-case form.
type formRead struct {
	once sync.Once
	form Form
}
