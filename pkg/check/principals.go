package check

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/result"
)

// RoleSimulator is the part of *iam.Client that evaluates a role's permissions.
type RoleSimulator interface {
	SimulatePrincipalPolicy(ctx context.Context, in *iam.SimulatePrincipalPolicyInput, optFns ...func(*iam.Options)) (*iam.SimulatePrincipalPolicyOutput, error)
}

// RoleLister is the part of *iam.Client that finds roles by tag.
type RoleLister interface {
	ListRoles(ctx context.Context, in *iam.ListRolesInput, optFns ...func(*iam.Options)) (*iam.ListRolesOutput, error)
	ListRoleTags(ctx context.Context, in *iam.ListRoleTagsInput, optFns ...func(*iam.Options)) (*iam.ListRoleTagsOutput, error)
}

// IAMAPI is all principal checks need from IAM.
type IAMAPI interface {
	RoleSimulator
	RoleLister
}

var _ IAMAPI = (*iam.Client)(nil)

// The actions a principal needs: the two that invoke a model, and the two
// that let its first call subscribe the account to a Marketplace model.
var (
	invokeActions      = []string{"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"}
	marketplaceActions = []string{"aws-marketplace:Subscribe", "aws-marketplace:ViewSubscriptions"}
)

// marketplaceRegion is where AWS Marketplace subscriptions are made, the
// aws:RequestedRegion its calls carry (inferred: Marketplace's endpoint is in
// us-east-1).
const marketplaceRegion = "us-east-1"

// Principal is a role whose permissions are evaluated.
type Principal struct {
	Name, ARN string
}

// Need is one resource a principal's call touches, in the region its
// request goes to: the model or profile in the source region, and for a
// profile the model in every destination region.
type Need struct {
	Region, Resource string
}

// Decision is what SimulatePrincipalPolicy said of one action on one resource.
type Decision struct {
	Decision iamtypes.PolicyEvaluationDecisionType
	// AllowedByOrganizations is the call's aggregate OrganizationsDecisionDetail:
	// IAM gives it per action, not per resource.
	AllowedByOrganizations bool
	// AllowedByBoundary is nil when the role has no permissions boundary.
	AllowedByBoundary *bool
	// Policies are the identity policies whose Deny decided it (kept for
	// explicit denies only: that is all a verdict names).
	Policies []string
}

// DecisionKey is one action on one resource in one requested region.
type DecisionKey struct {
	Need
	Action string
}

// Decisions are a principal's answers, by requested region: each region's
// simulation fills its own map, so nothing is copied.
type Decisions map[string]map[DecisionKey]Decision

// Get returns the decision on one action on one resource.
func (ds Decisions) Get(k DecisionKey) (Decision, bool) {
	d, ok := ds[k.Region][k]
	return d, ok
}

// held is an account-level result that waits for its account's principals.
type held struct {
	res         result.Result
	needs       []Need
	marketplace bool
}

// needsOf lists what a principal's call for res touches. Checks whose model
// cannot be called whatever the principal may do get none and no principal
// results: the account-level result says it all.
func needsOf(res result.Result, e Evidence, partition string, intern func(string) string) []Need {
	switch res.Status {
	case result.AuditError, result.UnknownModel, result.ProfileNotInRegion, result.NotInRegion, result.ProfileRequired:
		return nil
	}
	if e.Profile == nil {
		return []Need{{res.Region, intern(foundationModelARN(partition, res.Region, res.Model))}}
	}
	needs := make([]Need, 0, 1+len(e.Profile.Destinations))
	needs = append(needs, Need{res.Region, e.Profile.ARN})
	for _, d := range e.Profile.Destinations {
		needs = append(needs, Need{d, intern(foundationModelARN(partition, d, e.Profile.Model))})
	}
	return needs
}

func foundationModelARN(partition, region, model string) string {
	return "arn:" + partition + ":bedrock:" + region + "::foundation-model/" + model
}

