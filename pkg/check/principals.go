package check

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
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
	// AllowedByOrganizations is the call's aggregate OrganizationsDecisionDetail:
	// IAM gives it per action, not per resource.
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
		if d == GlobalDestination {
			needs = append(needs, Need{unspecifiedRegion, intern(foundationModelARN(partition, "", e.Profile.Model))})
			continue
		}
		needs = append(needs, Need{d, intern(foundationModelARN(partition, d, e.Profile.Model))})
	}
	return needs
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
	add := func(name, arn string, s config.PrincipalSet) {
		p, ok := byName[name]
		if !ok {
			p = &Principal{Name: name, ARN: arn}
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
			arn := strings.ReplaceAll(t, "{account}", account)
			add(arn[strings.LastIndex(arn, "/")+1:], arn, s)
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
func Simulate(ctx context.Context, api RoleSimulator, p Principal, q Query, into map[DecisionKey]Decision) error {
	region := cmp.Or(q.RequestedRegion, q.Region)
	pages := iam.NewSimulatePrincipalPolicyPaginator(api, &iam.SimulatePrincipalPolicyInput{
		PolicySourceArn: aws.String(p.ARN), ActionNames: q.Actions, ResourceArns: q.Resources, ContextEntries: contextOf(p, q),
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
					MatchedStatements: ev.MatchedStatements, PermissionsBoundaryDecisionDetail: ev.PermissionsBoundaryDecisionDetail,
					MissingContextValues: ev.MissingContextValues}}
			}
			for _, rr := range per {
				d := Decision{Decision: rr.EvalResourceDecision, AllowedByOrganizations: orgs, Missing: rr.MissingContextValues, Via: q.Via, Product: q.ProductID}
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
// one does not help while an outer one denies; a denial that hangs on keys
// the simulation lacked comes after every certain one.
var layerOrder = []result.Status{result.SCPDenied, result.BoundaryDenied, result.IAMDenied, result.IAMUndetermined}

// unknownKeys are the missing context keys of d whose value in the real
// request grantwatch does not know. aws:RequestedRegion is always given;
// bedrock:InferenceProfileArn is known to be absent from a call of a base
// model id (via ""). aws-marketplace:ProductId stays unknown for a model
// missing from grantwatch's table: AWS lists newer models' ids elsewhere
// (the product id page points to "models at a glance"). ledger: IAM-missing-context
func unknownKeys(d Decision, via string, p Principal) []string {
	var out []string
	for _, k := range d.Missing {
		switch {
		case strings.EqualFold(k, keyRequestedRegion), strings.EqualFold(k, keyPrincipalARN), strings.EqualFold(k, keyPrincipalAccount):
		case strings.EqualFold(k, keyProfileARN) && via == "":
		case slices.ContainsFunc(p.Context, func(c iamtypes.ContextEntry) bool { return strings.EqualFold(aws.ToString(c.ContextKeyName), k) }):
		default:
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	return out
}

// keySource says where a condition key's value comes from, for the cause.
func keySource(k string) string {
	prefix, _, _ := strings.Cut(strings.ToLower(k), ":")
	switch prefix {
	case "aws":
		return k + " (a global condition key: AWS sets it from the caller's request, such as its network path, session or tags, which a simulation cannot see)"
	case "bedrock":
		return k + " (a Bedrock condition key: the value the application's call carries)"
	case "aws-marketplace":
		return k + " (set by AWS Marketplace from the product subscribed to; grantwatch knows no product id for this model)"
	}
	return k + " (a condition key of " + prefix + ": set from the request)"
}

// ClassifyPrincipal decides one principal's status for one check from its
// decisions and the account-level result.
func ClassifyPrincipal(h held, p Principal, ds Decisions) result.Result {
	acct := h.res
	r := result.Result{Account: acct.Account, Region: acct.Region, Model: acct.Model, Principal: p.Name}
	if d := acct.Destinations(); d != nil {
		r.SetDestinations(d)
	}
	actions := p.invokeActions(!h.noStream)
	worst, where, action, policies, missing, dec := result.Enabled, Need{}, "", []string(nil), []string(nil), Decision{}
	consider := func(n Need, a string) {
		// Bedrock populates bedrock:InferenceProfileArn for the foundation
		// model evaluations of a call through a profile, not for the
		// profile's own: its first-round answer, without the key, is the
		// one, and the key is known to be absent. ledger: IAM-inference-profile-arn
		via := h.via
		if n.Resource == h.via {
			via = ""
		}
		d, ok := ds.Get(DecisionKey{n, a, via})
		if !ok {
			return
		}
		s := denial(d)
		var unknown []string
		// An SCP denial stands: IAM lists no SCP key as missing, so keys
		// of the role's own policies cannot lift it. ledger: IAM-missing-context
		if s != result.Enabled && s != result.SCPDenied {
			if unknown = unknownKeys(d, via, p); len(unknown) > 0 {
				s = result.IAMUndetermined
			}
		}
		if s != result.Enabled && (worst == result.Enabled || slices.Index(layerOrder, s) < slices.Index(layerOrder, worst)) {
			worst, where, action, policies, missing, dec = s, n, a, d.Policies, unknown, d
		}
	}
	for i, n := range h.needs {
		for _, a := range actions {
			consider(n, a)
		}
		// The API key is checked where the application's request arrives:
		// the resource it names (inferred: AWS documents no evaluation of
		// bedrock:CallWithBearerToken at the destinations of a profile).
		if p.APIKey && i == 0 {
			consider(n, actionBearer)
		}
	}
	skipped := ""
	if p.Stream && h.noStream {
		skipped = "; " + actionStream + " not checked: ListFoundationModels says responseStreamingSupported=false for the model"
	}
	hop, hopRemedy := "", ""
	switch {
	case where.Region == unspecifiedRegion:
		hop = fmt.Sprintf(", the global hop of %s: its region-less model ARN", acct.Model)
		hopRemedy = "unspecified"
	case where.Region != "" && where.Region != acct.Region:
		hop = fmt.Sprintf(", a destination region of %s", acct.Model)
	}
	given := ""
	if dec.Via != "" {
		given = ", bedrock:InferenceProfileArn=" + dec.Via
	}
	cause := fmt.Sprintf("SimulatePrincipalPolicy for %s: %s on %s (aws:RequestedRegion=%s%s%s)", p.ARN, action, where.Resource, where.Region, hop, given)
	switch worst {
	case result.SCPDenied:
		r.Status = result.SCPDenied
		r.Cause = cause + ": OrganizationsDecisionDetail.AllowedByOrganizations=false" + skipped
		switch {
		case action == actionBearer:
			r.Remediation = fmt.Sprintf("A service control policy denies %s for %s, whose applications authenticate with a Bedrock API key (auth: api_key), which needs it besides %s. Exempt %s from that statement with an aws:PrincipalArn condition, or have the application sign its calls with the role's credentials (SigV4) instead of an API key.", actionBearer, p.Name, actionInvoke, p.ARN)
		case hopRemedy != "":
			// ledger: IAM-global-unspecified
			r.Remediation = fmt.Sprintf("A service control policy denies %s on the global hop of %s. The Bedrock user guide's SCP for global cross-Region inference \"blocks all AWS API calls outside of approved Regions while allowing Amazon Bedrock Global cross-Region inference calls that use \"unspecified\"\" (Global cross-Region inference, \"Service Control Policy requirements\"): add \"unspecified\" to the regions its aws:RequestedRegion condition exempts for %s, or, as the page's Note allows without opening \"unspecified\" to other services, exempt calls through inference profiles with an ArnNotLike condition on bedrock:InferenceProfileArn (arn:aws:bedrock:*:*:inference-profile/*), or exempt %s with an aws:PrincipalArn condition. If the SCP disables global cross-Region inference on purpose, call a geographic profile (us., eu., apac.) whose regions the SCP allows.", action, acct.Model, strings.Join(actions, " and "), p.ARN)
		case h.via != "" && where.Resource != h.via:
			// A model reached through the profile: a region-deny SCP can
			// exempt cross-Region routing by bedrock:InferenceProfileArn
			// (global cross-Region inference page, SCP Note; re:Post's
			// SCP). ledger: IAM-inference-profile-arn
			r.Remediation = fmt.Sprintf("A service control policy denies %s in %s for %s, where the profile routes the call. If it is a region-deny SCP, exempt calls through inference profiles from it with an ArnNotLike condition on bedrock:InferenceProfileArn (arn:aws:bedrock:*:*:inference-profile/*), or add %s to its aws:RequestedRegion condition for bedrock:InvokeModel*, or exempt %s with an aws:PrincipalArn condition; otherwise call a profile whose regions the SCP allows.", action, where.Region, p.Name, where.Region, p.ARN)
		default:
			r.Remediation = fmt.Sprintf("A service control policy denies %s in %s for %s. If it is a region-deny SCP, add %s to its aws:RequestedRegion condition for bedrock:InvokeModel* (cross-region inference sends the call there), or exempt %s with an aws:PrincipalArn condition; otherwise call a model or profile whose regions the SCP allows.", action, where.Region, p.Name, where.Region, p.ARN)
		}
	case result.BoundaryDenied:
		r.Status = result.BoundaryDenied
		r.Cause = cause + ": PermissionsBoundaryDecisionDetail.AllowedByPermissionsBoundary=false" + skipped
		r.Remediation = fmt.Sprintf("The permissions boundary of %s does not allow %s on %s. Add an Allow for %s on that resource to the boundary policy (a boundary caps what the role's own policies grant).", p.Name, action, where.Resource, action)
	case result.IAMDenied:
		r.Status = result.IAMDenied
		if len(policies) > 0 {
			r.Cause = cause + ": explicitDeny by " + strings.Join(policies, ", ") + skipped
			r.Remediation = fmt.Sprintf("The role's own policy %s denies %s on %s. Narrow that Deny statement so it leaves out this model.", strings.Join(policies, ", "), action, where.Resource)
		} else {
			r.Cause = cause + ": implicitDeny, no identity policy allows it" + skipped
			if action == actionBearer {
				r.Remediation = fmt.Sprintf(`Add this statement to a policy of %s, whose applications use a Bedrock API key: {"Effect": "Allow", "Action": "%s", "Resource": "*"}`, p.Name, actionBearer)
			} else {
				r.Remediation = fmt.Sprintf("Add to a policy of %s: %s", p.Name, minimalStatement(h, actions))
			}
		}
	case result.IAMUndetermined:
		r.Status = result.IAMUndetermined
		sources := make([]string, len(missing))
		for i, k := range missing {
			sources[i] = keySource(k)
		}
		layer := ""
		if !dec.AllowedByOrganizations {
			layer = " (AllowedByOrganizations=false)"
		}
		r.Cause = fmt.Sprintf("%s: %s%s without the context keys %s; MissingContextValues: %s", cause, dec.Decision, layer, strings.Join(missing, ", "), strings.Join(sources, "; ")) + skipped
		r.Remediation = fmt.Sprintf("IAM could not decide without %s, so grantwatch does not call it denied. Give the value the application's requests carry in the configuration, in the principals set naming %s (principals, principals.by_ou[...] or principals.by_account[...]): context: [{name: %s, type: string, values: [VALUE]}] (a list type such as stringList for several values); the next run simulates with it.", strings.Join(missing, ", "), p.Name, missing[0])
	default:
		sub, d, denied := subscribeDenied(ds, h.productID)
		unknown := unknownKeys(d, "", p)
		if sub != marketplaceActions[0] {
			// Unsubscribe and ViewSubscriptions carry no product id: its
			// absence is known. ledger: MP-product-id
			unknown = slices.DeleteFunc(unknown, func(k string) bool { return strings.EqualFold(k, keyProductID) })
		}
		switch {
		case h.marketplace && denied && len(unknown) > 0:
			r.Status = result.IAMUndetermined
			sources := make([]string, len(unknown))
			for i, k := range unknown {
				sources[i] = keySource(k)
			}
			r.Cause = fmt.Sprintf("the account has no Marketplace agreement for the model (AGREEMENT_MISSING), and SimulatePrincipalPolicy for %s: %s is %s without the context keys %s; MissingContextValues: %s", p.ARN, sub, d.Decision, strings.Join(unknown, ", "), strings.Join(sources, "; "))
			r.Remediation = fmt.Sprintf("IAM could not decide whether %s may subscribe the account. If the key is aws-marketplace:ProductId, look up the model's product id (Bedrock user guide, \"Use product ID condition keys to control access\") and check that the role's policy allows it; for other keys, give their value in the principals set's context.", p.Name)
		// ledger: CLS-marketplace-denied
		case h.marketplace && denied:
			r.Status = result.MarketplaceDenied
			product := ""
			if d.Product != "" {
				product = ", aws-marketplace:ProductId=" + d.Product
			}
			r.Cause = fmt.Sprintf("the account has no Marketplace agreement for the model (AGREEMENT_MISSING), and SimulatePrincipalPolicy for %s: %s is %s (aws:RequestedRegion=%s%s)", p.ARN, sub, d.Decision, marketplaceRegion, product)
			r.Remediation = fmt.Sprintf("The first call by %s would have to subscribe the account, and it may not. Allow %s to %s (Subscribe may be scoped with aws-marketplace:ProductId), or subscribe the account ahead of time (invoke the model once from an administrator role, or share a managed entitlement through AWS License Manager).", p.Name, strings.Join(marketplaceActions, ", "), p.Name)
		case acct.Status.Usable():
			r.Status = result.Enabled
			// No account or role in this text: it is the same for every
			// usable check of its shape, so a run keeps one copy.
			r.Cause = fmt.Sprintf("SimulatePrincipalPolicy: %s allowed on every resource the call touches (%d), by the SCPs, the boundary and the role's policies; the model is usable in the account", strings.Join(actions, " and "), len(h.needs)) + skipped
			r.Remediation = "None needed."
		default:
			r.Status = acct.Status
			r.Cause = fmt.Sprintf("the permissions of %s allow the call; the model itself is %s in the account (see the account's result)", p.Name, acct.Status)
			r.Remediation = acct.Remediation
		}
	}
	return r
}

// subscribeDenied reports the first Marketplace action the principal may
// not call, and its decision: the one simulated with the model's product id
// where there is one.
func subscribeDenied(ds Decisions, productID string) (string, Decision, bool) {
	for _, a := range marketplaceActions {
		d, ok := ds.Get(DecisionKey{Need{marketplaceMarker, productID}, a, ""})
		if !ok {
			d, ok = ds.Get(DecisionKey{Need{marketplaceMarker, "*"}, a, ""})
		}
		if ok && d.Decision != iamtypes.PolicyEvaluationDecisionTypeAllowed {
			return a, d, true
		}
	}
	return "", Decision{}, false
}

// minimalStatement is the policy that allows the call: the actions on
// exactly the resources it touches. Through a profile it is the shape the
// Bedrock user guide recommends (cross-region inference pages): the profile
// unconditionally, the foundation models only through that profile
// (bedrock:InferenceProfileArn). ledger: IAM-inference-profile-arn
func minimalStatement(h held, actions []string) string {
	var models []string
	for _, n := range h.needs {
		if n.Resource != h.via && !slices.Contains(models, n.Resource) {
			models = append(models, n.Resource)
		}
	}
	act := `"` + strings.Join(actions, `", "`) + `"`
	if h.via == "" {
		return fmt.Sprintf(`{"Effect": "Allow", "Action": [%s], "Resource": ["%s"]}`, act, strings.Join(models, `", "`))
	}
	return fmt.Sprintf(`{"Effect": "Allow", "Action": [%s], "Resource": ["%s"]} and {"Effect": "Allow", "Action": [%s], "Resource": ["%s"], "Condition": {"StringEquals": {"bedrock:InferenceProfileArn": "%s"}}}`,
		act, h.via, act, strings.Join(models, `", "`), h.via)
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
// check and records the principals' results. A principal's simulations are
// one per requested region (the global hop's "unspecified" included) and
// one for Marketplace, batched over every check of the account; a second
// round asks again, with bedrock:InferenceProfileArn or
// aws-marketplace:ProductId, only where the first answer says a policy uses
// that key (MissingContextValues), so policies without such conditions cost
// no extra call.
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
	for _, resources := range byRegion {
		slices.Sort(resources)
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
	// Every job is one simulation; they run side by side, at most
	// limits.per_account_region of the account's at once.
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
	var jobs []simJob
	for _, p := range principals {
		for _, region := range slices.Sorted(maps.Keys(byRegion)) {
			if region == unspecifiedRegion { // a hop, never where a call arrives
				for _, via := range slices.Sorted(maps.Keys(hops)) {
					jobs = append(jobs, simJob{p, Query{Region: region, Actions: p.invokeActions(true), Resources: slices.Sorted(slices.Values(hops[via])), Via: via}})
				}
				continue
			}
			jobs = append(jobs, simJob{p, Query{Region: region, Actions: p.simulated(), Resources: byRegion[region]}})
		}
		if marketplace {
			jobs = append(jobs, simJob{p, Query{Region: marketplaceMarker, RequestedRegion: marketplaceRegion, Actions: marketplaceActions}})
		}
	}
	decisions := make(map[string]Decisions, len(principals))
	failures := map[string]error{}
	for _, p := range principals {
		decisions[p.Name] = Decisions{}
	}
	var mu sync.Mutex
	slots := make(chan struct{}, r.c.cfg.Limits.PerAccountRegion)
	run := func(js []simJob) {
		var wg sync.WaitGroup
		for _, j := range js {
			// The slot is taken before the goroutine starts: one goroutine
			// per job waiting for a slot was 80 an account (2 principals, 20
			// regions, 20 global hops), thousands across the run, each a
			// runtime record the heap keeps for good.
			slots <- struct{}{}
			mu.Lock()
			failed := failures[j.p.Name] != nil
			mu.Unlock()
			if failed {
				<-slots
				continue // a role that is missing or refused stays so
			}
			wg.Go(func() {
				defer func() { <-slots }()
				ds := map[DecisionKey]Decision{}
				err := Simulate(ctx, api, j.p, j.q, ds)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if failures[j.p.Name] == nil {
						failures[j.p.Name] = err
					}
					return
				}
				if decisions[j.p.Name][j.q.Region] == nil {
					decisions[j.p.Name][j.q.Region] = ds
				} else { // a second round's answers next to the first's
					maps.Copy(decisions[j.p.Name][j.q.Region], ds)
				}
			})
		}
		wg.Wait()
	}
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
	run(first)
	run(rest)
	if ctx.Err() != nil {
		return
	}
	var again []simJob
	for _, p := range principals {
		if failures[p.Name] == nil {
			again = append(again, followUps(p, decisions[p.Name], holds)...)
		}
	}
	run(again)
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
func followUps(p Principal, ds Decisions, holds []held) []simJob {
	type key struct{ region, via string }
	resources := map[key][]string{}
	var products []string
	productMissing := map[string]bool{}
	for k, d := range ds[marketplaceMarker] {
		if slices.ContainsFunc(d.Missing, func(m string) bool { return strings.EqualFold(m, keyProductID) }) {
			// Only Subscribe's request carries aws-marketplace:ProductId
			// (Bedrock user guide, "Request access to models": "For the
			// aws-marketplace:Subscribe action only"). ledger: MP-product-id
			if strings.EqualFold(k.Action, marketplaceActions[0]) {
				productMissing[k.Action] = true
			}
		}
	}
	for _, h := range holds {
		if h.via != "" {
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
		if h.marketplace && h.productID != "" && len(productMissing) > 0 && len(h.needs) > 0 && !slices.Contains(products, h.productID) {
			products = append(products, h.productID)
		}
	}
	var out []simJob
	for _, k := range slices.SortedFunc(maps.Keys(resources), func(a, b key) int { return cmp.Or(strings.Compare(a.region, b.region), strings.Compare(a.via, b.via)) }) {
		out = append(out, simJob{p, Query{Region: k.region, Actions: p.invokeActions(true), Resources: resources[k], Via: k.via}})
	}
	actions := slices.Sorted(maps.Keys(productMissing))
	for _, id := range products {
		out = append(out, simJob{p, Query{Region: marketplaceMarker, RequestedRegion: marketplaceRegion, Actions: actions, ProductID: id}})
	}
	return out
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
