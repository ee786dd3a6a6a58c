package awssim

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// iamProtocol is IAM's query protocol: form-encoded POST, XML answers, the
// same envelope as STS's (shapes from the SDK's response snapshots,
// aws-sdk-go-v2 service/iam v1.65 response_snapshot/*.snap).
type iamProtocol struct{}

// The operations iamProtocol answers.
const (
	OpSimulatePrincipalPolicy = "SimulatePrincipalPolicy"
	OpListRoles               = "ListRoles"
	OpListRoleTags            = "ListRoleTags"
)

func (iamProtocol) operations() []string {
	return []string{OpSimulatePrincipalPolicy, OpListRoles, OpListRoleTags}
}

const iamNamespace = "https://iam.amazonaws.com/doc/2010-05-08/"

func (iamProtocol) operation(req *request) string { return stsProtocol{}.operation(req) }

func (p iamProtocol) serve(s *Server, w http.ResponseWriter, req *request) {
	form, _ := req.query()
	if form.Get("Version") != "2010-05-08" {
		p.writeError(w, &apiError{status: 400, code: "InvalidParameterValue", message: "unsupported Version", sender: true})
		return
	}
	var out any
	var err error
	switch req.op {
	case OpSimulatePrincipalPolicy:
		out, err = s.simulatePrincipalPolicy(req, form)
	case OpListRoles:
		out, err = s.listRoles(req, form)
	case OpListRoleTags:
		out, err = s.listRoleTags(req, form)
	default:
		err = &apiError{status: 400, code: "InvalidAction", message: fmt.Sprintf("Could not find operation %s for version 2010-05-08", req.op), sender: true}
	}
	if err != nil {
		p.writeError(w, err)
		return
	}
	writeXML(w, out)
}

func (iamProtocol) writeError(w http.ResponseWriter, err error) {
	writeQueryError(w, iamNamespace, err)
}

// roleOf finds a role of the caller's own account by ARN. Another account's
// role is refused as IAM refuses a caller without permission there; a role
// that does not exist is NoSuchEntity, 404 (IAM API reference,
// SimulatePrincipalPolicy errors; the message as IAM words it for GetRole).
// ledger: IAM-simulate
func (s *Server) roleOf(req *request, arn string) (*IAMRole, error) {
	m := roleARN.FindStringSubmatch(arn)
	if m == nil {
		return nil, &apiError{status: 400, code: "InvalidInput", message: fmt.Sprintf("ARN %s is not valid.", arn), sender: true}
	}
	if m[1] != req.caller.Account {
		return nil, accessDenied("AccessDenied", fmt.Sprintf("User: %s is not authorized to perform: iam:%s on resource: %s", req.caller.ARN, req.op, arn))
	}
	// The ARN must be exact, path included, as IAM's are.
	if a, ok := s.accounts[m[1]]; ok {
		for i, r := range a.Roles {
			if arn == "arn:aws:iam::"+a.ID+":role"+r.Path+r.Name {
				return &a.Roles[i], nil
			}
		}
	}
	return nil, &apiError{status: 404, code: "NoSuchEntity", message: fmt.Sprintf("The role with name %s cannot be found.", m[2]), sender: true}
}

// members reads a query-protocol list: Name.member.1, Name.member.2, ...
func members(form url.Values, name string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := form[fmt.Sprintf("%s.member.%d", name, i)]
		if !ok {
			return out
		}
		out = append(out, v...)
	}
}

type evalStatementXML struct {
	SourcePolicyId   string
	SourcePolicyType string
	StartPosition    struct{ Line, Column int }
	EndPosition      struct{ Line, Column int }
}

type boundaryXML struct {
	AllowedByPermissionsBoundary bool
}

type resourceResultXML struct {
	EvalResourceName                  string
	EvalResourceDecision              string
	MatchedStatements                 []evalStatementXML `xml:"MatchedStatements>member"`
	MissingContextValues              []string           `xml:"MissingContextValues>member"`
	PermissionsBoundaryDecisionDetail *boundaryXML       `xml:",omitempty"`
}

