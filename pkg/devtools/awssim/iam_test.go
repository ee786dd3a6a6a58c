package awssim

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

const iamScenario = `
organization: {management_account: "999999999999", root: r-iam0}
role: {name: GrantwatchAudit, external_id: ext-123}
scps:
  - name: regions
    targets: ["111111111111"]
    document: '{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"bedrock:*","Resource":"*","Condition":{"StringNotEquals":{"aws:RequestedRegion":["us-east-1","us-east-2"]}}}}'
accounts:
  - id: "111111111111"
    roles:
      - name: BedrockAppRole
        tags: {grantwatch:bedrock-caller: "true"}
        policies: {invoke: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["bedrock:InvokeModel*"],"Resource":"*"}]}'}
      - name: BoundedRole
        path: /apps/
        policies: {all: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"bedrock:*","Resource":"*"}]}'}
        boundary: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"bedrock:*","Resource":"arn:aws:bedrock:*::foundation-model/amazon.*"}]}'
      - name: NoAllowRole
        policies: {s3: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'}
      - name: DenyRole
        policies:
          all: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
          no-anthropic: '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"bedrock:Invoke*","Resource":"arn:aws:bedrock:*::foundation-model/anthropic.*"}]}'
  - id: "222222222222"
pagination: {page_size: 1}
`