// Principals resolves the configured roles of an account: names and ARN
// templates directly (a name is a role at path "/"), a tag by listing the
// account's roles and their tags.
func Principals(ctx context.Context, api RoleLister, partition, account string, set config.PrincipalSet) ([]Principal, error) {
	byName := map[string]Principal{}
	for _, name := range set.Roles {
		byName[name] = Principal{Name: name, ARN: config.RoleARN(partition, account, name)}
	}
	for _, t := range set.ARNTemplates {
		arn := strings.ReplaceAll(t, "{account}", account)
		byName[arn[strings.LastIndex(arn, "/")+1:]] = Principal{Name: arn[strings.LastIndex(arn, "/")+1:], ARN: arn}
	}
	if set.Tag != "" {
		key, value := config.TagPair(set.Tag)
		roles := iam.NewListRolesPaginator(api, &iam.ListRolesInput{})
		for roles.HasMorePages() {
			page, err := roles.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("list roles: %w", err)
			}
			for _, role := range page.Roles {
				tagged, err := hasTag(ctx, api, aws.ToString(role.RoleName), key, value)
				if err != nil {
					return nil, err
				}
				if tagged {
					byName[aws.ToString(role.RoleName)] = Principal{Name: aws.ToString(role.RoleName), ARN: aws.ToString(role.Arn)}
				}
			}
		}
	}
	return slices.SortedFunc(maps.Values(byName), func(a, b Principal) int { return strings.Compare(a.Name, b.Name) }), nil
}

// hasTag reads a role's tags (ListRoles does not return them).
func hasTag(ctx context.Context, api RoleLister, role, key, value string) (bool, error) {
	pages := iam.NewListRoleTagsPaginator(api, &iam.ListRoleTagsInput{RoleName: aws.String(role)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return false, fmt.Errorf("list role tags %s: %w", role, err)
		}
		for _, t := range page.Tags {
			if aws.ToString(t.Key) == key && aws.ToString(t.Value) == value {
				return true, nil
			}
		}
	}
	return false, nil
}

// Simulate asks SimulatePrincipalPolicy about actions on resources in one
// region (aws:RequestedRegion, which the simulator does not infer), reading
// every page, and records each resource's decision. Without resources it
// asks about "*".
func Simulate(ctx context.Context, api RoleSimulator, p Principal, region string, actions, resources []string, into map[DecisionKey]Decision) error {
	pages := iam.NewSimulatePrincipalPolicyPaginator(api, &iam.SimulatePrincipalPolicyInput{
		PolicySourceArn: aws.String(p.ARN), ActionNames: actions, ResourceArns: resources,
		ContextEntries: []iamtypes.ContextEntry{{
			ContextKeyName: aws.String("aws:RequestedRegion"), ContextKeyType: iamtypes.ContextKeyTypeEnumString, ContextKeyValues: []string{region},
		}},
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("simulate principal policy %s in %s: %w", p.ARN, region, err)
		}
		for i, ev := range page.EvaluationResults {
			action := aws.ToString(ev.EvalActionName)
			if action == "" {
				return fmt.Errorf("simulate principal policy %s: EvaluationResults[%d].EvalActionName is empty", p.ARN, i)
			}
			orgs := ev.OrganizationsDecisionDetail == nil || ev.OrganizationsDecisionDetail.AllowedByOrganizations
			per := ev.ResourceSpecificResults
			if len(per) == 0 { // one resource, or "*": the top level is its answer
				per = []iamtypes.ResourceSpecificResult{{EvalResourceName: ev.EvalResourceName, EvalResourceDecision: ev.EvalDecision,
					MatchedStatements: ev.MatchedStatements, PermissionsBoundaryDecisionDetail: ev.PermissionsBoundaryDecisionDetail}}
			}
			for _, rr := range per {
				d := Decision{Decision: rr.EvalResourceDecision, AllowedByOrganizations: orgs}
				if b := rr.PermissionsBoundaryDecisionDetail; b != nil {
					d.AllowedByBoundary = aws.Bool(b.AllowedByPermissionsBoundary)
				}
				if d.Decision == iamtypes.PolicyEvaluationDecisionTypeExplicitDeny {
					for _, st := range rr.MatchedStatements {
						d.Policies = append(d.Policies, aws.ToString(st.SourcePolicyId))
					}
				}
				into[DecisionKey{Need{region, aws.ToString(rr.EvalResourceName)}, action}] = d
			}
		}
	}
	return nil
}