type evaluationXML struct {
	EvalActionName              string
	EvalResourceName            string
	EvalDecision                string
	MatchedStatements           []evalStatementXML `xml:"MatchedStatements>member"`
	MissingContextValues        []string           `xml:"MissingContextValues>member"`
	OrganizationsDecisionDetail struct {
		AllowedByOrganizations bool
	}
	PermissionsBoundaryDecisionDetail *boundaryXML        `xml:",omitempty"`
	ResourceSpecificResults           []resourceResultXML `xml:"ResourceSpecificResults>member"`
}

// decision ranks the three answers: the most restrictive wins an aggregate.
var decisionRank = map[string]int{"allowed": 0, "implicitDeny": 1, "explicitDeny": 2}

// simulatePrincipalPolicy answers SimulatePrincipalPolicy for a role of the
// caller's account, with the simulator's evaluation (iampolicy.go). As IAM
// does since its change noted in the API reference (EvaluationResult,
// "Important"), it returns one EvaluationResult per action whatever the
// number of resources: the top-level decision is the most restrictive across
// them, and ResourceSpecificResults holds each resource's. The top-level
// EvalResourceName is "*" when there are several resources (inferred).
// OrganizationsDecisionDetail is always there, since every simulated account
// is in the organization; PermissionsBoundaryDecisionDetail only when the
// role has a boundary. An SCP deny is reported with no matched statement
// (SCP statements are not a PolicySourceType; inferred). The context key
// aws:RequestedRegion comes only from ContextEntries, as in IAM's simulator,
// which does not infer it.
// ledger: IAM-simulate, IAM-requested-region
func (s *Server) simulatePrincipalPolicy(req *request, form url.Values) (any, error) {
	role, err := s.roleOf(req, form.Get("PolicySourceArn"))
	if err != nil {
		return nil, err
	}
	actions, resources := members(form, "ActionNames"), members(form, "ResourceArns")
	if len(actions) == 0 {
		return nil, &apiError{status: 400, code: "InvalidInput", message: "ActionNames must contain at least one action.", sender: true}
	}
	anyResource := len(resources) == 0
	if anyResource {
		resources = []string{"*"}
	}
	context := evalContext{}
	for i := 1; ; i++ {
		prefix := fmt.Sprintf("ContextEntries.member.%d.", i)
		key := form.Get(prefix + "ContextKeyName")
		if key == "" {
			break
		}
		context[strings.ToLower(key)] = members(form, prefix+"ContextKeyValues")
	}
	scps := s.scpsFor(req.caller.Account)

	var results []evaluationXML
	for _, action := range actions {
		top := evaluationXML{EvalActionName: action, EvalResourceName: resources[0], EvalDecision: "allowed"}
		if len(resources) > 1 {
			top.EvalResourceName = "*"
		}
		top.OrganizationsDecisionDetail.AllowedByOrganizations = true
		if role.boundary != nil {
			top.PermissionsBoundaryDecisionDetail = &boundaryXML{AllowedByPermissionsBoundary: true}
		}
		for i, resource := range resources {
			r := evaluate(role, scps, evalRequest{action: action, resource: resource, context: context})
			if i == 0 || decisionRank[r.decision] > decisionRank[top.EvalDecision] {
				top.EvalDecision = r.decision
				top.MatchedStatements = r.matched
			}
			// One flag per action: false when the SCPs deny any resource,
			// as the aggregate EvalDecision is the most restrictive
			// (inferred). ledger: IAM-orgs-decision-detail
			if !r.allowedByOrgs {
				top.OrganizationsDecisionDetail.AllowedByOrganizations = false
			}
			// MissingContextValues: per resource when ResourceArns were
			// given, at the top level when the resource is "*" (IAM API
			// reference, EvaluationResult.MissingContextValues; the member
			// of EvaluationResult and ResourceSpecificResult in the SDK's
			// schemas, aws-sdk-go-v2 service/iam v1.65 schemas/schemas.go).
			// ledger: IAM-missing-context
			rr := resourceResultXML{EvalResourceName: resource, EvalResourceDecision: r.decision, MatchedStatements: r.matched, MissingContextValues: r.missing}
			if anyResource {
				top.MissingContextValues = r.missing
			}
			if role.boundary != nil {
				rr.PermissionsBoundaryDecisionDetail = &boundaryXML{AllowedByPermissionsBoundary: r.allowedByBoundary}
				if !r.allowedByBoundary {
					top.PermissionsBoundaryDecisionDetail.AllowedByPermissionsBoundary = false
				}
			}
			top.ResourceSpecificResults = append(top.ResourceSpecificResults, rr)
		}
		results = append(results, top)
	}

	return iamPage(s, form, OpSimulatePrincipalPolicy, "EvaluationResults", results)
}

