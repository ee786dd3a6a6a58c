package check

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/grantwatch/grantwatch/pkg/result"
)

// held is an account-level result that waits for its account's principals.
type held struct {
	res   result.Result
	needs []Need
	// via is the ARN of the inference profile the call goes through, "" for
	// a base model id.
	via string
	// marketplace: the account has no agreement for a model sold through
	// AWS Marketplace, so the first call must subscribe; productID is the
	// model's Marketplace product id, "" when not known.
	marketplace bool
	productID   string
	// noStream: the model's responseStreamingSupported is false.
	noStream bool
}

// needsOf lists what a principal's call for res touches. Checks whose model
// cannot be called whatever the principal may do get none and no principal
// results: the account-level result says it all.
func needsOf(res result.Result, e Evidence, partition string, intern func(string) string) []Need {
	if !res.Status.Callable() {
		return nil
	}
	if e.Profile == nil {
		return []Need{{res.Region, intern(foundationModelARN(partition, res.Region, res.Model))}}
	}
	needs := make([]Need, 0, 1+len(e.Profile.Destinations))
	needs = append(needs, Need{res.Region, e.Profile.ARN})
	for _, d := range e.Profile.Destinations {
		if d == GlobalDestination {
			needs = append(needs, Need{unspecifiedRegion, intern(foundationModelARN(partition, "", e.Profile.Model))})
			continue
		}
		needs = append(needs, Need{d, intern(foundationModelARN(partition, d, e.Profile.Model))})
	}
	return needs
}

// hold keeps an account-level result until the account's principals are
// evaluated, since a principal's verdict can change its severity.
func (r *run) hold(account string, h held) {
	m := r.member(account)
	r.mu.Lock()
	if m.held == nil {
		m.held = make([]held, 0, m.checks)
	}
	m.held = append(m.held, h)
	r.mu.Unlock()
}

// unitDone counts the account's finished units; the last one evaluates the
// account's principals once, over every region's needs, so that each
// (principal, region) is simulated once per run.
func (r *run) unitDone(ctx context.Context, account string) {
	m := r.member(account)
	r.mu.Lock()
	m.units--
	if m.units > 0 {
		r.mu.Unlock()
		return
	}
	holds := m.held
	m.held = nil
	r.mu.Unlock()
	if ctx.Err() == nil && m.creds != nil {
		r.principalChecks(ctx, account, m, holds)
	}
	for _, h := range holds {
		r.record(ctx, h.res)
	}
}

// principalChecks evaluates every principal of the account for every held
// check and records the principals' results. A principal's simulations are
// one per requested region and one for Marketplace, batched over every
// check of the account; a second round asks the global hops (one per
// global profile), and asks again, with bedrock:InferenceProfileArn or
// aws-marketplace:ProductId, only where the first answer says a policy uses
// that key (MissingContextValues), so policies without such conditions cost
// no extra call; neither is asked for a profile an SCP already denies
// (settledProfiles). Its steps: plan the simulations, simulate, classify.
func (r *run) principalChecks(ctx context.Context, account string, m *memberAccount, holds []held) {
	plan, ok := planSimulations(holds)
	if !ok {
		return
	}
	api := slottedIAM{r, r.c.newIAM(m.creds)}
	principals, err := Principals(ctx, api, r.c.cfg.Partition(), account, m.principals)
	if err != nil {
		tagged := Principal{Name: "tag:" + m.principals.Tag}
		for _, h := range holds {
			if len(h.needs) > 0 && ctx.Err() == nil {
				r.record(ctx, principalFailed(h, tagged, StageListRoles, err))
			}
		}
		return
	}
	sim := newSimulation(api, principals, r.c.cfg.Limits.PerAccountRegion)
	sim.exhaustive = r.c.exhaustive
	sim.rounds(ctx, plan, principals, holds)
	if ctx.Err() != nil {
		return
	}
	r.classifyPrincipals(ctx, principals, sim, holds)
}

// simulationPlan is what an account's principals are simulated on: the
// resources of each requested region, those of the global hop by the
// global profile they are reached through, and whether Marketplace is asked.
type simulationPlan struct {
	byRegion    map[string][]string
	hops        map[string][]string
	marketplace bool
}

