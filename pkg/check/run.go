package check

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	accounttypes "github.com/aws/aws-sdk-go-v2/service/account/types"
	"github.com/aws/smithy-go"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/result"
	"github.com/grantwatch/grantwatch/pkg/targets"
)

// Check runs the plan's checks: it assumes the audit role once in each
// account and checks every required model in every region, with bounded
// concurrency. It never fails as a whole: a failing account or region becomes
// AUDIT_ERROR results, a configuration AWS refuses is recorded in the
// summary. When ctx ends first, Check returns the checks it finished and
// marks the run incomplete; checks cut off by the deadline are left out, not
// reported as errors. The results come in a stable order.
func (c *Checker) Check(ctx context.Context, p *targets.Plan) *result.Report {
	log := c.logger.With("run_id", p.RunID)
	s := p.Summary
	log.InfoContext(ctx, "audit started", "accounts", s.Accounts, "regions", s.Regions, "checks", s.Planned)

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	r := &run{
		c: c, log: log, planned: s.Planned, stop: stop,
		calls:          make(chan struct{}, c.cfg.Limits.Concurrency),
		accounts:       map[string]*memberAccount{},
		offeredIn:      map[string]map[string]bool{},
		results:        make([]result.Result, 0, s.Planned*(1+principalsPerCheck(p.Units))),
		causes:         map[string]string{},
		regionLists:    map[string][]string{},
		regionProfiles: map[string]Profiles{},
		marks:          map[string]*result.Marks{},
	}
	if c.cfg.Principals.Configured() {
		for _, u := range p.Units {
			if u.Principals != nil {
				m := r.member(u.Account)
				m.units++
				m.checks += len(u.Models)
				m.principals = *u.Principals
			}
		}
	}
	r.all(ctx, p.Units)

	seen := Seen{OfferedIn: make(map[string][]string, len(r.offeredIn)), Profiles: r.regionProfiles}
	for id, regions := range r.offeredIn {
		seen.OfferedIn[id] = slices.Sorted(maps.Keys(regions))
	}
	Reconcile(r.results, seen)
	s.Warnings = append(s.Warnings, Suppress(r.results, c.cfg.Suppressions, ousOf(p.Units), c.now())...)
	slices.SortFunc(r.results, result.Compare)
	s.Summarize(r.results)
	s.ConfigError = r.configErr
	slices.Sort(r.errors)
	s.Errors = append(s.Errors, r.errors...)
	slices.Sort(r.warnings)
	s.Warnings = append(s.Warnings, r.warnings...)
	s.Incomplete = s.Checked < s.Planned || p.DiscoveryCut
	if s.Incomplete {
		s.Unreached = unreached(p.Units, r.results)
	}
	s.FinishedAt = c.now().UTC()
	s.DurationMS = s.FinishedAt.Sub(s.StartedAt).Milliseconds()
	log.InfoContext(ctx, "audit finished", "checked", s.Checked, "planned", s.Planned,
		"not_usable", s.NotUsable, "audit_errors", s.AuditErrs,
		"principal_checks", s.PrincipalChecks, "principal_not_usable", s.PrincipalNotUsable, "principal_audit_errors", s.PrincipalAuditErrs, "incomplete", s.Incomplete, "duration_ms", s.DurationMS)
	return &result.Report{Summary: s, Results: r.results}
}

// unreached lists the planned accounts without a single result.
func unreached(units []targets.Unit, results []result.Result) []string {
	seen := map[string]bool{}
	for _, r := range results {
		seen[r.Account] = true
	}
	var out []string
	for _, u := range units {
		if !seen[u.Account] && !slices.Contains(out, u.Account) {
			out = append(out, u.Account)
		}
	}
	slices.Sort(out)
	return out
}

// principalsPerCheck estimates how many principal results each check adds,
// so that the results are allocated once: growing a slice of 300,000
// results by doubling would hold both copies at its peak.
func principalsPerCheck(units []targets.Unit) int {
	n := 0
	for _, u := range units {
		if u.Principals == nil {
			continue
		}
		k := len(u.Principals.Roles) + len(u.Principals.ARNTemplates)
		if u.Principals.Tag != "" {
			k++
		}
		n = max(n, k)
	}
	return n
}

