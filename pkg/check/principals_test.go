package check

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/devtools/awssim"
	"github.com/grantwatch/grantwatch/pkg/result"
)

// pagedSimulator answers SimulatePrincipalPolicy with the SDK's own types,
// one evaluation result a page, as IAM may page them.
type pagedSimulator struct {
	results []iamtypes.EvaluationResult
	calls   int
}

func (f *pagedSimulator) SimulatePrincipalPolicy(_ context.Context, in *iam.SimulatePrincipalPolicyInput, _ ...func(*iam.Options)) (*iam.SimulatePrincipalPolicyOutput, error) {
	f.calls++
	if len(in.ContextEntries) != 3 || aws.ToString(in.ContextEntries[0].ContextKeyName) != "aws:RequestedRegion" ||
		aws.ToString(in.ContextEntries[1].ContextKeyName) != "aws:PrincipalArn" || in.ContextEntries[1].ContextKeyValues[0] != aws.ToString(in.PolicySourceArn) {
		return nil, errors.New("want the requested region and the principal's ARN and account as the context entries")
	}
	i := 0
	if in.Marker != nil {
		i = len(*in.Marker)
	}
	out := &iam.SimulatePrincipalPolicyOutput{EvaluationResults: f.results[i : i+1]}
	if i+1 < len(f.results) {
		out.IsTruncated, out.Marker = true, aws.String(strings.Repeat("m", i+1))
	}
	return out, nil
}

func resourceResult(arn string, d iamtypes.PolicyEvaluationDecisionType, boundary *bool, policies ...string) iamtypes.ResourceSpecificResult {
	rr := iamtypes.ResourceSpecificResult{EvalResourceName: aws.String(arn), EvalResourceDecision: d}
	if boundary != nil {
		rr.PermissionsBoundaryDecisionDetail = &iamtypes.PermissionsBoundaryDecisionDetail{AllowedByPermissionsBoundary: *boundary}
	}
	for _, p := range policies {
		rr.MatchedStatements = append(rr.MatchedStatements, iamtypes.Statement{SourcePolicyId: aws.String(p), SourcePolicyType: iamtypes.PolicySourceTypeRole})
	}
	return rr
}