// denial names the layer that refuses one action on one resource.
func denial(d Decision) result.Status {
	switch {
	case d.Decision == iamtypes.PolicyEvaluationDecisionTypeAllowed:
		return result.Enabled
	case d.Decision == iamtypes.PolicyEvaluationDecisionTypeExplicitDeny && len(d.Policies) > 0:
		// ledger: CLS-iam-denied, IAM-eval-layers
		return result.IAMDenied // a Deny in the role's own policies
	// ledger: CLS-scp-denied, IAM-simulate
	case !d.AllowedByOrganizations:
		return result.SCPDenied
	// ledger: CLS-boundary-denied, IAM-simulate
	case d.AllowedByBoundary != nil && !*d.AllowedByBoundary:
		return result.BoundaryDenied
	}
	return result.IAMDenied // no identity policy allows it
}

// layerOrder ranks denials: the outermost layer first, since fixing an inner
// one does not help while an outer one denies.
var layerOrder = []result.Status{result.SCPDenied, result.BoundaryDenied, result.IAMDenied}

// ClassifyPrincipal decides one principal's status for one check from its
// decisions and the account-level result.
func ClassifyPrincipal(h held, p Principal, ds Decisions) result.Result {
	acct := h.res
	r := result.Result{Account: acct.Account, Region: acct.Region, Model: acct.Model, Principal: p.Name}
	if d := acct.Destinations(); d != nil {
		r.SetDestinations(d)
	}
	worst, where, action, policies := result.Enabled, Need{}, "", []string(nil)
	for _, n := range h.needs {
		for _, a := range invokeActions {
			d, ok := ds.Get(DecisionKey{n, a})
			if !ok {
				continue
			}
			s := denial(d)
			if s != result.Enabled && (worst == result.Enabled || slices.Index(layerOrder, s) < slices.Index(layerOrder, worst)) {
				worst, where, action, policies = s, n, a, d.Policies
			}
		}
	}
	hop := ""
	if where.Region != "" && where.Region != acct.Region {
		hop = fmt.Sprintf(", a destination region of %s", acct.Model)
	}
	cause := fmt.Sprintf("SimulatePrincipalPolicy for %s: %s on %s (aws:RequestedRegion=%s%s)", p.ARN, action, where.Resource, where.Region, hop)
	switch worst {
	case result.SCPDenied:
		r.Status = result.SCPDenied
		r.Cause = cause + ": OrganizationsDecisionDetail.AllowedByOrganizations=false"
		r.Remediation = fmt.Sprintf("A service control policy denies %s in %s for %s. If it is a region-deny SCP, add %s to its aws:RequestedRegion condition for bedrock:InvokeModel* (cross-region inference sends the call there), or exempt %s with an aws:PrincipalArn condition; otherwise call a model or profile whose regions the SCP allows.", action, where.Region, p.Name, where.Region, p.ARN)
	case result.BoundaryDenied:
		r.Status = result.BoundaryDenied
		r.Cause = cause + ": PermissionsBoundaryDecisionDetail.AllowedByPermissionsBoundary=false"
		r.Remediation = fmt.Sprintf("The permissions boundary of %s does not allow %s on %s. Add an Allow for %s on that resource to the boundary policy (a boundary caps what the role's own policies grant).", p.Name, action, where.Resource, strings.Join(invokeActions, " and "))
	case result.IAMDenied:
		r.Status = result.IAMDenied
		if len(policies) > 0 {
			r.Cause = cause + ": explicitDeny by " + strings.Join(policies, ", ")
			r.Remediation = fmt.Sprintf("The role's own policy %s denies %s on %s. Narrow that Deny statement so it leaves out this model.", strings.Join(policies, ", "), action, where.Resource)
		} else {
			r.Cause = cause + ": implicitDeny, no identity policy allows it"
			r.Remediation = fmt.Sprintf("Add this statement to a policy of %s: %s", p.Name, minimalStatement(h.needs))
		}
	default:
		sub, denied := subscribeDenied(ds)
		switch {
		// ledger: CLS-marketplace-denied, MP-first-call-subscribes
		case h.marketplace && denied:
			r.Status = result.MarketplaceDenied
			r.Cause = fmt.Sprintf("the account has no Marketplace agreement for the model (AGREEMENT_MISSING), and SimulatePrincipalPolicy for %s: %s is %s", p.ARN, sub, ds[marketplaceRegion][DecisionKey{Need{marketplaceRegion, "*"}, sub}].Decision)
			r.Remediation = fmt.Sprintf("The first call by %s would have to subscribe the account, and it may not. Allow aws-marketplace:Subscribe and aws-marketplace:ViewSubscriptions to %s, or subscribe the account ahead of time (invoke the model once from an administrator role, or share a managed entitlement through AWS License Manager).", p.Name, p.Name)
		// ledger: CLS-enabled
		case acct.Status.Usable():
			r.Status = result.Enabled
			// No account or role in this text: it is the same for every
			// usable check of its shape, so a run keeps one copy.
			r.Cause = fmt.Sprintf("SimulatePrincipalPolicy: %s allowed on every resource the call touches (%d), by the SCPs, the boundary and the role's policies; the model is usable in the account", strings.Join(invokeActions, " and "), len(h.needs))
			r.Remediation = "None needed."
		default:
			r.Status = acct.Status
			r.Cause = fmt.Sprintf("the permissions of %s allow the call; the model itself is %s in the account (see the account's result)", p.Name, acct.Status)
			r.Remediation = acct.Remediation
		}
	}
	return r
}