func TestSimulatePrincipalPolicy(t *testing.T) {
	s := startSim(t, iamScenario, nil)
	ctx := context.Background()
	client := iam.NewFromConfig(memberConfig(t, s, "111111111111", "ext-123"))
	claude := "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-5-sonnet-20240620-v1:0"
	nova := "arn:aws:bedrock:us-west-2::foundation-model/amazon.nova-pro-v1:0"
	simulate := func(role, region string, actions ...string) []iamtypes.EvaluationResult {
		t.Helper()
		var out []iamtypes.EvaluationResult
		pages := iam.NewSimulatePrincipalPolicyPaginator(client, &iam.SimulatePrincipalPolicyInput{
			PolicySourceArn: aws.String("arn:aws:iam::111111111111:role/" + role),
			ActionNames:     actions, ResourceArns: []string{claude, nova},
			ContextEntries: []iamtypes.ContextEntry{{ContextKeyName: aws.String("aws:RequestedRegion"), ContextKeyType: iamtypes.ContextKeyTypeEnumString, ContextKeyValues: []string{region}}},
		})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				t.Fatalf("SimulatePrincipalPolicy %s: %v", role, err)
			}
			out = append(out, page.EvaluationResults...)
		}
		return out
	}
	per := func(r iamtypes.EvaluationResult) []string {
		var out []string
		for _, rr := range r.ResourceSpecificResults {
			out = append(out, string(rr.EvalResourceDecision))
		}
		return out
	}

	before := s.Calls(OpSimulatePrincipalPolicy)
	both := simulate("BedrockAppRole", "us-east-1", "bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")
	if got := s.Calls(OpSimulatePrincipalPolicy) - before; len(both) != 2 || got != 2 {
		t.Fatalf("two actions at one result a page: got %d results in %d calls; want 2 in 2", len(both), got)
	}
	tests := []struct {
		name         string
		result       iamtypes.EvaluationResult
		want         iamtypes.PolicyEvaluationDecisionType
		wantPer      []string
		wantOrgs     bool
		wantBoundary *bool
		wantMatched  string
	}{
		{"identity allow, SCP allows the region", both[0], "allowed", []string{"allowed", "allowed"}, true, nil, "invoke"},
		{"a region the SCP denies", simulate("BedrockAppRole", "us-west-2", "bedrock:InvokeModel")[0], "explicitDeny", []string{"explicitDeny", "explicitDeny"}, false, nil, ""},
		{"the boundary allows amazon models only", simulate("apps/BoundedRole", "us-east-1", "bedrock:InvokeModel")[0], "implicitDeny", []string{"implicitDeny", "allowed"}, true, aws.Bool(false), ""},
		{"no identity allow", simulate("NoAllowRole", "us-east-1", "bedrock:InvokeModel")[0], "implicitDeny", []string{"implicitDeny", "implicitDeny"}, true, nil, ""},
		{"an identity deny", simulate("DenyRole", "us-east-1", "bedrock:InvokeModel")[0], "explicitDeny", []string{"explicitDeny", "allowed"}, true, nil, "no-anthropic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.result
			if r.EvalDecision != tt.want || !slices.Equal(per(r), tt.wantPer) {
				t.Errorf("decision: got %s %v; want %s %v", r.EvalDecision, per(r), tt.want, tt.wantPer)
			}
			if aws.ToString(r.EvalResourceName) != "*" || aws.ToString(r.ResourceSpecificResults[0].EvalResourceName) != claude {
				t.Errorf("resource names: got %q and %q", aws.ToString(r.EvalResourceName), aws.ToString(r.ResourceSpecificResults[0].EvalResourceName))
			}
			if r.OrganizationsDecisionDetail == nil || r.OrganizationsDecisionDetail.AllowedByOrganizations != tt.wantOrgs {
				t.Errorf("OrganizationsDecisionDetail: got %+v; want allowed %v", r.OrganizationsDecisionDetail, tt.wantOrgs)
			}
			if (r.PermissionsBoundaryDecisionDetail == nil) != (tt.wantBoundary == nil) ||
				(tt.wantBoundary != nil && r.PermissionsBoundaryDecisionDetail.AllowedByPermissionsBoundary != *tt.wantBoundary) {
				t.Errorf("PermissionsBoundaryDecisionDetail: got %+v; want %v", r.PermissionsBoundaryDecisionDetail, tt.wantBoundary)
			}
			var matched string
			for _, m := range r.MatchedStatements {
				matched = aws.ToString(m.SourcePolicyId)
				if m.SourcePolicyType != iamtypes.PolicySourceTypeRole {
					t.Errorf("SourcePolicyType: got %s; want role", m.SourcePolicyType)
				}
			}
			if matched != tt.wantMatched {
				t.Errorf("matched statement: got %q; want %q", matched, tt.wantMatched)
			}
		})
	}

	refused := []struct{ name, arn, want string }{
		{"no such role", "arn:aws:iam::111111111111:role/Missing", "NoSuchEntity"},
		{"a role's ARN without its path", "arn:aws:iam::111111111111:role/BoundedRole", "NoSuchEntity"},
		{"another account's role", "arn:aws:iam::222222222222:role/BedrockAppRole", "AccessDenied"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(tt.arn), ActionNames: []string{"bedrock:InvokeModel"}})
			if got := errorCode(err); got != tt.want {
				t.Errorf("got %q (%v); want %q", got, err, tt.want)
			}
		})
	}
}

func TestListRolesAndTags(t *testing.T) {
	s := startSim(t, iamScenario, nil)
	ctx := context.Background()
	client := iam.NewFromConfig(memberConfig(t, s, "111111111111", "ext-123"))
	var names []string
	pages := iam.NewListRolesPaginator(client, &iam.ListRolesInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Roles {
			names = append(names, aws.ToString(r.Path)+aws.ToString(r.RoleName))
			if len(r.Tags) != 0 {
				t.Errorf("ListRoles returned tags for %s; IAM does not", aws.ToString(r.RoleName))
			}
		}
	}
	if want := []string{"/BedrockAppRole", "/apps/BoundedRole", "/NoAllowRole", "/DenyRole"}; !slices.Equal(names, want) {
		t.Errorf("roles: got %v; want %v", names, want)
	}
	if got := s.Calls(OpListRoles); got != 4 {
		t.Errorf("ListRoles calls with a page of 1: got %d; want 4", got)
	}
	tags, err := client.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: aws.String("BedrockAppRole")})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "grantwatch:bedrock-caller" || aws.ToString(tags.Tags[0].Value) != "true" {
		t.Errorf("ListRoleTags: got %+v, %v", tags, err)
	}
}
