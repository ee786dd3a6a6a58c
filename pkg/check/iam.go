// IAM calls: a principal's roles and the policy simulator's answers.

package check

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/grantwatch/grantwatch/pkg/config"
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

// The actions a principal's calls need (Bedrock user guide, "Making
// inference requests"; service authorization reference for Amazon Bedrock).
// ledger: IAM-invoke-actions, IAM-api-key-action
const (
	// actionInvoke covers InvokeModel and Converse.
	actionInvoke = "bedrock:InvokeModel"
	// actionStream covers InvokeModelWithResponseStream and ConverseStream.
	actionStream = "bedrock:InvokeModelWithResponseStream"
	// actionBearer is needed besides the invoke action by a call made with
	// a Bedrock API key (short- or long-term).
	actionBearer = "bedrock:CallWithBearerToken"
)

// marketplaceActions are what the first call of a Marketplace model needs
// to subscribe the account (Bedrock user guide, "Request access to
// models"). ledger: MP-three-actions
var marketplaceActions = []string{"aws-marketplace:Subscribe", "aws-marketplace:Unsubscribe", "aws-marketplace:ViewSubscriptions"}

// marketplaceRegion is where AWS Marketplace subscriptions are made, the
// aws:RequestedRegion its calls carry (inferred: Marketplace's endpoint is in
// us-east-1).
const marketplaceRegion = "us-east-1"

// marketplaceMarker is the Need.Region of the Marketplace simulation's
// answers: no region a model is called in.
const marketplaceMarker = "marketplace"

// The global hop: a global. profile lists a region-less model ARN, and
// IAM evaluates that hop with aws:RequestedRegion "unspecified" (Bedrock
// user guide, "Global cross-Region inference"). Destination lists name it
// GlobalDestination. ledger: BR-global-profile-models, IAM-global-unspecified
const (
	GlobalDestination = "global"
	unspecifiedRegion = "unspecified"
)

// The context keys grantwatch sets itself. ledger: IAM-inference-profile-arn, MP-product-id
const (
	keyRequestedRegion  = "aws:RequestedRegion"
	keyProfileARN       = "bedrock:InferenceProfileArn"
	keyProductID        = "aws-marketplace:ProductId"
	keyPrincipalARN     = "aws:PrincipalArn"
	keyPrincipalAccount = "aws:PrincipalAccount"
)

// Principal is a role whose permissions are evaluated, with how its
// applications call Bedrock.
type Principal struct {
	Name, ARN string
	// Invoke and Stream are the calls it makes; APIKey, that it
	// authenticates with a Bedrock API key.
	Invoke, Stream, APIKey bool
	// Context are the configured condition keys its requests carry.
	Context []iamtypes.ContextEntry
}

// invokeActions are the bedrock: actions of p's calls of a model;
// streaming is left out for a model that does not stream.
func (p Principal) invokeActions(streams bool) []string {
	var out []string
	if p.Invoke || !p.Stream {
		out = append(out, actionInvoke)
	}
	if p.Stream && streams {
		out = append(out, actionStream)
	}
	return out
}

// simulated are every action p's simulations ask about.
func (p Principal) simulated() []string {
	out := p.invokeActions(true)
	if p.APIKey {
		out = append(out, actionBearer)
	}
	return out
}

// merge adds the settings of another set naming the same role.
func (p *Principal) merge(s config.PrincipalSet) {
	acts := s.Actions
	if len(acts) == 0 {
		acts = []string{config.ActionInvoke}
	}
	p.Invoke = p.Invoke || slices.Contains(acts, config.ActionInvoke)
	p.Stream = p.Stream || slices.Contains(acts, config.ActionStream)
	p.APIKey = p.APIKey || slices.Contains(s.Auth, config.AuthAPIKey)
	for _, e := range s.Context {
		entry := iamtypes.ContextEntry{ContextKeyName: aws.String(e.Name), ContextKeyType: iamtypes.ContextKeyTypeEnum(e.Type), ContextKeyValues: e.Values}
		// A later (more specific) set's value of a key wins.
		if i := slices.IndexFunc(p.Context, func(c iamtypes.ContextEntry) bool { return strings.EqualFold(aws.ToString(c.ContextKeyName), e.Name) }); i >= 0 {
			p.Context[i] = entry
		} else {
			p.Context = append(p.Context, entry)
		}
	}
}

