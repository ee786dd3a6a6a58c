package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/grantwatch/grantwatch/pkg/config"
)

// TestMain closes the jsii runtime once for the whole test binary: starting
// it per test costs seconds each.
func TestMain(m *testing.M) {
	// The machine's Node 20 works with jsii; do not print its end-of-life banner.
	os.Setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

const testConfig = `
accounts: {organizations: {enabled: true}}
regions: [us-east-1, eu-central-1]
models: {required: [anthropic.claude-3-5-sonnet-20240620-v1:0]}
role: {name: GrantwatchAudit, external_id: ext-7f3a}
`

func testSettings(t testing.TB, context map[string]string) *Settings {
	t.Helper()
	return testSettingsWith(t, testConfig, context)
}

func testSettingsWith(t testing.TB, config string, context map[string]string) *Settings {
	t.Helper()
	path := filepath.Join(t.TempDir(), "grantwatch.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := map[string]string{
		ctxConfig: path, ctxOrganizationID: "o-a1b2c3d4e5", ctxManagementAccount: "111111111111",
		ctxAuditAccount: "222222222222", ctxAlertEmails: "cloud-governance@example.com",
		ctxGovernanceReaders: "arn:aws:iam::222222222222:role/GovernanceReader",
	}
	for k, v := range context {
		ctx[k] = v
	}
	s, err := LoadSettings(func(k string) string { return ctx[k] })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// stacks builds both stacks, with cdk-nag, from placeholder assets: these
// tests check the infrastructure, the binaries are tested elsewhere.
func stacks(t testing.TB, s *Settings) (audit, member awscdk.Stack) {
	t.Helper()
	app := awscdk.NewApp(&awscdk.AppProps{Context: &map[string]interface{}{"aws:cdk:bundling-stacks": []string{}}})
	asset := t.TempDir()
	if err := os.WriteFile(filepath.Join(asset, "bootstrap"), []byte("placeholder"), 0o755); err != nil {
		t.Fatal(err)
	}
	code := awslambda.Code_FromAsset(jsii.String(asset), nil)
	env := &awscdk.Environment{Account: jsii.String(s.AuditAccountID), Region: jsii.String("us-east-1")}
	audit = NewAuditStack(app, "Grantwatch", &AuditStackProps{StackProps: awscdk.StackProps{Env: env}, Settings: s, AuditorCode: code, HistoryCode: code})
	member = NewMemberRoleStack(app, "GrantwatchMemberRole", &MemberRoleStackProps{Settings: s,
		StackProps: awscdk.StackProps{Synthesizer: MemberRoleSynthesizer()}})
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	return audit, member
}

type props = map[string]interface{}

func TestAuditStackResources(t *testing.T) {
	audit, _ := stacks(t, testSettings(t, nil))
	tmpl := assertions.Template_FromStack(audit, nil)

	tmpl.HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), props{
		"BillingMode":                      "PAY_PER_REQUEST",
		"KeySchema":                        []props{{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}},
		"TimeToLiveSpecification":          props{"AttributeName": "expires_at", "Enabled": true},
		"PointInTimeRecoverySpecification": props{"PointInTimeRecoveryEnabled": true},
		"DeletionProtectionEnabled":        true,
		"GlobalSecondaryIndexes": assertions.Match_ArrayWith(&[]interface{}{assertions.Match_ObjectLike(&map[string]interface{}{
			"IndexName": "gsi1", "Projection": props{"ProjectionType": "ALL"},
			"KeySchema": []props{{"AttributeName": "gsi1pk", "KeyType": "HASH"}, {"AttributeName": "gsi1sk", "KeyType": "RANGE"}},
		})}),
	})
	tmpl.HasResource(jsii.String("AWS::DynamoDB::Table"), props{"DeletionPolicy": "Retain"})

	// Encrypted by default, and the key serves CloudWatch only for this account's alarms.
	tmpl.HasResourceProperties(jsii.String("AWS::SNS::Topic"), props{"KmsMasterKeyId": assertions.Match_AnyValue()})
	tmpl.HasResourceProperties(jsii.String("AWS::KMS::Key"), props{"KeyPolicy": props{"Statement": assertions.Match_ArrayWith(&[]interface{}{
		assertions.Match_ObjectLike(&map[string]interface{}{
			"Principal": props{"Service": "cloudwatch.amazonaws.com"},
			"Condition": props{"StringEquals": props{"aws:SourceAccount": "222222222222"}},
		}),
	})}})
	tmpl.HasResourceProperties(jsii.String("AWS::SNS::TopicPolicy"), props{"PolicyDocument": props{"Statement": assertions.Match_ArrayWith(&[]interface{}{
		assertions.Match_ObjectLike(&map[string]interface{}{"Effect": "Deny", "Condition": props{"Bool": props{"aws:SecureTransport": "false"}}}),
	})}})
	tmpl.HasResourceProperties(jsii.String("AWS::SNS::Subscription"), props{"Protocol": "email", "Endpoint": "cloud-governance@example.com"})

	tmpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), props{
		"Description": assertions.Match_StringLikeRegexp(jsii.String("audits Bedrock")),
		"Runtime":     "provided.al2023", "Architectures": []string{"arm64"}, "Handler": "bootstrap",
		"Timeout": 900, "LoggingConfig": props{"LogFormat": "JSON"},
		"Environment": props{"Variables": props{"GRANTWATCH_CONFIG": "/var/task/grantwatch.yaml",
			"GRANTWATCH_TABLE": assertions.Match_AnyValue(), "GRANTWATCH_TOPIC_ARN": assertions.Match_AnyValue()}},
	})
	// Lambda's own asynchronous retries resume a crashed run; one auditor at a time.
	tmpl.HasResourceProperties(jsii.String("AWS::Lambda::EventInvokeConfig"), props{
		"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600, "DestinationConfig": props{"OnFailure": props{"Destination": assertions.Match_AnyValue()}},
	})
	// No reservation unless asked for (see TestReservedConcurrency).
	tmpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), props{
		"Description": assertions.Match_StringLikeRegexp(jsii.String("audits Bedrock")), "ReservedConcurrentExecutions": assertions.Match_Absent(),
	})
	tmpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), props{
		"Description": assertions.Match_StringLikeRegexp(jsii.String("history")), "ReservedConcurrentExecutions": assertions.Match_Absent(),
	})
	tmpl.HasResourceProperties(jsii.String("AWS::Scheduler::Schedule"), props{
		"ScheduleExpression": "cron(0 6 * * ? *)",
		"FlexibleTimeWindow": props{"Mode": "OFF"},
		"Target": props{
			"Input":            `{"scheduled_time":"<aws.scheduler.scheduled-time>"}`,
			"RetryPolicy":      props{"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600},
			"DeadLetterConfig": props{"Arn": assertions.Match_AnyValue()},
		},
	})
	tmpl.ResourcePropertiesCountIs(jsii.String("AWS::Logs::LogGroup"), props{"RetentionInDays": 365}, jsii.Number(2))
	tmpl.ResourceCountIs(jsii.String("AWS::CloudWatch::Alarm"), jsii.Number(5))
	for _, metric := range []string{"DiscoveryFailed", "AlertsUnpublished"} {
		tmpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), props{"Namespace": "Grantwatch", "MetricName": metric, "Threshold": 1})
	}
	tmpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), props{"MetricName": "Errors", "Namespace": "AWS/Lambda", "Threshold": 1})
	tmpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), props{"Metrics": assertions.Match_ArrayWith(&[]interface{}{
		assertions.Match_ObjectLike(&map[string]interface{}{"MetricStat": props{"Metric": props{"Namespace": "Grantwatch", "MetricName": "RunsIncomplete"}, "Period": 3600, "Stat": "Sum"}}),
	})})
	tmpl.HasResourceProperties(jsii.String("AWS::SQS::Queue"), props{"SqsManagedSseEnabled": true, "MessageRetentionPeriod": 1209600})

	tmpl.HasResourceProperties(jsii.String("AWS::Lambda::Url"), props{"AuthType": "AWS_IAM"})
	tmpl.HasResourceProperties(jsii.String("AWS::Lambda::Permission"), props{
		"Action": "lambda:InvokeFunctionUrl", "Principal": "*", "PrincipalOrgID": "o-a1b2c3d4e5", "FunctionUrlAuthType": "AWS_IAM",
	})
	tmpl.HasResourceProperties(jsii.String("AWS::Lambda::Permission"), props{
		"Action": "lambda:InvokeFunction", "Principal": "*", "PrincipalOrgID": "o-a1b2c3d4e5", "InvokedViaFunctionUrl": true,
	})
	// No other permission opens either function.
	tmpl.ResourceCountIs(jsii.String("AWS::Lambda::Permission"), jsii.Number(2))
	tmpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), props{
		"Description": assertions.Match_StringLikeRegexp(jsii.String("history")),
		"Environment": props{"Variables": props{"GRANTWATCH_GOVERNANCE_READERS": "arn:aws:iam::222222222222:role/GovernanceReader"}},
	})
}