// iamPage answers a paged IAM operation op with the page of items that
// MaxItems and Marker select (pageBounds), in IAM's query-protocol shape:
// <opResponse><opResult><list><member>item</member>...</list>
// <IsTruncated/><Marker/></opResult><ResponseMetadata/></opResponse>.
func iamPage[T any](s *Server, form url.Values, op, list string, items []T) (any, error) {
	start, end, next, err := s.pageBounds(form, len(items))
	if err != nil {
		return nil, err
	}
	type members struct {
		XMLName xml.Name
		Members []T `xml:"member"`
	}
	type result struct {
		XMLName     xml.Name
		List        members
		IsTruncated bool
		Marker      string `xml:",omitempty"`
	}
	r := result{XMLName: xml.Name{Local: op + "Result"}, List: members{XMLName: xml.Name{Local: list}, Members: items[start:end]},
		IsTruncated: next != "", Marker: next}
	return struct {
		XMLName xml.Name
		NS      string `xml:"xmlns,attr"`
		Result  result
		Meta    responseMetadata `xml:"ResponseMetadata"`
	}{XMLName: xml.Name{Local: op + "Response"}, NS: iamNamespace, Result: r, Meta: newMetadata()}, nil
}

// pageBounds reads MaxItems (1-1000, default 100, IAM API reference) and
// Marker, capped at the scenario's page size as IAM "might return fewer than
// MaxItems", and returns the slice to answer and the next marker.
func (s *Server) pageBounds(form url.Values, total int) (start, end int, next string, err error) {
	size := 100
	if v := form.Get("MaxItems"); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 1 || n > 1000 {
			return 0, 0, "", &apiError{status: 400, code: "ValidationError", message: "1 validation error detected: Value at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000", sender: true}
		}
		size = n
	}
	size = min(size, s.sc.Pagination.PageSize)
	if m := form.Get("Marker"); m != "" {
		n, perr := strconv.Atoi(strings.TrimPrefix(m, "m-"))
		if perr != nil || !strings.HasPrefix(m, "m-") || n < 0 || n > total {
			return 0, 0, "", &apiError{status: 400, code: "InvalidInput", message: "Invalid Marker.", sender: true}
		}
		start = n
	}
	end = min(start+size, total)
	if end < total {
		next = "m-" + strconv.Itoa(end)
	}
	return start, end, next, nil
}

// evaluation is one (action, resource) answer, as the XML reports it.
type evaluation struct {
	decision          string
	matched           []evalStatementXML
	allowedByOrgs     bool
	allowedByBoundary bool
	// missing are MissingContextValues (ledger: IAM-missing-context).
	missing []string
}

// evaluate applies the simulator's evaluator (iampolicy.go) to one request
// of role. MatchedStatements names the role's own policies only (type
// "role"): SCP and boundary statements are not one of IAM's
// PolicySourceType values for a role's inline policies (inferred), and the
// product reads a matched statement on an explicit deny as the role's own.
func evaluate(role *IAMRole, scps []scpLevel, r evalRequest) evaluation {
	in := evalInput{scps: scps, action: r.action, resource: r.resource, context: r.context}
	if role.boundary != nil {
		in.boundary = &namedPolicy{name: "boundary", doc: role.boundary}
	}
	for _, name := range sortedKeys(role.parsed) {
		in.identity = append(in.identity, namedPolicy{name: name, doc: role.parsed[name]})
	}
	res := evaluatePolicies(in)
	e := evaluation{decision: res.decision, allowedByOrgs: res.allowedByOrgs, allowedByBoundary: res.allowedByBoundary, missing: res.missing}
	seen := map[string]bool{}
	for _, m := range res.matched {
		if m.layer == layerIdentity && !seen[m.policy] {
			seen[m.policy] = true
			e.matched = append(e.matched, matched(m.policy))
		}
	}
	return e
}