// subscribeDenied reports the first Marketplace action the principal may not call.
func subscribeDenied(ds Decisions) (string, bool) {
	for _, a := range marketplaceActions {
		if d, ok := ds.Get(DecisionKey{Need{marketplaceRegion, "*"}, a}); ok && d.Decision != iamtypes.PolicyEvaluationDecisionTypeAllowed {
			return a, true
		}
	}
	return "", false
}

// minimalStatement is the policy statement that allows the call: both invoke
// actions on exactly the resources it touches.
func minimalStatement(needs []Need) string {
	var arns []string
	for _, n := range needs {
		if !slices.Contains(arns, n.Resource) {
			arns = append(arns, n.Resource)
		}
	}
	return fmt.Sprintf(`{"Effect": "Allow", "Action": ["%s"], "Resource": ["%s"]}`, strings.Join(invokeActions, `", "`), strings.Join(arns, `", "`))
}

// principalFailed is an audit error of one principal's check: the others,
// and the account's own result, stand.
func principalFailed(h held, p Principal, stage Stage, err error) result.Result {
	r := Failed(h.res.Account, h.res.Region, h.res.Model, stage, err)
	r.Principal = p.Name
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchEntity":
		r.Remediation = fmt.Sprintf("The role %s named under principals does not exist in account %s. Create it, or name it only where it exists (principals.by_ou, principals.by_account, or a tag).", p.ARN, h.res.Account)
	case errors.As(err, &apiErr) && strings.HasPrefix(apiErr.ErrorCode(), "AccessDenied"):
		r.Remediation = "The audit role may not simulate this role's policies: update the member-role StackSet (it allows iam:SimulatePrincipalPolicy on the account's roles, and iam:ListRoles/ListRoleTags when principals are found by tag), and look for an SCP denying iam:Simulate*."
	}
	return r
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
// check, records the principals' results, and marks a missing agreement
// critical where a principal could not create it on its first call.
func (r *run) principalChecks(ctx context.Context, account string, m *memberAccount, holds []held) {
	var needs []Need
	marketplace := false
	for _, h := range holds {
		needs = append(needs, h.needs...)
		marketplace = marketplace || (h.marketplace && len(h.needs) > 0)
	}
	if len(needs) == 0 {
		return
	}
	byRegion := map[string][]string{}
	for _, n := range needs {
		if !slices.Contains(byRegion[n.Region], n.Resource) {
			byRegion[n.Region] = append(byRegion[n.Region], n.Resource)
		}
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
	// Every (principal, requested region) is one simulation; they run side
	// by side, at most limits.per_account_region of the account's at once.
	type job struct {
		p      Principal
		region string
	}
	var jobs []job
	for _, p := range principals {
		for _, region := range slices.Sorted(maps.Keys(byRegion)) {
			jobs = append(jobs, job{p, region})
		}
		if marketplace {
			jobs = append(jobs, job{p, ""})
		}
	}
	for _, resources := range byRegion {
		slices.Sort(resources)
	}
	decisions := make(map[string]Decisions, len(principals))
	failures := map[string]error{}
	for _, p := range principals {
		decisions[p.Name] = Decisions{}
	}
	var mu sync.Mutex
	slots := make(chan struct{}, r.c.cfg.Limits.PerAccountRegion)
	run := func(js []job) {
		var wg sync.WaitGroup
		for _, j := range js {
			mu.Lock()
			failed := failures[j.p.Name] != nil
			mu.Unlock()
			if failed {
				continue // a role that is missing or refused stays so
			}
			wg.Go(func() {
				slots <- struct{}{}
				defer func() { <-slots }()
				ds := map[DecisionKey]Decision{}
				region := j.region
				var err error
				if region == "" {
					region = marketplaceRegion
					err = Simulate(ctx, api, j.p, region, marketplaceActions, nil, ds)
				} else {
					err = Simulate(ctx, api, j.p, region, invokeActions, byRegion[region], ds)
				}
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if failures[j.p.Name] == nil {
						failures[j.p.Name] = err
					}
					return
				}
				if decisions[j.p.Name][region] == nil {
					decisions[j.p.Name][region] = ds
				} else { // the Marketplace answer in a region also simulated
					maps.Copy(decisions[j.p.Name][region], ds)
				}
			})
		}
		wg.Wait()
	}
	// Each principal's first simulation goes alone: a missing role costs
	// one call, not one per region.
	var first, rest []job
	for _, j := range jobs {
		if len(first) == 0 || first[len(first)-1].p != j.p {
			first = append(first, j)
		} else {
			rest = append(rest, j)
		}
	}
	run(first)
	run(rest)
	if ctx.Err() != nil {
		return
	}
	for _, p := range principals {
		ds := decisions[p.Name]
		for i, h := range holds {
			if len(h.needs) == 0 {
				continue
			}
			if err := failures[p.Name]; err != nil {
				r.record(ctx, principalFailed(h, p, StageSimulate, err))
				continue
			}
			res := ClassifyPrincipal(h, p, ds)
			if res.Status == result.MarketplaceDenied {
				holds[i].res.MarkCritical()
				holds[i].res.Cause += fmt.Sprintf("; the first call would come from %s, which may not subscribe (MARKETPLACE_DENIED)", p.Name)
			}
			r.record(ctx, res)
		}
	}
}