func TestAuditStackOptions(t *testing.T) {
	audit, _ := stacks(t, testSettings(t, map[string]string{
		ctxKMS: "false", ctxDeletionProtection: "false", ctxSchedule: "rate(12 hours)", ctxLogRetentionDays: "90", ctxAlertEmails: "",
	}))
	tmpl := assertions.Template_FromStack(audit, nil)
	tmpl.HasResourceProperties(jsii.String("AWS::SNS::Topic"), props{"KmsMasterKeyId": assertions.Match_Absent()})
	tmpl.ResourceCountIs(jsii.String("AWS::KMS::Key"), jsii.Number(0))
	tmpl.HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), props{"DeletionProtectionEnabled": false})
	tmpl.HasResourceProperties(jsii.String("AWS::Scheduler::Schedule"), props{"ScheduleExpression": "rate(12 hours)"})
	tmpl.ResourcePropertiesCountIs(jsii.String("AWS::Logs::LogGroup"), props{"RetentionInDays": 90}, jsii.Number(2))
	tmpl.ResourceCountIs(jsii.String("AWS::SNS::Subscription"), jsii.Number(0))
	if got := statementsOf(tmpl, "AuditorRole"); hasAction(got, "kms:GenerateDataKey") {
		t.Errorf("auditor without a KMS topic: got kms:GenerateDataKey; want none")
	}
}

