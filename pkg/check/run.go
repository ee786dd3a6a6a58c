package check

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
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

	if refused := tooLarge(p, c.now); refused != nil {
		log.ErrorContext(ctx, "plan too large; nothing checked", "error", refused.ConfigError)
		return &result.Report{Summary: *refused}
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	r := &run{
		c: c, log: log, planned: s.Planned, stop: stop,
		calls:     make(chan struct{}, c.cfg.Limits.Concurrency),
		accounts:  map[string]*memberAccount{},
		offeredIn: map[string]map[string]bool{},
		// Allocated once for the plan (tooLarge bounds it by MaxResults):
		// growing a list of 300,000 results would hold the old and the new
		// array at once, 70 MB instead of 36 at the benchmark's 1,000 accounts.
		results:        make([]result.Result, 0, plannedResults(p.Units)),
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
	workers(ctx, 2*cap(r.calls), units, func(u targets.Unit) { r.unit(ctx, u) })
}

// unit checks every model of one account in one region.
func (r *run) unit(ctx context.Context, u targets.Unit) {
	if u.Principals != nil {
		defer r.unitDone(ctx, u.Account)
	}
	ul, ok := r.listUnit(ctx, u)
	if !ok {
		return
	}
	// One goroutine per call slot of the account-region, not one per model:
	// a model waits for a slot anyway, and 10,000 models would otherwise be
	// 10,000 goroutines in each of the run's account-regions at once.
	workers(ctx, r.c.cfg.Limits.PerAccountRegion, u.Models, func(id string) { r.checkModel(ctx, ul, id) })
}

// unitListing is what the checks of one account-region share: its call
// slots, the account's credentials, the Bedrock client, and the region's
// models and (when needed) inference profiles.
type unitListing struct {
	u           targets.Unit
	slots       chan struct{}
	creds       aws.CredentialsProvider
	api         BedrockAPI
	catalog     Catalog
	profiles    Profiles
	profilesErr error
}

// listUnit assumes the account's role and lists the region's models and
// profiles; false when the unit's checks end there (recorded as failed or
// not enabled, or cut off by the run's end).
func (r *run) listUnit(ctx context.Context, u targets.Unit) (*unitListing, bool) {
	limits := r.c.cfg.Limits
	slots := make(chan struct{}, limits.PerAccountRegion)
	creds, err := r.assume(ctx, u.Account)
	if err != nil {
		if ctx.Err() == nil {
			r.failAll(ctx, u, StageAssumeRole, err)
		}
		return nil, false
	}
	api := r.c.newBedrock(u.Region, creds)

	var catalog Catalog
	err = r.call(ctx, slots, func(ctx context.Context) (err error) {
		catalog, err = ListCatalog(ctx, api)
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, false
		}
		if st, ok := r.notEnabled(ctx, u.Account, u.Region, creds); ok {
			for _, m := range u.Models {
				r.record(ctx, RegionNotEnabled(u.Account, u.Region, m, st, err))
			}
			return nil, false
		}
		r.failAll(ctx, u, StageListModels, err)
		return nil, false
	}
	var profiles Profiles
	var profilesErr error
	if needsProfiles(u.Models, catalog) {
		profilesErr = r.call(ctx, slots, func(ctx context.Context) (err error) {
			profiles, err = ListProfiles(ctx, api)
			return err
		})
		if ctx.Err() != nil {
			return nil, false
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
	return &unitListing{u: u, slots: slots, creds: creds, api: api, catalog: catalog, profiles: profiles, profilesErr: profilesErr}, true
}

// checkModel checks one required id of the unit, and records its result,
// or holds it for the account's principals.
func (r *run) checkModel(ctx context.Context, ul *unitListing, id string) {
	u, slots, api, catalog := ul.u, ul.slots, ul.api, ul.catalog
	e := Evidence{Account: u.Account, Region: u.Region, Model: id, Catalog: catalog, Profiles: ul.profiles, ProfilesErr: ul.profilesErr}
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
		f := r.form(ctx, u.Account, u.Region, ul.creds, api)
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
	if u.Principals == nil {
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
		// An application profile that does not exist in the region.
		// ledger: BR-profiles
		case errors.As(err, &apiErr) && apiErr.ErrorCode() == "ResourceNotFoundException":
			return Classify(*e), true
		case err != nil:
			return Failed(e.Account, e.Region, e.Model, StageGetProfile, err), true
		}
		e.Profile = &p
	}
	return result.Result{}, false
}