// slottedIAM makes every IAM call take a call slot, with the call timeout,
// as Bedrock calls do.
type slottedIAM struct {
	r   *run
	api IAMAPI
}

func (s slottedIAM) SimulatePrincipalPolicy(ctx context.Context, in *iam.SimulatePrincipalPolicyInput, optFns ...func(*iam.Options)) (out *iam.SimulatePrincipalPolicyOutput, err error) {
	err = s.r.withCallSlot(ctx, func(ctx context.Context) (err error) {
		out, err = s.api.SimulatePrincipalPolicy(ctx, in, optFns...)
		return err
	})
	return out, err
}

func (s slottedIAM) ListRoles(ctx context.Context, in *iam.ListRolesInput, optFns ...func(*iam.Options)) (out *iam.ListRolesOutput, err error) {
	err = s.r.withCallSlot(ctx, func(ctx context.Context) (err error) {
		out, err = s.api.ListRoles(ctx, in, optFns...)
		return err
	})
	return out, err
}

func (s slottedIAM) ListRoleTags(ctx context.Context, in *iam.ListRoleTagsInput, optFns ...func(*iam.Options)) (out *iam.ListRoleTagsOutput, err error) {
	err = s.r.withCallSlot(ctx, func(ctx context.Context) (err error) {
		out, err = s.api.ListRoleTags(ctx, in, optFns...)
		return err
	})
	return out, err
}
