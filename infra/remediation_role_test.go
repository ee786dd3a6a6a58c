package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/grantwatch/grantwatch/pkg/check"
	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/devtools/awssim"
)

// isRead reports whether an IAM action only reads: its verb is one of the
// read verbs AWS names its Read and List actions with (Get, List,
// Describe, Simulate for the policy simulator). Anything else, Create, Put,
// Delete, Subscribe and the like, writes.
func isRead(action string) bool {
	_, name, _ := strings.Cut(action, ":")
	for _, verb := range []string{"Get", "List", "Describe", "Simulate"} {
		if strings.HasPrefix(name, verb) {
			return true
		}
	}
	return false
}

// rolesOf returns the member template's roles by name.
func rolesOf(t *testing.T, tmpl assertions.Template) map[string]map[string]interface{} {
	t.Helper()
	out := map[string]map[string]interface{}{}
	for _, r := range *tmpl.FindResources(jsii.String("AWS::IAM::Role"), nil) {
		p := (*r)["Properties"].(map[string]interface{})
		out[p["RoleName"].(string)] = p
	}
	return out
}

func TestMemberTemplateWithoutRemediationCannotWrite(t *testing.T) {
	_, member := stacks(t, testSettingsWith(t, testConfig+"principals: {by_ou: {ou-ab12-cd34ef56: {tag: grantwatch:bedrock-caller=true}}}\n", nil))
	tmpl := assertions.Template_FromStack(member, nil)
	if roles := rolesOf(t, tmpl); len(roles) != 1 || roles["GrantwatchAudit"] == nil {
		t.Fatalf("roles: got %d (%v); want only GrantwatchAudit", len(roles), roles)
	}
	checkMemberReadOnly(t, tmpl)
}

func TestRemediationRole(t *testing.T) {
	withSection := testConfig + "remediation:\n  role_name: BedrockFixer\n  agreements: {models: [anthropic.claude-3-5-sonnet-20240620-v1:0]}\n"
	tests := []struct {
		name, config, products string
		wantName               string
		wantCondition          bool
	}{
		{"default name, any product", testConfig, "", "GrantwatchRemediate", false},
		{"configured name, products named", withSection, "prod-abc123def4567, prod-zyx987wvu6543", "BedrockFixer", true},
		{"products from the allowed models", testConfig + "remediation: {agreements: {models: [anthropic.claude-3-5-sonnet-20240620-v1:0]}}\n", "", "GrantwatchRemediate", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, member := stacks(t, testSettingsWith(t, tt.config, map[string]string{ctxRemediation: "true", ctxRemediationProductIDs: tt.products}))
			tmpl := assertions.Template_FromStack(member, nil)
			roles := rolesOf(t, tmpl)
			audit, fix := roles["GrantwatchAudit"], roles[tt.wantName]
			if fix == nil {
				t.Fatalf("roles: got %v; want %s besides the audit role", slices.Collect(mapsKeys(roles)), tt.wantName)
			}
			if !reflect.DeepEqual(fix["AssumeRolePolicyDocument"], audit["AssumeRolePolicyDocument"]) {
				t.Errorf("trust: got %v; want the audit role's %v", fix["AssumeRolePolicyDocument"], audit["AssumeRolePolicyDocument"])
			}
			var got []string
			for _, s := range statementsOf(tmpl, "RemediationRole") {
				got = append(got, s.Actions...)
				if !slices.Equal(s.Resources, []string{"*"}) {
					t.Errorf("%v on %v; want * (no resource types)", s.Actions, s.Resources)
				}
				if slices.Contains(s.Actions, "aws-marketplace:Subscribe") {
					cond, _ := s.Condition["ForAnyValue:StringEquals"].(map[string]interface{})
					if has := cond["aws-marketplace:ProductId"] != nil; has != tt.wantCondition {
						t.Errorf("aws-marketplace:Subscribe condition: got %v; want a ProductId condition %v", s.Condition, tt.wantCondition)
					}
				}
			}
			want := slices.Concat(RemediationWriteActions, RemediationReadActions, MarketplaceViewActions, MarketplaceSubscribe)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("remediation actions: got %v; want %v", got, want)
			}
			for _, a := range got {
				if strings.HasPrefix(a, "iam:") || strings.Contains(a, "Delete") || strings.HasPrefix(a, "organizations:") || strings.HasPrefix(a, "support:") {
					t.Errorf("action %s: the remediation role must not change IAM, SCPs, Support cases or undo agreements", a)
				}
			}
			// The audit role stays read-only.
			for _, s := range statementsOf(tmpl, "AuditRole") {
				for _, a := range s.Actions {
					if !isRead(a) {
						t.Errorf("audit role: got %s; want reads only", a)
					}
				}
			}
			errs := assertions.Annotations_FromStack(member).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
			for _, m := range *errs {
				t.Errorf("cdk-nag error at %s: %v", *m.Id, m.Entry.Data)
			}
		})
	}
}