// run is the state of one Check.
type run struct {
	c       *Checker
	log     *slog.Logger
	planned int
	// stop ends the run early, on a configuration error.
	stop  context.CancelFunc
	calls chan struct{} // one slot per API call in flight, for the whole run
	done  atomic.Int64

	mu        sync.Mutex
	configErr string
	errors    []string // failures of signals outside one check, such as the use-case form
	warnings  []string // signals missed with no loss of verdicts, such as region opt-in status
	accounts  map[string]*memberAccount
	offeredIn map[string]map[string]bool // model or profile id -> regions that list it
	// regionProfiles are the system profiles of each region whose profiles
	// were listed (the first account's listing: system profiles are
	// defined by Bedrock per region, inferred to be alike for every account).
	regionProfiles map[string]Profiles
	results        []result.Result
	causes         map[string]string // texts interned by intern
	// regionLists are the destination lists met so far, by their text, and
	// marks the results' shared marks, by the same.
	regionLists map[string][]string
	marks       map[string]*result.Marks
}

// all hands units to twice as many workers as calls may be in flight. The call
// slots are the limit, not the workers: the units of an account that was just
// reached all wait for its one AssumeRole, holding no slot, and with only one
// worker per slot the slots would sit idle meanwhile (measured: efficiency
// 0.83 with one worker per slot, see BenchmarkOrganization).
func (r *run) all(ctx context.Context, units []targets.Unit) {
	work := make(chan targets.Unit)
	var wg sync.WaitGroup
	for range min(2*cap(r.calls), len(units)) {
		wg.Go(func() {
			for u := range work {
				r.unit(ctx, u)
			}
		})
	}
feed:
	for _, u := range units {
		select {
		case work <- u:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
}

// unit checks every model of one account in one region.
func (r *run) unit(ctx context.Context, u targets.Unit) {
	principals := u.Principals != nil
	if principals {
		defer r.unitDone(ctx, u.Account)
	}
	limits := r.c.cfg.Limits
	slots := make(chan struct{}, limits.PerAccountRegion)
	creds, err := r.assume(ctx, u.Account)
	if err != nil {
		if ctx.Err() == nil {
			r.failAll(ctx, u, StageAssumeRole, err)
		}
		return
	}
	api := r.c.newBedrock(u.Region, creds)

	var catalog Catalog
	err = r.call(ctx, slots, func(ctx context.Context) (err error) {
		catalog, err = ListCatalog(ctx, api)
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		if st, ok := r.notEnabled(ctx, u.Account, u.Region, creds); ok {
			for _, m := range u.Models {
				r.record(ctx, RegionNotEnabled(u.Account, u.Region, m, st, err))
			}
			return
		}
		r.failAll(ctx, u, StageListModels, err)
		return
	}
	var profiles Profiles
	var profilesErr error
	if needsProfiles(u.Models, catalog) {
		profilesErr = r.call(ctx, slots, func(ctx context.Context) (err error) {
			profiles, err = ListProfiles(ctx, api)
			return err
		})
		if ctx.Err() != nil {
			return
		}
	}
	r.mu.Lock()
	for id := range catalog {
		r.offered(id, u.Region)
	}
	for id, p := range profiles {
		r.offered(id, u.Region)
		p.Destinations = r.shared(p.Destinations)
		profiles[id] = p
	}
	if _, ok := r.regionProfiles[u.Region]; !ok && profiles != nil {
		r.regionProfiles[u.Region] = profiles
	}
	r.mu.Unlock()

	var wg sync.WaitGroup
	for _, model := range u.Models {
		wg.Go(func() {
			e := Evidence{Account: u.Account, Region: u.Region, Model: model, Catalog: catalog, Profiles: profiles, ProfilesErr: profilesErr}
			res, done := r.resolve(ctx, slots, api, &e)
			if ctx.Err() != nil {
				return // cut off by the run's deadline: not checked, not an error
			}
			if done {
				r.record(ctx, res)
				return
			}
			model := e.Model
			if e.Profile != nil {
				model = e.Profile.Model
			}
			if anthropic(model) || catalog[model].Provider == "Anthropic" {
				f := r.form(ctx, u.Account, u.Region, creds, api)
				e.Form = &f
			}
			e.Err = r.call(ctx, slots, func(ctx context.Context) (err error) {
				e.Availability, err = Availability(ctx, api, model)
				return err
			})
			if ctx.Err() != nil {
				return
			}
			verdict := Classify(e)
			if !principals {
				r.record(ctx, verdict)
				return
			}
			h := held{res: verdict, needs: needsOf(verdict, e, r.c.cfg.Partition(), r.intern), noStream: catalog[model].NoStreaming}
			if e.Profile != nil {
				h.via = e.Profile.ARN
			}
			// ledger: MP-not-sold-providers
			if verdict.Status == result.AgreementMissing && !notSoldThroughMarketplace(catalog[model].Provider) {
				h.marketplace, h.productID = true, productIDs[model]
			}
			r.hold(u.Account, h)
		})
	}
	wg.Wait()
}

// needsProfiles reports whether a unit must list the region's inference
// profiles: when a required id is a system profile, or a base model answers
// only through one or is not offered in the region (to name the profile to
// call instead, or to say there is none).
func needsProfiles(models []string, catalog Catalog) bool {
	for _, m := range models {
		ref, _ := config.ParseModel(m)
		if ref.IsProfile() {
			if ref.Kind == config.SystemProfile {
				return true
			}
			continue
		}
		if listed, ok := catalog[m]; !ok || listed.ProfileOnly() {
			return true
		}
	}
	return false
}

// resolve finds the inference profile a required id names. It returns a
// result, and true, when that already decides the check: the profile does
// not exist in the region, or could not be read.
func (r *run) resolve(ctx context.Context, slots chan struct{}, api BedrockAPI, e *Evidence) (result.Result, bool) {
	ref, _ := config.ParseModel(e.Model)
	switch ref.Kind {
	case config.SystemProfile:
		if e.ProfilesErr != nil {
			return Failed(e.Account, e.Region, e.Model, StageListProfiles, e.ProfilesErr), true
		}
		p, ok := e.Profiles[ref.ProfileID]
		if !ok {
			return Classify(*e), true
		}
		e.Profile = &p
	case config.ApplicationProfile:
		var p Profile
		err := r.call(ctx, slots, func(ctx context.Context) (err error) {
			p, err = GetProfile(ctx, api, e.Model)
			return err
		})
		var apiErr smithy.APIError
		switch {
		case errors.As(err, &apiErr) && apiErr.ErrorCode() == "ResourceNotFoundException":
			return Classify(*e), true
		case err != nil:
			return Failed(e.Account, e.Region, e.Model, StageGetProfile, err), true
		}
		e.Profile = &p
	}
	return result.Result{}, false
}

// intern returns the run's one copy of a text that repeats across accounts.
func (r *run) intern(s string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.causes[s]; ok {
		return c
	}
	r.causes[s] = s
	return s
}

// shared returns the run's one copy of a list of regions: every
// account-region lists the same profiles, and each result keeps its
// profile's destinations; r.mu is held.
func (r *run) shared(regions []string) []string {
	key := strings.Join(regions, ",")
	if s, ok := r.regionLists[key]; ok {
		return s
	}
	r.regionLists[key] = regions
	return regions
}

// offered notes that region lists a model or profile id; r.mu is held.
func (r *run) offered(id, region string) {
	if r.offeredIn[id] == nil {
		r.offeredIn[id] = map[string]bool{}
	}
	r.offeredIn[id][region] = true
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

// call runs fn holding a slot of its account-region and one of the run, with
// the per-call timeout.
func (r *run) call(ctx context.Context, slots chan struct{}, fn func(context.Context) error) error {
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-slots }()
	return r.withCallSlot(ctx, fn)
}

func (r *run) withCallSlot(ctx context.Context, fn func(context.Context) error) error {
	select {
	case r.calls <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-r.calls }()
	ctx, cancel := context.WithTimeout(ctx, r.c.cfg.Limits.CallTimeout.Std())
	defer cancel()
	return fn(ctx)
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
		arn := r.c.cfg.RoleARN(account)
		provider := stscreds.NewAssumeRoleProvider(r.c.sts, arn, func(o *stscreds.AssumeRoleOptions) {
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
			m.err = fmt.Errorf("assume role %s: %w", arn, err)
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

func (r *run) failAll(ctx context.Context, u targets.Unit, stage Stage, err error) {
	for _, m := range u.Models {
		r.record(ctx, Failed(u.Account, u.Region, m, stage, err))
	}
}

func (r *run) record(ctx context.Context, res result.Result) {
	// Causes repeat across accounts ("...; use-case form: found"): keep one
	// copy of each, as a run holds every result until it ends.
	res.Cause = r.intern(res.Cause)
	r.mu.Lock()
	// Results of one profile route alike: share their marks (copied on
	// write, so a later mark on one result does not touch the others).
	if m := res.Marks; m != nil && !m.Critical && m.Suppressed == nil && m.DestinationRegions != nil {
		key := strings.Join(m.DestinationRegions, ",")
		if shared, ok := r.marks[key]; ok {
			res.Marks = shared
		} else {
			r.marks[key] = m
		}
	}
	r.results = append(r.results, res)
	r.mu.Unlock()
	level := slog.LevelDebug
	switch {
	case res.Status == result.AuditError:
		level = slog.LevelWarn
	case !res.Status.Usable():
		level = slog.LevelInfo
	}
	r.log.Log(ctx, level, "checked", "account", res.Account, "region", res.Region, "model", res.Model, "status", res.Status, "cause", res.Cause)
	if res.Principal != "" {
		return // progress counts the planned checks
	}
	done := int(r.done.Add(1))
	if r.c.progress != nil {
		r.c.progress(done, r.planned)
	}
}