func TestClassifyPrincipal(t *testing.T) {
	p := Principal{Name: "AppRole", ARN: "arn:aws:iam::111111111111:role/AppRole"}
	model := foundationModelARN("aws", "us-east-1", claude)
	hop := foundationModelARN("aws", "us-east-2", claude)
	profile := "arn:aws:bedrock:us-east-1:111111111111:inference-profile/us." + claude
	usable := held{res: result.Result{Account: "111111111111", Region: "us-east-1", Model: "us." + claude, Status: result.Enabled},
		needs: []Need{{"us-east-1", profile}, {"us-east-1", model}, {"us-east-2", hop}}}
	noAgreement := held{res: result.Result{Account: "111111111111", Region: "us-east-1", Model: claude, Status: result.AgreementMissing},
		needs: []Need{{"us-east-1", model}}, marketplace: true}
	notAuthorized := held{res: result.Result{Account: "111111111111", Region: "us-east-1", Model: claude, Status: result.NotAuthorized, Remediation: "form"},
		needs: []Need{{"us-east-1", model}}}
	no, yes := aws.Bool(false), aws.Bool(true)
	allowed := iamtypes.PolicyEvaluationDecisionTypeAllowed
	implicit := iamtypes.PolicyEvaluationDecisionTypeImplicitDeny
	explicit := iamtypes.PolicyEvaluationDecisionTypeExplicitDeny

	// answer is one region's simulation: both invoke actions, one result
	// per action, per-resource decisions inside.
	answer := func(orgs bool, per ...iamtypes.ResourceSpecificResult) []iamtypes.EvaluationResult {
		var out []iamtypes.EvaluationResult
		for _, a := range []string{actionInvoke} {
			out = append(out, iamtypes.EvaluationResult{EvalActionName: aws.String(a), EvalResourceName: aws.String("*"), EvalDecision: per[0].EvalResourceDecision,
				OrganizationsDecisionDetail: &iamtypes.OrganizationsDecisionDetail{AllowedByOrganizations: orgs}, ResourceSpecificResults: per})
		}
		return out
	}
	type region struct {
		name    string
		results []iamtypes.EvaluationResult
	}
	tests := []struct {
		name       string
		check      held
		regions    []region
		subscribe  iamtypes.PolicyEvaluationDecisionType
		want       result.Status
		wantCause  string
		wantRemedy string
	}{
		{"every layer allows", usable, []region{
			{"us-east-1", answer(true, resourceResult(profile, allowed, nil, "invoke"), resourceResult(model, allowed, nil, "invoke"))},
			{"us-east-2", answer(true, resourceResult(hop, allowed, nil, "invoke"))},
		}, "", result.Enabled, "allowed on every resource the call touches (3)", "None needed"},
		{"an SCP denies one destination of the profile", usable, []region{
			{"us-east-1", answer(true, resourceResult(profile, allowed, nil, "invoke"), resourceResult(model, allowed, nil, "invoke"))},
			{"us-east-2", answer(false, resourceResult(hop, explicit, nil))},
		}, "", result.SCPDenied, "aws:RequestedRegion=us-east-2, a destination region of us." + claude, "add us-east-2 to its aws:RequestedRegion condition"},
		{"the boundary", usable, []region{
			{"us-east-1", answer(true, resourceResult(profile, implicit, no), resourceResult(model, implicit, no))},
			{"us-east-2", answer(true, resourceResult(hop, implicit, no))},
		}, "", result.BoundaryDenied, "AllowedByPermissionsBoundary=false", "boundary policy"},
		{"SCP outranks the boundary", usable, []region{
			{"us-east-1", answer(true, resourceResult(profile, implicit, no), resourceResult(model, allowed, yes, "invoke"))},
			{"us-east-2", answer(false, resourceResult(hop, explicit, yes))},
		}, "", result.SCPDenied, "us-east-2", "service control policy"},
		{"no identity allow: the minimal statement", usable, []region{
			{"us-east-1", answer(true, resourceResult(profile, implicit, nil), resourceResult(model, implicit, nil))},
			{"us-east-2", answer(true, resourceResult(hop, implicit, nil))},
		}, "", result.IAMDenied, "implicitDeny, no identity policy allows it", `"Resource": ["` + profile + `", "` + model + `", "` + hop + `"]`},
		{"an identity Deny", notAuthorized, []region{
			{"us-east-1", answer(true, resourceResult(model, explicit, nil, "no-anthropic"))},
		}, "", result.IAMDenied, "explicitDeny by no-anthropic", "Narrow that Deny"},
		{"the first call may not subscribe", noAgreement, []region{
			{"us-east-1", answer(true, resourceResult(model, allowed, nil, "invoke"))},
		}, implicit, result.MarketplaceDenied, "AGREEMENT_MISSING", "aws-marketplace:Subscribe"},
		{"it may subscribe: usable for it once subscribed", noAgreement, []region{
			{"us-east-1", answer(true, resourceResult(model, allowed, nil, "invoke"))},
		}, allowed, result.AgreementMissing, "the model itself is AGREEMENT_MISSING", ""},
		{"permissions allow, the account's problem stays the account's", notAuthorized, []region{
			{"us-east-1", answer(true, resourceResult(model, allowed, nil, "invoke"))},
		}, "", result.NotAuthorized, "allow the call", "form"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := Decisions{}
			for _, reg := range tt.regions {
				api := &pagedSimulator{results: reg.results}
				ds[reg.name] = map[DecisionKey]Decision{}
				if err := Simulate(context.Background(), api, p, Query{Region: reg.name, Actions: p.simulated()}, ds[reg.name]); err != nil {
					t.Fatal(err)
				}
				if api.calls != len(reg.results) {
					t.Fatalf("pages read: got %d; want every page, %d", api.calls, len(reg.results))
				}
			}
			if tt.subscribe != "" {
				var results []iamtypes.EvaluationResult
				for _, a := range marketplaceActions {
					results = append(results, iamtypes.EvaluationResult{EvalActionName: aws.String(a), EvalResourceName: aws.String("*"), EvalDecision: tt.subscribe})
				}
				api := &pagedSimulator{results: results}
				ds[marketplaceMarker] = map[DecisionKey]Decision{}
				if err := Simulate(context.Background(), api, p, Query{Region: marketplaceMarker, RequestedRegion: marketplaceRegion, Actions: marketplaceActions}, ds[marketplaceMarker]); err != nil {
					t.Fatal(err)
				}
			}
			got := classifyPrincipal(tt.check, p, ds)
			checkVerdict(t, got, tt.want, tt.wantCause, tt.wantRemedy)
			if got.Principal != "AppRole" {
				t.Errorf("principal: got %q; want AppRole", got.Principal)
			}
		})
	}
}