// Need is one resource a principal's call touches, in the region its
// request goes to: the model or profile in the source region, and for a
// profile the model in every destination region (the region-less model,
// in "unspecified", for the global hop).
type Need struct {
	Region, Resource string
}

// Decision is what SimulatePrincipalPolicy said of one action on one resource.
type Decision struct {
	Decision iamtypes.PolicyEvaluationDecisionType
	// AllowedByOrganizations: whether the SCPs allowed this action on this
	// resource. IAM gives it per action over the call's resources; Simulate
	// makes it this resource's (ledger: IAM-orgs-decision-detail).
	AllowedByOrganizations bool
	// AllowedByBoundary is nil when the role has no permissions boundary.
	AllowedByBoundary *bool
	// Policies are the identity policies whose Deny decided it (kept for
	// explicit denies only: that is all a verdict names).
	Policies []string
	// Missing are MissingContextValues: condition keys the policies use
	// that the simulation was not given. ledger: IAM-missing-context
	Missing []string
	// Via is the inference profile ARN the simulation passed as
	// bedrock:InferenceProfileArn, Product the aws-marketplace:ProductId;
	// "" for none.
	Via, Product string
}

// DecisionKey is one action on one resource in one requested region,
// reached through the inference profile Via ("" when the simulation did not
// carry bedrock:InferenceProfileArn).
type DecisionKey struct {
	Need
	Action string
	Via    string
}

// Decisions are a principal's answers, by requested region: each region's
// simulation fills its own map, so nothing is copied.
type Decisions map[string]map[DecisionKey]Decision

// Get returns the decision on one action on one resource: the one
// simulated with the profile's ARN when there is one, else the first one.
func (ds Decisions) Get(k DecisionKey) (Decision, bool) {
	if k.Via != "" {
		if d, ok := ds[k.Region][k]; ok {
			return d, true
		}
		k.Via = ""
	}
	d, ok := ds[k.Region][k]
	return d, ok
}

// foundationModelARN is a model's ARN in a region; region "" gives the
// region-less ARN a global profile lists.
func foundationModelARN(partition, region, model string) string {
	return "arn:" + partition + ":bedrock:" + region + "::foundation-model/" + model
}

// Principals resolves the configured roles of an account: names and ARN
// templates directly (a name is a role at path "/"), a tag by listing the
// account's roles and their tags. A role named by several sets (set.Parts)
// gets the actions, auth and context of each.
func Principals(ctx context.Context, api RoleLister, partition, account string, set config.PrincipalSet) ([]Principal, error) {
	parts := set.Parts
	if len(parts) == 0 {
		parts = []config.PrincipalSet{set}
	}
	byName := map[string]*Principal{}
	add := func(name, roleARN string, s config.PrincipalSet) {
		p, ok := byName[name]
		if !ok {
			p = &Principal{Name: name, ARN: roleARN}
			byName[name] = p
		}
		p.merge(s)
	}
	var tagged []config.PrincipalSet
	for _, s := range parts {
		for _, name := range s.Roles {
			add(name, config.RoleARN(partition, account, name), s)
		}
		for _, t := range s.ARNTemplates {
			roleARN := strings.ReplaceAll(t, "{account}", account)
			add(roleARN[strings.LastIndex(roleARN, "/")+1:], roleARN, s)
		}
		if s.Tag != "" {
			tagged = append(tagged, s)
		}
	}
	if len(tagged) > 0 {
		roles := iam.NewListRolesPaginator(api, &iam.ListRolesInput{})
		for roles.HasMorePages() {
			page, err := roles.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("list roles: %w", err)
			}
			for _, role := range page.Roles {
				tags, err := roleTags(ctx, api, aws.ToString(role.RoleName))
				if err != nil {
					return nil, err
				}
				for _, s := range tagged {
					key, value := config.TagPair(s.Tag)
					if v, ok := tags[key]; ok && v == value {
						add(aws.ToString(role.RoleName), aws.ToString(role.Arn), s)
					}
				}
			}
		}
	}
	out := make([]Principal, 0, len(byName))
	for _, p := range byName {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b Principal) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// roleTags reads a role's tags (ListRoles does not return them).