// planSimulations gathers the held checks' needs; false when there are none.
func planSimulations(holds []held) (simulationPlan, bool) {
	var needs []Need
	marketplace := false
	for _, h := range holds {
		needs = append(needs, h.needs...)
		marketplace = marketplace || (h.marketplace && len(h.needs) > 0)
	}
	if len(needs) == 0 {
		return simulationPlan{}, false
	}
	byRegion := map[string][]string{}
	for _, n := range needs {
		if !slices.Contains(byRegion[n.Region], n.Resource) {
			byRegion[n.Region] = append(byRegion[n.Region], n.Resource)
		}
	}
	for _, resources := range byRegion {
		slices.Sort(resources)
	}
	// The global hop is only ever reached through a global profile, so it
	// is simulated with that profile's bedrock:InferenceProfileArn from the
	// start, one simulation per global profile: an SCP may deny the hop by
	// that key alone (AWS's "disable global cross-Region inference" SCP),
	// and IAM lists no SCP key as missing. ledger: IAM-inference-profile-arn
	hops := map[string][]string{}
	for _, h := range holds {
		for _, n := range h.needs {
			if n.Region == unspecifiedRegion && !slices.Contains(hops[h.via], n.Resource) {
				hops[h.via] = append(hops[h.via], n.Resource)
			}
		}
	}
	return simulationPlan{byRegion: byRegion, hops: hops, marketplace: marketplace}, true
}

// jobs are the first round's simulations, each principal's in a row: one
// per requested region where a call arrives, and Marketplace's.
func (pl simulationPlan) jobs(principals []Principal) []simJob {
	var jobs []simJob
	for _, p := range principals {
		for _, region := range slices.Sorted(maps.Keys(pl.byRegion)) {
			if region == unspecifiedRegion { // a hop, never where a call arrives
				continue
			}
			jobs = append(jobs, simJob{p, Query{Region: region, Actions: p.simulated(), Resources: pl.byRegion[region]}})
		}
		if pl.marketplace {
			jobs = append(jobs, simJob{p, Query{Region: marketplaceMarker, RequestedRegion: marketplaceRegion, Actions: marketplaceActions}})
		}
	}
	return jobs
}

// hopJobs are a principal's global hops, one per global profile it is
// reached through, but for the profiles in settled.
func (pl simulationPlan) hopJobs(p Principal, settled map[string]bool) []simJob {
	var jobs []simJob
	for _, via := range slices.Sorted(maps.Keys(pl.hops)) {
		if !settled[via] {
			jobs = append(jobs, simJob{p, Query{Region: unspecifiedRegion, Actions: p.invokeActions(true), Resources: slices.Sorted(slices.Values(pl.hops[via])), Via: via}})
		}
	}
	return jobs
}

// settledProfiles are the inference profiles (by source-region ARN) whose
// every check the principal's first round has already decided: an SCP
// denies the call on the profile itself (as Simulate can attribute it).
// No later call changes that answer (the profile's own evaluation carries
// no bedrock:InferenceProfileArn; ledger: IAM-inference-profile-arn), though
// it is only as true as the keys the simulation carries (docs/principals.md),
// and it is the worst decision of the check
// whatever its destinations say, since no layer ranks before an SCP and
// the profile is the check's first resource (worstOf keeps the first of
// equal rank). So neither the global hop nor a second round with the
// profile's ARN can change the principal's verdict, cause or remedy, and
// they are not asked (TestSimulationShortcutsKeepVerdicts).
func settledProfiles(p Principal, ds Decisions, holds []held) map[string]bool {
	settled := map[string]bool{}
	for _, h := range holds {
		if h.via == "" || len(h.needs) == 0 {
			continue
		}
		done, seen := settled[h.via]
		if seen && !done {
			continue
		}
		settled[h.via] = profileSCPDenied(h, p, ds)
	}
	return settled
}