// The synthesized role policy, evaluated as IAM does with the context
// Bedrock's Subscribe carries: the allowed model's product id subscribes,
// another model's does not, and the role cannot cancel subscriptions
// (ledger MP-product-id, MP-remediation-actions).
func TestRemediationRolePolicyEvaluated(t *testing.T) {
	_, member := stacks(t, testSettingsWith(t, testConfig+"remediation: {agreements: {models: [anthropic.claude-3-5-sonnet-20240620-v1:0]}}\n", map[string]string{ctxRemediation: "true"}))
	resources := (*assertions.Template_FromStack(member, nil).ToJSON())["Resources"].(map[string]interface{})
	var doc []byte
	for id, r := range resources {
		if strings.HasPrefix(id, "RemediationRole") && r.(map[string]interface{})["Type"] == "AWS::IAM::Role" {
			pols := r.(map[string]interface{})["Properties"].(map[string]interface{})["Policies"].([]interface{})
			var err error
			if doc, err = json.Marshal(pols[0].(map[string]interface{})["PolicyDocument"]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if doc == nil {
		t.Fatal("no RemediationRole in the member template")
	}
	cohere, ok1 := check.MarketplaceProductID("cohere.command-r-plus-v1:0")
	claude, ok2 := check.MarketplaceProductID("anthropic.claude-3-5-sonnet-20240620-v1:0")
	if !ok1 || !ok2 {
		t.Fatal("marketplace.json lacks the test's models")
	}
	tests := []struct {
		name, action string
		context      map[string][]string
		want         string
	}{
		{"Subscribe to the allowed model's product", "aws-marketplace:Subscribe", map[string][]string{"aws-marketplace:ProductId": {claude}}, "allowed"},
		{"Subscribe to another model's product", "aws-marketplace:Subscribe", map[string][]string{"aws-marketplace:ProductId": {cohere}}, "implicitDeny"},
		{"Subscribe without a product id", "aws-marketplace:Subscribe", nil, "implicitDeny"},
		{"ViewSubscriptions", "aws-marketplace:ViewSubscriptions", nil, "allowed"},
		{"Unsubscribe is not granted", "aws-marketplace:Unsubscribe", nil, "implicitDeny"},
		{"CreateFoundationModelAgreement", "bedrock:CreateFoundationModelAgreement", nil, "allowed"},
		{"DeleteFoundationModelAgreement is not granted", "bedrock:DeleteFoundationModelAgreement", nil, "implicitDeny"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := awssim.EvaluateIdentityPolicy(string(doc), tt.action, "*", tt.context)
			if err != nil {
				t.Fatalf("the synthesized policy: %v", err)
			}
			if got != tt.want {
				t.Errorf("%s: got %s; want %s (policy %s)", tt.action, got, tt.want, doc)
			}
		})
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestRemediationSettingsRejects(t *testing.T) {
	tests := []struct{ name, key, value, want string }{
		{"not a boolean", ctxRemediation, "yes", ctxRemediation},
		{"not a product id", ctxRemediationProductIDs, "Claude!", ctxRemediationProductIDs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadRemediation(func(k string) string {
				if k == tt.key {
					return tt.value
				}
				return ""
			}, testSettings(t, nil).Config)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v; want an error naming %s", err, tt.want)
			}
		})
	}
}

// The auditor may assume the remediation role only when the configuration
// has a remediation section: the scheduled run's remediation step (pkg/job)
// plans and applies through it. Without the section, its only AssumeRole is
// the audit role's.
func TestAuditorAssumesRemediationRoleOnlyWithRemediation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		config  string
		wantArn bool
	}{
		{name: "with a remediation section", config: testConfig + "remediation: {auto: true, agreements: {models: [anthropic.claude-3-5-sonnet-20240620-v1:0]}}\n", wantArn: true},
		{name: "without", config: testConfig, wantArn: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			audit, member := stacks(t, testSettingsWith(t, tc.config, nil))
			tmpl := assertions.Template_FromStack(audit, nil)
			// The dashboard shows the Remediable metric the auditor emits
			// with a remediation section.
			body, _ := dashboardOf(t, tmpl)
			if strings.Contains(body.String(), `"`+config.MetricRemediable+`"`) != tc.wantArn {
				t.Errorf("dashboard shows %s: got %v; want %v", config.MetricRemediable, !tc.wantArn, tc.wantArn)
			}
			// Each run counts the whole backlog: the day's graph is its
			// Maximum, never a Sum over runs.
			if tc.wantArn && !strings.Contains(body.String(), `"`+config.MetricRemediable+`",{"period":86400,"stat":"Maximum"}`) {
				t.Errorf("dashboard's %s: got %s; want the Maximum statistic", config.MetricRemediable, body.String())
			}
			// A remediation section without grantwatch:remediation=true
			// adds no write to the member template either.
			if roles := rolesOf(t, assertions.Template_FromStack(member, nil)); len(roles) != 1 || roles["GrantwatchAudit"] == nil {
				t.Errorf("member roles: got %d; want only GrantwatchAudit without %s", len(roles), ctxRemediation)
			}
			checkMemberReadOnly(t, assertions.Template_FromStack(member, nil))
			var assumes []statement
			for _, st := range statementsOf(tmpl, "AuditorRole") {
				if slices.Contains(st.Actions, "sts:AssumeRole") {
					assumes = append(assumes, st)
				}
			}
			var remediation []statement
			for _, st := range assumes {
				if strings.Contains(strings.Join(st.Resources, " "), "role/"+config.DefaultRemediationRole) {
					remediation = append(remediation, st)
				}
			}
			if got := len(remediation) == 1; got != tc.wantArn {
				t.Fatalf("AssumeRole statements %+v: got one on role/%s %v; want %v", assumes, config.DefaultRemediationRole, got, tc.wantArn)
			}
			if tc.wantArn {
				st := remediation[0]
				if len(st.Resources) != 1 || !strings.Contains(fmt.Sprint(st.Condition), "aws:ResourceOrgID") {
					t.Errorf("got %+v; want the remediation role alone, kept to the organization by aws:ResourceOrgID", st)
				}
			}
		})
	}
}