// TestRunPrincipals audits the check organization with two principals: an
// SCP that denies one destination region of a profile, a boundary, a role
// with no Bedrock allow, a first call that may not subscribe, and a role
// missing from one account.
func TestRunPrincipals(t *testing.T) {
	usClaude := "us." + claude35
	invoke := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:InvokeModel*","Resource":"*"}}`
	a, sim := fixture(t, func(sc *awssim.Scenario) {
		sc.Profiles = []awssim.Profile{{ID: usClaude, Model: claude35, Sources: []string{"us-east-1", "us-west-2"}, Destinations: []string{"us-east-1", "us-east-2", "us-west-2"}}}
		sc.SCPs = []awssim.SCP{{Name: "regions", Targets: []string{"111111111111"},
			Document: `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"bedrock:*","Resource":"*","Condition":{"StringNotEquals":{"aws:RequestedRegion":["us-east-1","us-west-2","eu-central-1"]}}}}`}}
		sc.Account("111111111111").Roles = []awssim.IAMRole{
			{Name: "AppRole", Policies: map[string]string{"invoke": invoke}},
			{Name: "Batch", Policies: map[string]string{"invoke": invoke},
				Boundary: `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:*","Resource":"arn:aws:bedrock:*::foundation-model/amazon.*"}}`},
		}
		sc.Account("222222222222").Roles = []awssim.IAMRole{{Name: "AppRole", Policies: map[string]string{"invoke": invoke}}}
		sc.Account("333333333333").Roles = []awssim.IAMRole{
			{Name: "AppRole", Policies: map[string]string{"s3": `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}`}},
			{Name: "Batch", Policies: map[string]string{"invoke": invoke}},
		}
		sc.Faults = []awssim.Rule{{Operation: awssim.OpSimulatePrincipalPolicy, Account: "333333333333", Count: 100, Status: 500}}
	}, func(c *config.Config) {
		c.Principals = config.Principals{PrincipalSet: config.PrincipalSet{Roles: []string{"AppRole", "Batch"}}}
		c.Models.ByAccount["111111111111"] = []string{usClaude}
		c.Limits.MaxAttempts = 1
	})
	rep := a.Run(context.Background(), "principals")
	byKey := map[string]result.Result{}
	for _, r := range rep.Results {
		byKey[r.Account+"/"+r.Region+"/"+r.Model+"/"+r.Principal] = r
	}
	tests := []struct {
		key, wantCause string
		want           result.Status
	}{
		{"111111111111/us-east-1/" + nova + "/AppRole", "allowed on every resource", result.Enabled},
		{"111111111111/us-east-1/" + nova + "/Batch", "allowed on every resource", result.Enabled},
		{"111111111111/us-east-1/" + claude35 + "/Batch", "AllowedByPermissionsBoundary=false", result.BoundaryDenied},
		{"111111111111/us-east-1/" + usClaude + "/AppRole", "aws:RequestedRegion=us-east-2, a destination region", result.SCPDenied},
		{"111111111111/us-west-2/" + usClaude + "/AppRole", "aws:RequestedRegion=us-east-2", result.SCPDenied},
		{"222222222222/us-east-1/" + cohere + "/AppRole", "aws-marketplace:Subscribe is implicitDeny", result.MarketplaceDenied},
		{"222222222222/us-east-1/" + nova + "/Batch", "NoSuchEntity", result.AuditError},
		{"333333333333/us-east-1/" + nova + "/AppRole", "simulate-principal", result.AuditError},
		{"111111111111/us-east-1/" + usClaude + "/", "routes to us-east-1, us-east-2, us-west-2", result.Enabled},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			r, ok := byKey[tt.key]
			if !ok {
				t.Fatal("no result")
			}
			if r.Status != tt.want || !strings.Contains(r.Cause, tt.wantCause) {
				t.Errorf("got %s (%q); want %s with %q", r.Status, r.Cause, tt.want, tt.wantCause)
			}
		})
	}
	// Not critical by default: whoever calls first subscribes (alerts.marketplace_denied_critical).
	if r := byKey["222222222222/us-east-1/"+cohere+"/"]; r.Status != result.AgreementMissing || r.IsCritical() || !strings.Contains(r.Cause, "AppRole may not subscribe") {
		t.Errorf("account-level missing agreement: got %s critical %v (%q); want AGREEMENT_MISSING naming AppRole, not critical", r.Status, r.IsCritical(), r.Cause)
	}
	if r := byKey["333333333333/us-east-1/"+nova+"/"]; r.Status != result.Enabled {
		t.Errorf("a failed simulation touched the account's own result: got %s", r.Status)
	}
	for key := range byKey {
		if strings.HasPrefix(key, "444444444444/") && !strings.HasSuffix(key, "/") {
			t.Errorf("principal result %s in an account the audit could not enter", key)
		}
	}
	// One simulation per principal and requested region (and one for
	// Marketplace where an agreement is missing): 111: 2 x {us-east-1,
	// us-east-2, us-west-2, eu-central-1}; 222: AppRole x {us-east-1,
	// us-west-2} + Marketplace (its three actions take two pages at the
	// simulator's page size), Batch fails at once; 333: each fails at once.
	// And in 111, the SCP's denial of us-east-2 is asked again with the
	// profile's ARN (an SCP may exempt calls through a profile by
	// bedrock:InferenceProfileArn): 2 principals x the profile of each of
	// the two source regions.
	if got, want := sim.Calls(awssim.OpSimulatePrincipalPolicy), int64(8+4+1+2+4); got != want {
		t.Errorf("SimulatePrincipalPolicy calls: got %d; want %d", got, want)
	}
	if rep.Summary.Checked != rep.Summary.Planned || rep.Summary.PrincipalChecks == 0 {
		t.Errorf("summary: checked %d of %d, principal checks %d", rep.Summary.Checked, rep.Summary.Planned, rep.Summary.PrincipalChecks)
	}
}

