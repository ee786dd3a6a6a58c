package check

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// answers is a RoleSimulator that answers per resource from a table, with
// one OrganizationsDecisionDetail per action over the call's resources, as
// IAM does (ledger: IAM-orgs-decision-detail), and records each call's
// resources.
type answers struct {
	// by resource: decision, and whether the SCPs deny it.
	decision map[string]iamtypes.PolicyEvaluationDecisionType
	scp      map[string]bool
	calls    [][]string
}

func (a *answers) SimulatePrincipalPolicy(_ context.Context, in *iam.SimulatePrincipalPolicyInput, _ ...func(*iam.Options)) (*iam.SimulatePrincipalPolicyOutput, error) {
	a.calls = append(a.calls, slices.Clone(in.ResourceArns))
	var out iam.SimulatePrincipalPolicyOutput
	for _, action := range in.ActionNames {
		ev := iamtypes.EvaluationResult{EvalActionName: aws.String(action), EvalResourceName: aws.String("*"), EvalDecision: iamtypes.PolicyEvaluationDecisionTypeAllowed,
			OrganizationsDecisionDetail: &iamtypes.OrganizationsDecisionDetail{AllowedByOrganizations: true}}
		for _, r := range in.ResourceArns {
			ev.ResourceSpecificResults = append(ev.ResourceSpecificResults, iamtypes.ResourceSpecificResult{EvalResourceName: aws.String(r), EvalResourceDecision: a.decision[r]})
			if a.scp[r] {
				ev.OrganizationsDecisionDetail.AllowedByOrganizations = false
			}
		}
		out.EvaluationResults = append(out.EvaluationResults, ev)
	}
	return &out, nil
}

// TestSimulateAttributesTheSCPAnswer: the per-action SCP flag is read as a
// resource's only where the answer shows whose it is; otherwise the
// refused resources are asked again alone.
func TestSimulateAttributesTheSCPAnswer(t *testing.T) {
	const profile, model, other = "arn:profile", "arn:model", "arn:other"
	allowed, implicit, explicit := iamtypes.PolicyEvaluationDecisionTypeAllowed, iamtypes.PolicyEvaluationDecisionTypeImplicitDeny, iamtypes.PolicyEvaluationDecisionTypeExplicitDeny
	tests := []struct {
		name      string
		decision  map[string]iamtypes.PolicyEvaluationDecisionType
		scp       map[string]bool
		wantCalls int
		// wantSCP: the resources read as denied by the SCPs.
		wantSCP []string
	}{
		{name: "the SCP denies the model, the role's policy the profile: the profile is asked alone",
			decision: map[string]iamtypes.PolicyEvaluationDecisionType{profile: implicit, model: explicit}, scp: map[string]bool{model: true},
			wantCalls: 2, wantSCP: []string{model}},
		{name: "one refused resource: the denial is its own",
			decision: map[string]iamtypes.PolicyEvaluationDecisionType{profile: implicit, model: allowed, other: allowed}, scp: map[string]bool{profile: true},
			wantCalls: 1, wantSCP: []string{profile}},
		{name: "two implicit denies, one the SCPs': each asked alone",
			decision: map[string]iamtypes.PolicyEvaluationDecisionType{profile: implicit, model: implicit, other: allowed}, scp: map[string]bool{model: true},
			wantCalls: 3, wantSCP: []string{model}},
		{name: "explicit denies no policy explains: the SCPs', no call more",
			decision: map[string]iamtypes.PolicyEvaluationDecisionType{profile: explicit, model: explicit}, scp: map[string]bool{profile: true, model: true},
			wantCalls: 1, wantSCP: []string{model, profile}},
		{name: "the SCPs allow: nothing is theirs",
			decision:  map[string]iamtypes.PolicyEvaluationDecisionType{profile: implicit, model: implicit},
			wantCalls: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := &answers{decision: tc.decision, scp: tc.scp}
			into := map[DecisionKey]Decision{}
			resources := slices.Sorted(maps.Keys(tc.decision))
			q := Query{Region: "us-west-2", Actions: []string{"bedrock:InvokeModel"}, Resources: resources}
			if err := Simulate(context.Background(), api, Principal{Name: "App", ARN: "arn:aws:iam::111111111111:role/App"}, q, into); err != nil {
				t.Fatal(err)
			}
			if len(api.calls) != tc.wantCalls {
				t.Errorf("got calls %v; want %d", api.calls, tc.wantCalls)
			}
			var gotSCP []string
			for _, r := range resources {
				d, ok := into[DecisionKey{Need{"us-west-2", r}, "bedrock:InvokeModel", ""}]
				if !ok {
					t.Fatalf("no decision for %s", r)
				}
				if d.Decision != tc.decision[r] {
					t.Errorf("%s: got %s; want %s", r, d.Decision, tc.decision[r])
				}
				if !d.AllowedByOrganizations {
					gotSCP = append(gotSCP, r)
				}
			}
			if !slices.Equal(gotSCP, tc.wantSCP) {
				t.Errorf("got SCP denials on %v; want %v", gotSCP, tc.wantSCP)
			}
		})
	}
}