// profileSCPDenied: an SCP denies one of the actions worstOf considers on
// the profile the check calls (its first need), as Simulate attributes the
// call's OrganizationsDecisionDetail (ledger: IAM-orgs-decision-detail).
func profileSCPDenied(h held, p Principal, ds Decisions) bool {
	if h.needs[0].Resource != h.via {
		return false
	}
	actions := p.invokeActions(!h.noStream)
	if p.APIKey {
		actions = append(actions, actionBearer)
	}
	for _, a := range actions {
		if d, ok := ds.Get(DecisionKey{h.needs[0], a, ""}); ok && denial(d) == result.SCPDenied {
			return true
		}
	}
	return false
}

// simulation holds an account's principals' answers as they come in: each
// principal's decisions, and the first error of a principal whose role is
// missing or refused.
type simulation struct {
	api RoleSimulator
	// exhaustive asks every simulation, also those whose answer cannot
	// change a verdict (tests compare the two).
	exhaustive bool
	// slots lets at most limits.per_account_region of the account's
	// simulations run at once.
	slots     chan struct{}
	mu        sync.Mutex
	decisions map[string]Decisions
	failures  map[string]error
}

func newSimulation(api RoleSimulator, principals []Principal, perAccountRegion int) *simulation {
	decisions := make(map[string]Decisions, len(principals))
	for _, p := range principals {
		decisions[p.Name] = Decisions{}
	}
	return &simulation{api: api, slots: make(chan struct{}, perAccountRegion), decisions: decisions, failures: map[string]error{}}
}

// rounds runs the first round (the requested regions and Marketplace),
// then the second: the global hops and the follow-ups, but those whose
// profile the first round has settled.
func (s *simulation) rounds(ctx context.Context, plan simulationPlan, principals []Principal, holds []held) {
	jobs := plan.jobs(principals)
	// Each principal's first simulation goes alone: a missing role costs
	// one call, not one per region.
	var first, rest []simJob
	for _, j := range jobs {
		if len(first) == 0 || first[len(first)-1].p.Name != j.p.Name {
			first = append(first, j)
		} else {
			rest = append(rest, j)
		}
	}
	s.round(ctx, first)
	s.round(ctx, rest)
	if ctx.Err() != nil {
		return
	}
	var again []simJob
	for _, p := range principals {
		if s.failures[p.Name] != nil {
			continue
		}
		settled := map[string]bool{}
		if !s.exhaustive {
			settled = settledProfiles(p, s.decisions[p.Name], holds)
		}
		again = append(again, plan.hopJobs(p, settled)...)
		again = append(again, followUps(p, s.decisions[p.Name], holds, settled)...)
	}
	s.round(ctx, again)
}

// round runs its jobs side by side, each one simulation, on at most
// limits.per_account_region goroutines, the caller's among them, each
// taking jobs by index. A goroutine per job started with a small stack that
// every SDK call grew again (stack growth was 8% of the run's CPU); these
// keep theirs from one simulation to the next. Every job is tried, also
// after ctx ends, so that a principal whose simulation could not run is a
// recorded failure, not a missing answer.
func (s *simulation) round(ctx context.Context, js []simJob) {
	var next atomic.Int64
	work := func() {
		for {
			i := next.Add(1) - 1
			if i >= int64(len(js)) {
				return
			}
			s.simulate(ctx, js[i])
		}
	}
	var wg sync.WaitGroup
	for range min(cap(s.slots), len(js)) - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
}

// simulate runs one job holding one of the account's slots.
func (s *simulation) simulate(ctx context.Context, j simJob) {
	s.slots <- struct{}{}
	defer func() { <-s.slots }()
	s.mu.Lock()
	failed := s.failures[j.p.Name] != nil
	s.mu.Unlock()
	if failed {
		return // a role that is missing or refused stays so
	}
	ds := map[DecisionKey]Decision{}
	err := Simulate(ctx, s.api, j.p, j.q, ds)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if s.failures[j.p.Name] == nil {
			s.failures[j.p.Name] = err
		}
		return
	}
	if s.decisions[j.p.Name][j.q.Region] == nil {
		s.decisions[j.p.Name][j.q.Region] = ds
	} else { // a second round's answers next to the first's
		maps.Copy(s.decisions[j.p.Name][j.q.Region], ds)
	}
}