// statement is one IAM statement of a template, flattened.
type statement struct {
	Effect                         string
	Actions, NotActions, Resources []string
	Condition                      map[string]interface{}
}

func strs(v interface{}) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []interface{}:
		var out []string
		for _, x := range v {
			out = append(out, strs(x)...)
		}
		return out
	case map[string]interface{}:
		return []string{fmt.Sprint(v)} // an intrinsic function: a specific ARN
	}
	return nil
}

// statementsOf returns the statements of the roles and policies whose
// logical id starts with prefix ("" for all).
func statementsOf(tmpl assertions.Template, prefix string) []statement {
	var out []statement
	add := func(doc interface{}) {
		d, _ := doc.(map[string]interface{})
		list, _ := d["Statement"].([]interface{})
		for _, s := range list {
			m := s.(map[string]interface{})
			cond, _ := m["Condition"].(map[string]interface{})
			effect, _ := m["Effect"].(string)
			out = append(out, statement{Effect: effect, Actions: strs(m["Action"]), NotActions: strs(m["NotAction"]), Resources: strs(m["Resource"]), Condition: cond})
		}
	}
	resources := (*tmpl.ToJSON())["Resources"].(map[string]interface{})
	ids := make([]string, 0, len(resources))
	for id := range resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if !strings.HasPrefix(id, prefix) {
			continue
		}
		r := resources[id].(map[string]interface{})
		p, _ := r["Properties"].(map[string]interface{})
		switch r["Type"] {
		case "AWS::IAM::Role":
			pols, _ := p["Policies"].([]interface{})
			for _, pol := range pols {
				add(pol.(map[string]interface{})["PolicyDocument"])
			}
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
			add(p["PolicyDocument"])
		}
	}
	return out
}

// managedPoliciesOf lists what grants permissions beside the statements
// statementsOf reads: each role's ManagedPolicyArns (an AWS managed policy
// grants what its ARN names, which the template does not show) and each
// AWS::IAM::ManagedPolicy resource.
func managedPoliciesOf(tmpl assertions.Template) []string {
	var out []string
	resources := (*tmpl.ToJSON())["Resources"].(map[string]interface{})
	for id, r := range resources {
		r := r.(map[string]interface{})
		p, _ := r["Properties"].(map[string]interface{})
		switch r["Type"] {
		case "AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group":
			if arns, ok := p["ManagedPolicyArns"].([]interface{}); ok {
				for _, a := range arns {
					out = append(out, fmt.Sprintf("%s: %v", id, a))
				}
			}
		case "AWS::IAM::ManagedPolicy":
			out = append(out, id+" (AWS::IAM::ManagedPolicy)")
		}
	}
	sort.Strings(out)
	return out
}