func TestRunPrincipalsFoundByTag(t *testing.T) {
	invoke := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:InvokeModel*","Resource":"*"}}`
	a, sim := fixture(t, func(sc *awssim.Scenario) {
		sc.Account("111111111111").Roles = []awssim.IAMRole{
			{Name: "Tagged", Path: "/apps/", Tags: map[string]string{"grantwatch:bedrock-caller": "true"}, Policies: map[string]string{"invoke": invoke}},
			{Name: "Untagged", Policies: map[string]string{"invoke": invoke}},
			{Name: "OtherValue", Tags: map[string]string{"grantwatch:bedrock-caller": "false"}},
		}
		sc.Pagination.PageSize = 1 // ListRoles takes three pages
	}, func(c *config.Config) {
		c.Principals = config.Principals{ByAccount: map[string]config.PrincipalSet{"111111111111": {Tag: "grantwatch:bedrock-caller=true"}}}
	})
	rep := a.Run(context.Background(), "tags")
	found := map[string]int{}
	for _, r := range rep.Results {
		if r.Principal != "" {
			found[r.Account+"/"+r.Principal]++
			if r.Status != result.Enabled && r.Status != result.NotInRegion {
				t.Errorf("%s/%s/%s as %s: got %s (%s)", r.Account, r.Region, r.Model, r.Principal, r.Status, r.Cause)
			}
		}
	}
	if len(found) != 1 || found["111111111111/Tagged"] == 0 {
		t.Errorf("principals found: got %v; want only 111111111111/Tagged, with its path-qualified ARN simulated", found)
	}
	if got := sim.Calls(awssim.OpListRoles); got != 3 {
		t.Errorf("ListRoles calls: got %d; want every page, 3", got)
	}
	if got := sim.Calls(awssim.OpListRoleTags); got != 3 {
		t.Errorf("ListRoleTags calls: got %d; want one per role, 3", got)
	}
}