// classifyPrincipals records each principal's result for each held check
// that has needs; a Marketplace denial is also said on the account's result.
func (r *run) classifyPrincipals(ctx context.Context, principals []Principal, sim *simulation, holds []held) {
	for _, p := range principals {
		ds := sim.decisions[p.Name]
		for i, h := range holds {
			if len(h.needs) == 0 {
				continue
			}
			if err := sim.failures[p.Name]; err != nil {
				r.record(ctx, principalFailed(h, p, StageSimulate, err))
				continue
			}
			res := classifyPrincipal(h, p, ds)
			if res.Status == result.MarketplaceDenied {
				// By default only said: whoever calls first subscribes, and
				// that need not be this principal.
				if r.c.cfg.Alerts.MarketplaceDeniedCritical {
					holds[i].res.MarkCritical()
				}
				holds[i].res.Cause += fmt.Sprintf("; %s may not subscribe (MARKETPLACE_DENIED): a first call from it would fail", p.Name)
			}
			r.record(ctx, res)
		}
	}
}

// simJob is one simulation of a principal.
type simJob struct {
	p Principal
	q Query
}

// followUps are the second round of a principal's simulations: where the
// first answer on a foundation model reached through a profile lacked
// bedrock:InferenceProfileArn, or an SCP denied it, one per (region,
// profile) with it; where the
// Marketplace answer lacked aws-marketplace:ProductId, one per known
// product id with it.
func followUps(p Principal, ds Decisions, holds []held, settled map[string]bool) []simJob {
	type key struct{ region, via string }
	resources := map[key][]string{}
	var products []string
	// subscribe is the Subscribe action as the answer named it, when that
	// answer lacked aws-marketplace:ProductId; "" otherwise.
	subscribe := ""
	for k, d := range ds[marketplaceMarker] {
		if slices.ContainsFunc(d.Missing, func(m string) bool { return strings.EqualFold(m, keyProductID) }) {
			// Only Subscribe's request carries aws-marketplace:ProductId
			// (Bedrock user guide, "Request access to models": "For the
			// aws-marketplace:Subscribe action only"). ledger: MP-product-id
			if strings.EqualFold(k.Action, marketplaceActions[0]) {
				subscribe = k.Action
			}
		}
	}
	for _, h := range holds {
		if h.via != "" && !settled[h.via] {
			for _, n := range h.needs {
				if n.Resource == h.via {
					// The profile's own evaluation carries no
					// bedrock:InferenceProfileArn. ledger: IAM-inference-profile-arn
					continue
				}
				// Only the invoke actions: bedrock:CallWithBearerToken is
				// read where the call arrives (the profile itself), never
				// on the models the second round asks about.
				for _, a := range p.invokeActions(true) {
					d, ok := ds[n.Region][DecisionKey{n, a, ""}]
					k := key{n.Region, h.via}
					// IAM lists no SCP key as missing, so an SCP denial
					// asks again too: a region-deny SCP may exempt calls
					// through a profile by bedrock:InferenceProfileArn
					// (global cross-Region inference page, SCP Note).
					// ledger: IAM-inference-profile-arn
					scpDenied := ok && d.Decision != iamtypes.PolicyEvaluationDecisionTypeAllowed && !d.AllowedByOrganizations
					if ok && (scpDenied || slices.ContainsFunc(d.Missing, func(m string) bool { return strings.EqualFold(m, keyProfileARN) })) && !slices.Contains(resources[k], n.Resource) {
						resources[k] = append(resources[k], n.Resource)
					}
				}
			}
		}
		if h.marketplace && h.productID != "" && subscribe != "" && len(h.needs) > 0 && !slices.Contains(products, h.productID) {
			products = append(products, h.productID)
		}
	}
	var out []simJob
	for _, k := range slices.SortedFunc(maps.Keys(resources), func(a, b key) int { return cmp.Or(strings.Compare(a.region, b.region), strings.Compare(a.via, b.via)) }) {
		out = append(out, simJob{p, Query{Region: k.region, Actions: p.invokeActions(true), Resources: resources[k], Via: k.via}})
	}
	for _, id := range products {
		out = append(out, simJob{p, Query{Region: marketplaceMarker, RequestedRegion: marketplaceRegion, Actions: []string{subscribe}, ProductID: id}})
	}
	return out
}