// checkMemberReadOnly fails t when the member template grants anything
// but reads: a write action, a NotAction (it grants every action it does
// not name, writes included) or a managed policy.
func checkMemberReadOnly(t *testing.T, tmpl assertions.Template) {
	t.Helper()
	for _, s := range statementsOf(tmpl, "") {
		if len(s.NotActions) > 0 && s.Effect != "Deny" {
			t.Errorf("member statement with NotAction %v: got it; want actions named, reads only, without %s", s.NotActions, ctxRemediation)
		}
		for _, a := range s.Actions {
			if !isRead(a) && s.Effect != "Deny" {
				t.Errorf("member action %s: got it granted; want only reads without %s", a, ctxRemediation)
			}
		}
	}
	if m := managedPoliciesOf(tmpl); len(m) > 0 {
		t.Errorf("member managed policies: got %v; want none without %s", m, ctxRemediation)
	}
}

func hasAction(statements []statement, action string) bool {
	for _, s := range statements {
		if slices.Contains(s.Actions, action) {
			return true
		}
	}
	return false
}

func TestLeastPrivilege(t *testing.T) {
	audit, member := stacks(t, testSettings(t, nil))
	auditTmpl := assertions.Template_FromStack(audit, nil)
	memberTmpl := assertions.Template_FromStack(member, nil)

	// "*" resources only where the API has no resource-level permissions.
	starAllowed := map[string]bool{"organizations:ListRoots": true}
	for _, a := range BedrockReadActions() {
		starAllowed[a] = true
	}
	for _, tmpl := range []assertions.Template{auditTmpl, memberTmpl} {
		for _, s := range statementsOf(tmpl, "") {
			for _, a := range s.Actions {
				if strings.Contains(a, "*") {
					t.Errorf("wildcard action %q in %+v", a, s)
				}
				if slices.Contains(s.Resources, "*") && !starAllowed[a] && !strings.HasPrefix(a, "kms:") {
					t.Errorf("action %s on resource \"*\"", a)
				}
			}
		}
	}

	auditor := statementsOf(auditTmpl, "AuditorRole")
	var actions []string
	for _, s := range auditor {
		actions = append(actions, s.Actions...)
		if slices.Contains(s.Actions, "sts:AssumeRole") {
			// ARNs are built for the partition the stack is deployed in.
			if len(s.Resources) != 1 || !strings.Contains(s.Resources[0], "AWS::Partition") || !strings.Contains(s.Resources[0], ":iam::*:role/GrantwatchAudit") {
				t.Errorf("sts:AssumeRole on %v; want only the member role's name, in the stack's partition", s.Resources)
			}
			if fmt.Sprint(s.Condition) != "map[StringEquals:map[aws:ResourceOrgID:o-a1b2c3d4e5]]" {
				t.Errorf("sts:AssumeRole condition %v; want aws:ResourceOrgID of the organization", s.Condition)
			}
		}
		if slices.Contains(s.Actions, "organizations:ListChildren") {
			for _, r := range s.Resources {
				if !strings.Contains(r, "AWS::Partition") || !strings.Contains(r, ":organizations::111111111111:") || !strings.Contains(r, "/o-a1b2c3d4e5/") {
					t.Errorf("organizations:ListChildren on %s; want this organization's roots and OUs", r)
				}
			}
		}
	}
	slices.Sort(actions)
	actions = slices.Compact(actions)
	want := []string{
		"dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem",
		"kms:Decrypt", "kms:GenerateDataKey", // the topic's key, encrypted by default
		"logs:CreateLogStream", "logs:PutLogEvents",
		"organizations:ListAccountsForParent", "organizations:ListChildren", "organizations:ListRoots", "organizations:ListTagsForResource",
		"sns:Publish", "sqs:SendMessage", "sts:AssumeRole",
	}
	if !slices.Equal(actions, want) {
		t.Errorf("auditor actions:\ngot  %v\nwant %v", actions, want)
	}
	var historyActions []string
	for _, s := range statementsOf(auditTmpl, "HistoryRole") {
		historyActions = append(historyActions, s.Actions...)
	}
	if want := []string{"dynamodb:Query", "logs:CreateLogStream", "logs:PutLogEvents"}; !slices.Equal(historyActions, want) {
		t.Errorf("history actions: got %v; want %v", historyActions, want)
	}

	// The member role: trusts the audit account for the auditor role's ARN
	// only (a condition, which survives re-creating that role), with the
	// ExternalId, from the organization; ARNs in the stack's partition.
	partitioned := func(suffix string) props {
		return props{"Fn::Join": []interface{}{"", []interface{}{"arn:", props{"Ref": "AWS::Partition"}, suffix}}}
	}
	memberTmpl.HasResourceProperties(jsii.String("AWS::IAM::Role"), props{
		"RoleName":           "GrantwatchAudit",
		"MaxSessionDuration": 3600,
		"AssumeRolePolicyDocument": props{"Statement": []props{{
			"Action": "sts:AssumeRole", "Effect": "Allow",
			"Principal": props{"AWS": partitioned(":iam::222222222222:root")},
			"Condition": props{
				"ArnEquals":    props{"aws:PrincipalArn": partitioned(":iam::222222222222:role/GrantwatchAuditor")},
				"StringEquals": props{"sts:ExternalId": "ext-7f3a", "aws:PrincipalOrgID": "o-a1b2c3d4e5"},
			},
		}}},
	})
	var memberActions []string
	for _, s := range statementsOf(memberTmpl, "") {
		memberActions = append(memberActions, s.Actions...)
	}
	if want := slices.Concat(BedrockReadActions(), ProfileReadActions(), AccountReadActions()); !slices.Equal(memberActions, want) {
		t.Errorf("member role actions: got %v; want %v", memberActions, want)
	}
	// The region opt-in status (issue 18 item 1): the Account API's
	// ListRegions, on the account's own account resource (Service
	// Authorization Reference: ListRegions takes the account resource type).
	memberTmpl.HasResourceProperties(jsii.String("AWS::IAM::Role"), props{"Policies": []props{{"PolicyDocument": props{"Statement": assertions.Match_ArrayWith(&[]interface{}{props{
		"Action": "account:ListRegions", "Effect": "Allow",
		"Resource": props{"Fn::Join": []interface{}{"", []interface{}{"arn:", props{"Ref": "AWS::Partition"}, ":account::", props{"Ref": "AWS::AccountId"}, ":account"}}},
	}})}}}})
	// GetInferenceProfile only on the account's own application profiles:
	// grantwatch never reads a system profile with it.
	memberTmpl.HasResourceProperties(jsii.String("AWS::IAM::Role"), props{"Policies": []props{{"PolicyDocument": props{"Statement": assertions.Match_ArrayWith(&[]interface{}{props{
		"Action": "bedrock:GetInferenceProfile", "Effect": "Allow",
		"Resource": props{"Fn::Join": []interface{}{"", []interface{}{"arn:", props{"Ref": "AWS::Partition"}, ":bedrock:*:", props{"Ref": "AWS::AccountId"}, ":application-inference-profile/*"}}},
	}})}}}})
	auditTmpl.HasResourceProperties(jsii.String("AWS::IAM::Role"), props{"RoleName": AuditorRoleName})
}