// matched names an inline role policy as MatchedStatements does (type "role").
func matched(policyName string) evalStatementXML {
	st := evalStatementXML{SourcePolicyId: policyName, SourcePolicyType: "role"}
	st.StartPosition.Line, st.StartPosition.Column = 1, 1
	st.EndPosition.Line, st.EndPosition.Column = 1, 1
	return st
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// scpsFor lists the SCP levels on the path from the root to account, the
// root first: each level holds the SCPs attached to it, and FullAWSAccess
// unless the scenario detached it there (ledger: IAM-scp-every-level).
// SCPs do not apply to the management account (Organizations user guide,
// "Service control policies"; ledger: IAM-scp-not-management).
func (s *Server) scpsFor(account string) []scpLevel {
	if account == s.sc.Organization.ManagementAccount {
		return nil
	}
	var path []string
	for id := account; id != ""; id = s.parentOf[id] {
		path = append([]string{id}, path...)
	}
	levels := make([]scpLevel, len(path))
	for i, target := range path {
		levels[i].target = target
		if !slices.Contains(s.sc.Organization.FullAWSAccessDetached, target) {
			levels[i].policies = append(levels[i].policies, namedPolicy{name: "FullAWSAccess", doc: fullAWSAccess})
		}
		for j := range s.sc.SCPs {
			if slices.Contains(s.sc.SCPs[j].Targets, target) {
				levels[i].policies = append(levels[i].policies, namedPolicy{name: s.sc.SCPs[j].Name, doc: s.sc.SCPs[j].parsed})
			}
		}
	}
	return levels
}

type roleXML struct {
	Path                     string
	RoleName                 string
	RoleId                   string
	Arn                      string
	CreateDate               string
	AssumeRolePolicyDocument string
	MaxSessionDuration       int
}

// listRoles answers ListRoles a page at a time. Like IAM it leaves out the
// roles' tags (IAM API reference, ListRoles: "does not return ... Tags"), so
// tag discovery costs a ListRoleTags per role.
// ledger: IAM-list-roles
func (s *Server) listRoles(req *request, form url.Values) (any, error) {
	var roles []roleXML
	if a, ok := s.accounts[req.caller.Account]; ok {
		for _, r := range a.Roles {
			arn := "arn:aws:iam::" + a.ID + ":role" + r.Path + r.Name
			roles = append(roles, roleXML{Path: r.Path, RoleName: r.Name, RoleId: uniqueID("AROA", arn)[:21], Arn: arn,
				CreateDate: profileCreated, AssumeRolePolicyDocument: url.QueryEscape(`{"Version":"2012-10-17","Statement":[]}`), MaxSessionDuration: 3600})
		}
	}
	return iamPage(s, form, OpListRoles, "Roles", roles)
}

// listRoleTags answers ListRoleTags for a role of the caller's account.
// ledger: IAM-list-roles
func (s *Server) listRoleTags(req *request, form url.Values) (any, error) {
	name := form.Get("RoleName")
	var role *IAMRole
	if a, ok := s.accounts[req.caller.Account]; ok {
		for i := range a.Roles {
			if a.Roles[i].Name == name {
				role = &a.Roles[i]
			}
		}
	}
	if role == nil {
		return nil, &apiError{status: 404, code: "NoSuchEntity", message: fmt.Sprintf("The role with name %s cannot be found.", name), sender: true}
	}
	type tag struct{ Key, Value string }
	var tags []tag
	for _, k := range sortedKeys(role.Tags) {
		tags = append(tags, tag{k, role.Tags[k]})
	}
	return iamPage(s, form, OpListRoleTags, "Tags", tags)
}