func roleTags(ctx context.Context, api RoleLister, role string) (map[string]string, error) {
	tags := map[string]string{}
	pages := iam.NewListRoleTagsPaginator(api, &iam.ListRoleTagsInput{RoleName: aws.String(role)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list role tags %s: %w", role, err)
		}
		for _, t := range page.Tags {
			tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	return tags, nil
}

// Query is one SimulatePrincipalPolicy request of a principal.
type Query struct {
	// Region is the Need.Region its answers are recorded under;
	// RequestedRegion is the aws:RequestedRegion they carry (Region when
	// empty). The simulator does not infer aws:RequestedRegion.
	Region, RequestedRegion string
	Actions, Resources      []string
	// Via is the inference profile ARN passed as bedrock:InferenceProfileArn
	// ("" for none); the answers are recorded with it.
	Via string
	// ProductID is passed as aws-marketplace:ProductId ("" for none); the
	// answers on "*" are recorded under it as their resource.
	ProductID string
}

// contextOf is what a query tells IAM of the request besides the actions
// and resources: the region, the principal's configured keys, the profile
// and the Marketplace product.
func contextOf(p Principal, q Query) []iamtypes.ContextEntry {
	str := func(k, v string) iamtypes.ContextEntry {
		return iamtypes.ContextEntry{ContextKeyName: aws.String(k), ContextKeyType: iamtypes.ContextKeyTypeEnumString, ContextKeyValues: []string{v}}
	}
	// The principal keys are the role's: for a role session aws:PrincipalArn
	// is the role's ARN (ledger: IAM-principal-keys). Region-deny SCPs
	// exempt administrators with them (ArnNotLike aws:PrincipalArn).
	account := ""
	if a, err := arn.Parse(p.ARN); err == nil {
		account = a.AccountID
	}
	out := []iamtypes.ContextEntry{str(keyRequestedRegion, cmp.Or(q.RequestedRegion, q.Region)), str(keyPrincipalARN, p.ARN), str(keyPrincipalAccount, account)}
	out = append(out, p.Context...)
	if q.Via != "" {
		out = append(out, str(keyProfileARN, q.Via))
	}
	if q.ProductID != "" {
		out = append(out, str(keyProductID, q.ProductID))
	}
	return out
}

// Simulate asks SimulatePrincipalPolicy about q's actions on its resources,
// reading every page, and records each resource's decision. Without
// resources it asks about "*".
//
// IAM gives OrganizationsDecisionDetail once per action, over all the
// call's resources (ResourceSpecificResult has none), so it is read per
// resource only as far as the answer allows: an allowed resource was
// allowed by the SCPs; an explicit deny no identity statement or boundary
// explains is an SCP's; and an implicit deny where the SCPs denied is the
// SCPs' only when it is the call's one refused resource. Otherwise that
// resource is asked again alone (rare: several refused resources in one
// region under a denying SCP).
// ledger: IAM-orgs-decision-detail
func Simulate(ctx context.Context, api RoleSimulator, p Principal, q Query, into map[DecisionKey]Decision) error {
	region := cmp.Or(q.RequestedRegion, q.Region)
	in := &iam.SimulatePrincipalPolicyInput{
		PolicySourceArn: aws.String(p.ARN), ActionNames: q.Actions, ResourceArns: q.Resources, ContextEntries: contextOf(p, q),
	}
	// again: the resources to ask alone, with the actions whose SCP answer
	// they share with another refused resource.
	again := map[string][]string{}
	// The pages as the SDK's SimulatePrincipalPolicyPaginator reads them
	// (next Marker from the answer's Marker, until it is absent or empty),
	// without the per-call option it adds (a user-agent mark), so that the
	// calls can take the direct path (lean.go).
	for first := true; first || aws.ToString(in.Marker) != ""; first = false {
		page, err := api.SimulatePrincipalPolicy(ctx, in)
		if err != nil {
			return fmt.Errorf("simulate principal policy %s in %s: %w", p.ARN, region, err)
		}
		next := *in
		next.Marker = page.Marker
		in = &next
		for i, ev := range page.EvaluationResults {
			action := aws.ToString(ev.EvalActionName)
			if action == "" {
				return fmt.Errorf("simulate principal policy %s: EvaluationResults[%d].EvalActionName is empty", p.ARN, i)
			}
			orgs := ev.OrganizationsDecisionDetail == nil || ev.OrganizationsDecisionDetail.AllowedByOrganizations
			per := ev.ResourceSpecificResults
			if len(per) == 0 { // one resource, or "*": the top level is its answer
				per = []iamtypes.ResourceSpecificResult{{EvalResourceName: ev.EvalResourceName, EvalResourceDecision: ev.EvalDecision,
					MatchedStatements: ev.MatchedStatements, PermissionsBoundaryDecisionDetail: ev.PermissionsBoundaryDecisionDetail,
					MissingContextValues: ev.MissingContextValues}}
			}
			// Where the SCPs denied, each refused resource is one of: an
			// explicit deny no identity policy or boundary explains (so an
			// SCP's), one an identity Deny decides whatever the SCPs say,
			// or an open one (an implicit deny may be an SCP's allow list
			// or the role's own policies).
			open, explained := 0, false
			for _, rr := range per {
				switch scpRead(rr) {
				case scpOpen:
					open++
				case scpDenies, scpMoot: // the SCP denial may be this one's
					explained = true
				}
			}
			for _, rr := range per {
				allowedByOrgs := orgs || rr.EvalResourceDecision == iamtypes.PolicyEvaluationDecisionTypeAllowed
				if !allowedByOrgs && scpRead(rr) == scpOpen {
					if open > 1 || explained {
						name := aws.ToString(rr.EvalResourceName)
						again[name] = append(again[name], action)
					}
				}
				d := Decision{Decision: rr.EvalResourceDecision, AllowedByOrganizations: allowedByOrgs, Missing: rr.MissingContextValues, Via: q.Via, Product: q.ProductID}
				if b := rr.PermissionsBoundaryDecisionDetail; b != nil {
					d.AllowedByBoundary = aws.Bool(b.AllowedByPermissionsBoundary)
				}
				if d.Decision == iamtypes.PolicyEvaluationDecisionTypeExplicitDeny {
					for _, st := range rr.MatchedStatements {
						d.Policies = append(d.Policies, aws.ToString(st.SourcePolicyId))
					}
				}
				resource := aws.ToString(rr.EvalResourceName)
				if q.ProductID != "" {
					resource = q.ProductID
				}
				into[DecisionKey{Need{q.Region, resource}, action, q.Via}] = d
			}
		}
	}
	for _, resource := range slices.Sorted(maps.Keys(again)) {
		alone := q
		alone.Actions, alone.Resources = again[resource], []string{resource}
		if err := Simulate(ctx, api, p, alone, into); err != nil {
			return err
		}
	}
	return nil
}

// iamReadActions are the member role's permissions for IAMAPI, one row per
// method, granted only with principals configured: the simulation on the
// account's roles (the Service Authorization Reference lists the role
// resource type for SimulatePrincipalPolicy), and for tag discovery
// ListRoles (no resource type) and ListRoleTags (role).
func iamReadActions() []MemberAction {
	return []MemberAction{
		{Action: "iam:SimulatePrincipalPolicy", Scope: ScopeOwnRoles, When: GrantWithPrincipals,
			Why: "the principals' effective access"},
		{Action: "iam:ListRoleTags", Scope: ScopeOwnRoles, When: GrantWithPrincipalTags,
			Why: "the tags that select a principal set's roles"},
		{Action: "iam:ListRoles", Scope: ScopeAny, When: GrantWithPrincipalTags,
			Why: "the account's roles, to read their tags; ListRoles supports no resource-level permission"},
	}
}

// scpReading is what a refused resource's own answer says of the SCPs.
type scpReading int

const (
	scpNone   scpReading = iota // allowed: the SCPs allowed it
	scpDenies                   // an explicit deny no identity statement or boundary explains
	scpMoot                     // an identity policy's Deny decides it whatever the SCPs say
	scpOpen                     // the answer cannot tell
)

// scpRead reads one resource's answer. IAM lists the identity statements
// that decide a result (MatchedStatements) and says per resource whether a
// boundary allowed it; an explicit deny with neither is an SCP's
// (inferred: IAM documents no SCP statement in MatchedStatements).
// ledger: IAM-orgs-decision-detail
func scpRead(rr iamtypes.ResourceSpecificResult) scpReading {
	switch {
	case rr.EvalResourceDecision == iamtypes.PolicyEvaluationDecisionTypeAllowed:
		return scpNone
	case rr.EvalResourceDecision != iamtypes.PolicyEvaluationDecisionTypeExplicitDeny:
		return scpOpen
	case len(rr.MatchedStatements) > 0:
		return scpMoot
	case rr.PermissionsBoundaryDecisionDetail != nil && !rr.PermissionsBoundaryDecisionDetail.AllowedByPermissionsBoundary:
		return scpOpen
	}
	return scpDenies
}