// fakeRoles lists roles and their tags, one page each.
type fakeRoles map[string]map[string]string

func (f fakeRoles) ListRoles(_ context.Context, _ *iam.ListRolesInput, _ ...func(*iam.Options)) (*iam.ListRolesOutput, error) {
	out := &iam.ListRolesOutput{}
	for _, name := range slices.Sorted(maps.Keys(f)) {
		out.Roles = append(out.Roles, iamtypes.Role{RoleName: aws.String(name), Arn: aws.String("arn:aws:iam::111111111111:role/" + name)})
	}
	return out, nil
}

func (f fakeRoles) ListRoleTags(_ context.Context, in *iam.ListRoleTagsInput, _ ...func(*iam.Options)) (*iam.ListRoleTagsOutput, error) {
	out := &iam.ListRoleTagsOutput{}
	for k, v := range f[aws.ToString(in.RoleName)] {
		out.Tags = append(out.Tags, iamtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return out, nil
}

// A role named by several sets gets each set's actions, auth and context;
// the more specific set's value of a key wins.
func TestPrincipalsMergeTheirSets(t *testing.T) {
	c := config.Principals{
		PrincipalSet: config.PrincipalSet{Roles: []string{"Chat"}, Context: []config.ContextEntry{{Name: "aws:SourceVpce", Type: "string", Values: []string{"vpce-top"}}}},
		ByOU:         map[string]config.PrincipalSet{"ou-ab12-cd34ef56": {Roles: []string{"Chat"}, Actions: []string{"stream"}}},
		ByAccount: map[string]config.PrincipalSet{"111111111111": {Tag: "team=chat", Auth: []string{"api_key"},
			Context: []config.ContextEntry{{Name: "aws:sourcevpce", Type: "string", Values: []string{"vpce-account"}}}}},
	}
	got, err := Principals(context.Background(), fakeRoles{"Chat": {"team": "chat"}, "Other": {"team": "web"}}, "aws", "111111111111", c.For("111111111111", []string{"ou-ab12-cd34ef56"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "Chat" {
		t.Fatalf("principals: got %+v; want Chat only", got)
	}
	p := got[0]
	if !p.Invoke || !p.Stream || !p.APIKey || len(p.Context) != 1 || p.Context[0].ContextKeyValues[0] != "vpce-account" {
		t.Errorf("Chat: got invoke %v, stream %v, api key %v, context %v; want all three and the account's aws:SourceVpce", p.Invoke, p.Stream, p.APIKey, p.Context)
	}
	if got, want := strings.Join(p.simulated(), ","), "bedrock:InvokeModel,bedrock:InvokeModelWithResponseStream,bedrock:CallWithBearerToken"; got != want {
		t.Errorf("actions: got %s; want %s", got, want)
	}
	if got := strings.Join(p.invokeActions(false), ","); got != "bedrock:InvokeModel" {
		t.Errorf("actions for a model without streaming: got %s; want bedrock:InvokeModel", got)
	}
}
