// Classification of one principal's check from its simulated decisions.

package check

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/grantwatch/grantwatch/pkg/result"
)

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

// classifyPrincipal decides one principal's status for one check from its
// decisions and the account-level result.
func classifyPrincipal(h held, p Principal, ds Decisions) result.Result {
	acct := h.res
	r := result.Result{Account: acct.Account, Region: acct.Region, Model: acct.Model, Principal: p.Name}
	if d := acct.Destinations(); d != nil {
		r.SetDestinations(d)
	}
	actions := p.invokeActions(!h.noStream)
	w := worstOf(h, p, ds, actions)
	skipped := ""
	if p.Stream && h.noStream {
		skipped = "; " + actionStream + " not checked: ListFoundationModels says responseStreamingSupported=false for the model"
	}
	if w.status == result.Enabled {
		explainAllowed(&r, h, p, ds, actions, skipped)
	} else {
		explainDenial(&r, h, p, w, actions, skipped)
	}
	return r
}

// worst is the decision that decides a principal's check: the outermost
// layer denying an action on a resource the call touches (see layerOrder).
type worst struct {
	status   result.Status
	where    Need
	action   string
	policies []string
	missing  []string
	dec      Decision
}

// worstOf finds the worst decision over every resource and action of the
// check's call; its status is Enabled when every one is allowed.
func worstOf(h held, p Principal, ds Decisions, actions []string) worst {
	w := worst{status: result.Enabled}
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
		if s != result.Enabled && (w.status == result.Enabled || slices.Index(layerOrder, s) < slices.Index(layerOrder, w.status)) {
			w = worst{status: s, where: n, action: a, policies: d.Policies, missing: unknown, dec: d}
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
	return w
}

// explainDenial explains a principal's denial, by the layer that denies it.
func explainDenial(r *result.Result, h held, p Principal, w worst, actions []string, skipped string) {
	acct, where, action, policies, missing, dec := h.res, w.where, w.action, w.policies, w.missing, w.dec
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
	switch w.status {
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
	}
}

// explainAllowed is a principal's result when its permissions allow the call:
// Marketplace's, when the first call must subscribe, else the account's.
func explainAllowed(r *result.Result, h held, p Principal, ds Decisions, actions []string, skipped string) {
	acct := h.res
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
// and the account's own result, stand. An unknown role is
// NoSuchEntity (ledger: IAM-simulate).
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