// The helpers that check the member template see every way a template
// grants: NotAction, a role's managed policies and AWS::IAM::ManagedPolicy,
// not only Action in inline policies.
func TestMemberCheckSeesEveryGrant(t *testing.T) {
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Grants"), nil)
	role := awsiam.NewRole(stack, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:       awsiam.NewAccountRootPrincipal(),
		ManagedPolicies: &[]awsiam.IManagedPolicy{awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("AmazonBedrockFullAccess"))},
	})
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{NotActions: jsii.Strings("iam:*"), Resources: jsii.Strings("*")}))
	awsiam.NewManagedPolicy(stack, jsii.String("Extra"), &awsiam.ManagedPolicyProps{
		Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings("bedrock:CreateFoundationModelAgreement"), Resources: jsii.Strings("*")})},
		Roles:      &[]awsiam.IRole{role},
	})
	tmpl := assertions.Template_FromStack(stack, nil)
	var notActions, actions []string
	for _, s := range statementsOf(tmpl, "") {
		notActions = append(notActions, s.NotActions...)
		actions = append(actions, s.Actions...)
	}
	if !slices.Contains(notActions, "iam:*") {
		t.Errorf("NotAction: got %v; want iam:* seen", notActions)
	}
	if !slices.Contains(actions, "bedrock:CreateFoundationModelAgreement") {
		t.Errorf("actions: got %v; want the managed policy's write seen", actions)
	}
	if m := managedPoliciesOf(tmpl); len(m) != 2 {
		t.Errorf("managed policies: got %v; want the role's AWS managed policy and the AWS::IAM::ManagedPolicy", m)
	}
}