// A StackSet deploys the member template to accounts that were never
// CDK-bootstrapped: no BootstrapVersion parameter, no CheckBootstrapVersion rule.
func TestMemberTemplateNeedsNoBootstrap(t *testing.T) {
	_, member := stacks(t, testSettings(t, nil))
	tmpl := *assertions.Template_FromStack(member, nil).ToJSON()
	for _, section := range []string{"Parameters", "Rules"} {
		if v, ok := tmpl[section]; ok {
			t.Errorf("member template %s: got %v; want none", section, v)
		}
	}
}

func TestNoUnsuppressedNagErrors(t *testing.T) {
	for _, kms := range []string{"false", "true"} {
		audit, member := stacks(t, testSettings(t, map[string]string{ctxKMS: kms}))
		for _, stack := range []awscdk.Stack{audit, member} {
			t.Run(*stack.StackName()+"/kms="+kms, func(t *testing.T) {
				for _, kind := range []string{"error", "warning"} {
					a := assertions.Annotations_FromStack(stack)
					find := a.FindError
					if kind == "warning" {
						find = a.FindWarning
					}
					msgs := find(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
					for _, m := range *msgs {
						if kind == "error" {
							t.Errorf("cdk-nag %s at %s: %v", kind, *m.Id, m.Entry.Data)
						} else {
							t.Logf("cdk-nag %s at %s: %v", kind, *m.Id, m.Entry.Data)
						}
					}
				}
			})
		}
	}
}

// The member role may simulate its own account's roles only when principals
// are configured, and list roles and their tags only when a tag finds them.
func TestMemberRolePrincipals(t *testing.T) {
	roles := props{"Fn::Join": []interface{}{"", []interface{}{"arn:", props{"Ref": "AWS::Partition"}, ":iam::", props{"Ref": "AWS::AccountId"}, ":role/*"}}}
	tests := []struct {
		name, principals string
		want             []string
	}{
		{"none", "", nil},
		{"by name", "principals: {roles: [ChatApp]}\n", []string{"iam:SimulatePrincipalPolicy"}},
		{"by tag", "principals: {by_ou: {ou-ab12-cd34ef56: {tag: grantwatch:bedrock-caller=true}}}\n", []string{"iam:SimulatePrincipalPolicy", "iam:ListRoleTags", "iam:ListRoles"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, member := stacks(t, testSettingsWith(t, testConfig+tt.principals, nil))
			tmpl := assertions.Template_FromStack(member, nil)
			var got []string
			for _, s := range statementsOf(tmpl, "") {
				for _, a := range s.Actions {
					if strings.HasPrefix(a, "iam:") {
						got = append(got, a)
						wantStar := a == "iam:ListRoles"
						if slices.Contains(s.Resources, "*") != wantStar {
							t.Errorf("%s on %v", a, s.Resources)
						}
					}
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("iam actions: got %v; want %v", got, tt.want)
			}
			if len(tt.want) > 0 {
				tmpl.HasResourceProperties(jsii.String("AWS::IAM::Role"), props{"Policies": []props{{"PolicyDocument": props{"Statement": assertions.Match_ArrayWith(&[]interface{}{
					props{"Action": "iam:SimulatePrincipalPolicy", "Effect": "Allow", "Resource": roles}})}}}})
			}
			errs := assertions.Annotations_FromStack(member).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
			for _, m := range *errs {
				t.Errorf("cdk-nag error at %s: %v", *m.Id, m.Entry.Data)
			}
		})
	}
}

func TestLoadSettingsRejects(t *testing.T) {
	tests := []struct {
		name, key, value, want string
	}{
		{"organization id", ctxOrganizationID, "org-1", `grantwatch:organizationId: "org-1"`},
		{"management account", ctxManagementAccount, "12", `grantwatch:managementAccountId: "12"`},
		{"audit account", ctxAuditAccount, "", `grantwatch:auditAccountId: ""`},
		{"schedule", ctxSchedule, "daily", `grantwatch:schedule: "daily"`},
		{"alert email", ctxAlertEmails, "governance", `grantwatch:alertEmails: "governance"`},
		{"reader", ctxGovernanceReaders, "GovernanceReader", `grantwatch:governanceReaders: "GovernanceReader"`},
		{"reader of another partition", ctxGovernanceReaders, "arn:aws-cn:iam::222222222222:role/Reader", "is in partition aws-cn"},
		{"log retention", ctxLogRetentionDays, "400", `grantwatch:logRetentionDays: "400"`},
		{"config file", ctxConfig, "/nonexistent.yaml", "grantwatch:config: read config"},
		{"sharded", ctxSharded, "yes", `grantwatch:sharded: "yes"`},
		{"batch size", ctxBatchAccounts, "0", fmt.Sprintf(`grantwatch:batchAccounts: "0": want a whole number from 1 to %d`, config.MaxBatchAccounts)},
		{"batch size above the functions' maximum", ctxBatchAccounts, fmt.Sprint(config.MaxBatchAccounts + 1), "grantwatch:batchAccounts"},
		{"map concurrency", ctxMapConcurrency, "many", `grantwatch:mapConcurrency: "many"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "grantwatch.yaml")
			if err := os.WriteFile(path, []byte(testConfig), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx := map[string]string{ctxConfig: path, ctxOrganizationID: "o-a1b2c3d4e5", ctxManagementAccount: "111111111111", ctxAuditAccount: "222222222222"}
			ctx[tt.key] = tt.value
			_, err := LoadSettings(func(k string) string { return ctx[k] })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

// The stack's batch size defaults to, and stops at, the values the auditor
// function reads (pkg/config), so that a size the stack accepts never stops
// the function at its setup.
func TestBatchSizeFollowsTheFunctionsContract(t *testing.T) {
	tests := []struct {
		name, value string
		want        int
	}{
		{name: "unset", value: "", want: config.DefaultBatchAccounts},
		{name: "the maximum", value: fmt.Sprint(config.MaxBatchAccounts), want: config.MaxBatchAccounts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := testSettings(t, map[string]string{ctxBatchAccounts: tt.value}).BatchAccounts; got != tt.want {
				t.Errorf("BatchAccounts: got %d; want %d", got, tt.want)
			}
		})
	}
}

// The dashboard graphs every run metric by the name the auditor emits
// (config.Metrics) and shows the state of every alarm.
func TestDashboard(t *testing.T) {
	audit, _ := stacks(t, testSettings(t, nil))
	tmpl := assertions.Template_FromStack(audit, nil)
	body, referenced := dashboardOf(t, tmpl)
	if strings.Contains(body.String(), `"`+config.MetricRemediable+`"`) {
		t.Errorf("dashboard shows %s; want it only with a remediation section (the auditor emits it only then)", config.MetricRemediable)
	}
	for _, m := range config.Metrics {
		if !strings.Contains(body.String(), `"`+m+`"`) {
			t.Errorf("dashboard lacks metric %s", m)
		}
	}
	if !strings.Contains(body.String(), `"namespace":"`+config.MetricNamespace+`"`) && !strings.Contains(body.String(), `"`+config.MetricNamespace+`"`) {
		t.Errorf("dashboard lacks namespace %s", config.MetricNamespace)
	}
	alarms := *tmpl.FindResources(jsii.String("AWS::CloudWatch::Alarm"), nil)
	for id := range alarms {
		if !referenced[id] {
			t.Errorf("alarm %s not on the dashboard", id)
		}
	}
	if len(alarms) == 0 {
		t.Error("no alarms")
	}
}

// dashboardOf returns the template's one dashboard's body and the logical
// ids of the resources it references (the alarms).
func dashboardOf(t *testing.T, tmpl assertions.Template) (*strings.Builder, map[string]bool) {
	t.Helper()
	dashboards := *tmpl.FindResources(jsii.String("AWS::CloudWatch::Dashboard"), nil)
	if len(dashboards) != 1 {
		t.Fatalf("dashboards: got %d; want 1", len(dashboards))
	}
	var body strings.Builder
	referenced := map[string]bool{}
	for _, d := range dashboards {
		join := (*d)["Properties"].(map[string]interface{})["DashboardBody"].(map[string]interface{})["Fn::Join"].([]interface{})
		for _, part := range join[1].([]interface{}) {
			switch p := part.(type) {
			case string:
				body.WriteString(p)
			case map[string]interface{}:
				if att, ok := p["Fn::GetAtt"].([]interface{}); ok {
					referenced[att[0].(string)] = true
				}
			}
		}
	}
	return &body, referenced
}

// Security Hub on: the auditor may import findings for this account's own
// product and resolve them in its hub, and its function is told so; off:
// neither.
func TestAuditStackSecurityHub(t *testing.T) {
	for _, on := range []string{"true", "false"} {
		t.Run("securityHub="+on, func(t *testing.T) {
			audit, _ := stacks(t, testSettings(t, map[string]string{ctxSecurityHub: on}))
			tmpl := assertions.Template_FromStack(audit, nil)
			got := map[string]string{}
			for _, s := range statementsOf(tmpl, "AuditorRole") {
				for _, a := range s.Actions {
					if strings.HasPrefix(a, "securityhub:") {
						got[a] = fmt.Sprint(s.Resources)
					}
				}
			}
			want := map[string]string{}
			if on == "true" {
				want = map[string]string{
					"securityhub:BatchImportFindings": "[map[Fn::Join:[ [arn: map[Ref:AWS::Partition] :securityhub:us-east-1:222222222222:product/222222222222/default]]]]",
					"securityhub:BatchUpdateFindings": "[map[Fn::Join:[ [arn: map[Ref:AWS::Partition] :securityhub:us-east-1:222222222222:hub/default]]]]",
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("security hub grants:\ngot  %v\nwant %v", got, want)
			}
			tmpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), props{
				"Description": assertions.Match_StringLikeRegexp(jsii.String("audits Bedrock")),
				"Environment": props{"Variables": assertions.Match_ObjectLike(&map[string]interface{}{config.EnvSecurityHub: on})},
			})
			errs := assertions.Annotations_FromStack(audit).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
			for _, m := range *errs {
				t.Errorf("cdk-nag error at %s: %v", *m.Id, m.Entry.Data)
			}
		})
	}
}

// A large organization's runs go through a state machine with a Map in
// DISTRIBUTED mode, which the schedule starts; a small one's do not.
func TestShardedRunOnlyWhenAsked(t *testing.T) {
	for _, sharded := range []bool{false, true} {
		t.Run(fmt.Sprintf("sharded=%v", sharded), func(t *testing.T) {
			s := testSettings(t, map[string]string{ctxSharded: fmt.Sprint(sharded), ctxBatchAccounts: "40", ctxMapConcurrency: "8", ctxReservedConc: "true"})
			audit, _ := stacks(t, s)
			tmpl := assertions.Template_FromStack(audit, nil)
			machines := tmpl.FindResources(jsii.String("AWS::StepFunctions::StateMachine"), nil)
			if got := len(*machines); got != map[bool]int{false: 0, true: 1}[sharded] {
				t.Fatalf("state machines: got %d", got)
			}
			fn := props{"Handler": "bootstrap", "Environment": props{"Variables": assertions.Match_ObjectLike(&props{config.EnvBatchAccounts: "40"})}}
			if sharded {
				fn["ReservedConcurrentExecutions"] = 10 // the map's 8 batches, its first and last steps
			} else {
				fn["ReservedConcurrentExecutions"] = 1
			}
			tmpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), assertions.Match_ObjectLike(&fn))
			errs := assertions.Annotations_FromStack(audit).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
			for _, m := range *errs {
				t.Errorf("cdk-nag error at %s: %v", *m.Id, m.Entry.Data)
			}
			if !sharded {
				return
			}
			def := definition(t, tmpl)
			m, _ := def.States[StateBatches].(map[string]interface{})
			processor, _ := m["ItemProcessor"].(map[string]interface{})
			config, _ := processor["ProcessorConfig"].(map[string]interface{})
			if m["Type"] != "Map" || config["Mode"] != "DISTRIBUTED" || m["MaxConcurrency"] != 8.0 || m["ItemsPath"] != "$.batches" {
				t.Errorf("state %s: got %v; want a Map in DISTRIBUTED mode over $.batches, 8 at a time", StateBatches, m)
			}
			for _, name := range []string{StateStart, StateFinish} {
				st, _ := def.States[name].(map[string]interface{})
				if st["Type"] != "Task" || st["Retry"] == nil {
					t.Errorf("state %s: got %v; want a Task with retries", name, st)
				}
			}
			tmpl.HasResourceProperties(jsii.String("AWS::StepFunctions::StateMachine"), props{
				"TracingConfiguration": props{"Enabled": true},
				"LoggingConfiguration": assertions.Match_ObjectLike(&props{"Level": "ALL"}),
			})
			tmpl.HasResourceProperties(jsii.String("AWS::Scheduler::Schedule"), props{
				"Target": assertions.Match_ObjectLike(&props{"Arn": props{"Ref": assertions.Match_StringLikeRegexp(jsii.String("ShardedRun.*"))}}),
			})
			tmpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), props{
				"AlarmDescription": assertions.Match_StringLikeRegexp(jsii.String("sharded run's state machine execution failed")),
			})
		})
	}
}

// asl is the part of a state machine definition these tests read.
type asl struct {
	StartAt string                 `json:"StartAt"`
	States  map[string]interface{} `json:"States"`
}

// definition reads the one state machine's definition from the template,
// with the CloudFormation references in it (the function's ARN) left as
// placeholders.
func definition(t *testing.T, tmpl assertions.Template) asl {
	t.Helper()
	for _, r := range *tmpl.FindResources(jsii.String("AWS::StepFunctions::StateMachine"), nil) {
		body, err := resolveDefinition((*r)["Properties"].(map[string]interface{})["DefinitionString"])
		if err != nil {
			t.Fatal(err)
		}
		var def asl
		if err := json.Unmarshal([]byte(body), &def); err != nil {
			t.Fatalf("definition: %v\n%s", err, body)
		}
		return def
	}
	t.Fatal("no state machine")
	return asl{}
}
