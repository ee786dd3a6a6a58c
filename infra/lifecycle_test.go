package main

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/account"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	securityhubapi "github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/jsii-runtime-go"

	"github.com/grantwatch/grantwatch/pkg/check"
	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/notify"
	"github.com/grantwatch/grantwatch/pkg/securityhub"
	"github.com/grantwatch/grantwatch/pkg/targets"
)

// arnOf renders an ARN the template builds with Fn::Join, its references
// as ${Ref} and a name split from an ARN as ${Ref.Name}.
func arnOf(v interface{}) string {
	switch v := v.(type) {
	case string:
		return v
	case map[string]interface{}:
		if ref, ok := v["Ref"].(string); ok {
			return "${" + ref + "}"
		}
		if join, ok := v["Fn::Join"].([]interface{}); ok && len(join) == 2 {
			var parts []string
			for _, p := range join[1].([]interface{}) {
				parts = append(parts, arnOf(p))
			}
			return strings.Join(parts, join[0].(string))
		}
		if sel, ok := v["Fn::Select"].([]interface{}); ok && len(sel) == 2 {
			if split, ok := sel[1].(map[string]interface{})["Fn::Split"].([]interface{}); ok && len(split) == 2 {
				return strings.TrimSuffix(arnOf(split[1]), "}") + fmt.Sprintf("[%v]}", sel[0])
			}
		}
	}
	return fmt.Sprint(v)
}

// The Distributed Map's child executions run under stateMachine:NAME/LABEL:ID:
// the state machine's role may describe and stop execution:NAME/*, NAME read
// from the state machine's own ARN (its 7th field), in the stack's
// partition, region and account.
func TestChildExecutionGrants(t *testing.T) {
	audit, _ := stacks(t, testSettings(t, map[string]string{ctxSharded: "true"}))
	tmpl := assertions.Template_FromStack(audit, nil)
	var machine string
	for id := range *tmpl.FindResources(jsii.String("AWS::StepFunctions::StateMachine"), nil) {
		machine = id
	}
	want := "arn:${AWS::Partition}:states:us-east-1:222222222222:execution:${" + machine + "[6]}/*"
	found := false
	for _, r := range *tmpl.FindResources(jsii.String("AWS::IAM::Policy"), nil) {
		doc := (*r)["Properties"].(map[string]interface{})["PolicyDocument"].(map[string]interface{})
		for _, st := range doc["Statement"].([]interface{}) {
			s := st.(map[string]interface{})
			actions := strs(s["Action"])
			if !slices.Contains(actions, "states:DescribeExecution") || arnOf(s["Resource"]) != want {
				continue
			}
			found = true
			if !slices.Equal(actions, ChildExecutionActions) {
				t.Errorf("child executions: actions %v; want %v", actions, ChildExecutionActions)
			}
		}
	}
	if !found {
		t.Errorf("no grant of %v on %s", ChildExecutionActions, want)
	}
	// The ARN shape: the map's label after the name and a slash.
	if machine == "" || !strings.HasSuffix(want, "/*") {
		t.Errorf("state machine %q", machine)
	}
}

// Reserved concurrency: off unless asked for, or unless the quota given
// holds the reservations and the 100 Lambda keeps unreserved; a sharded
// run's map concurrency bounded so that they fit.
func TestReservedConcurrency(t *testing.T) {
	tests := []struct {
		name    string
		context map[string]string
		// reserved is what the stack reserves; err a part of the error.
		reserved int
		err      string
	}{
		{name: "default: off, whatever the account's quota", context: nil, reserved: 0},
		{name: "the default quota given: on", context: map[string]string{ctxConcurrencyQuota: "1000"}, reserved: 1 + HistoryConcurrency},
		{name: "a new account's quota given: off, and deployable", context: map[string]string{ctxConcurrencyQuota: "50"}, reserved: 0},
		{name: "asked for where it cannot fit", context: map[string]string{ctxConcurrencyQuota: "50", ctxReservedConc: "true"},
			err: "grantwatch:reservedConcurrency: 1 for the auditor and 10 for the history function do not fit the account's Lambda concurrency quota of 50"},
		{name: "turned off", context: map[string]string{ctxConcurrencyQuota: "1000", ctxReservedConc: "false"}, reserved: 0},
		{name: "sharded at the most that fits", context: map[string]string{ctxSharded: "true", ctxMapConcurrency: "888", ctxReservedConc: "true"}, reserved: 888 + 2 + HistoryConcurrency},
		{name: "sharded past what fits", context: map[string]string{ctxSharded: "true", ctxMapConcurrency: "889", ctxReservedConc: "true"},
			err: "set grantwatch:mapConcurrency to at most 888"},
		{name: "sharded past what fits, quota given: off", context: map[string]string{ctxSharded: "true", ctxMapConcurrency: "889", ctxConcurrencyQuota: "1000"}, reserved: 0},
		{name: "sharded past the quota itself", context: map[string]string{ctxSharded: "true", ctxMapConcurrency: "499", ctxConcurrencyQuota: "500"},
			err: "grantwatch:mapConcurrency: 499 batches at once, plus the run's first and last steps, exceed the account's Lambda concurrency quota of 500"},
		{name: "not a boolean", context: map[string]string{ctxReservedConc: "yes"}, err: `grantwatch:reservedConcurrency: "yes": want true or false`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := map[string]string{ctxConfig: writeConfig(t, testConfig), ctxOrganizationID: "o-a1b2c3d4e5", ctxManagementAccount: "111111111111", ctxAuditAccount: "222222222222"}
			for k, v := range tt.context {
				ctx[k] = v
			}
			s, err := LoadSettings(func(k string) string { return ctx[k] })
			switch {
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("got %v; want an error with %q", err, tt.err)
			case tt.err != "":
				return
			case err != nil:
				t.Fatal(err)
			}
			if got := s.Reserved(); got != tt.reserved {
				t.Errorf("reserved: got %d; want %d", got, tt.reserved)
			}
			if got, room := s.Reserved(), s.ConcurrencyQuota-UnreservedMinimum; got > 0 && got > room {
				t.Errorf("reserved %d; the quota leaves room for %d", got, room)
			}
		})
	}

	// The template reserves what the settings say.
	audit, _ := stacks(t, testSettings(t, map[string]string{ctxConcurrencyQuota: "1000"}))
	tmpl := assertions.Template_FromStack(audit, nil)
	tmpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), props{
		"Description": assertions.Match_StringLikeRegexp(jsii.String("audits Bedrock")), "ReservedConcurrentExecutions": 1,
	})
	tmpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), props{
		"Description": assertions.Match_StringLikeRegexp(jsii.String("history")), "ReservedConcurrentExecutions": HistoryConcurrency,
	})
}

func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "grantwatch.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// callers are grantwatch's consumer interfaces: every AWS operation it
// calls, with the SDK client that has it, the service's IAM prefix and
// the role whose credentials call it.
var callers = []struct {
	role, prefix string
	iface        reflect.Type
	client       reflect.Type
}{
	{"member", "bedrock", reflect.TypeFor[check.BedrockAPI](), reflect.TypeFor[*bedrock.Client]()},
	{"member", "iam", reflect.TypeFor[check.IAMAPI](), reflect.TypeFor[*iam.Client]()},
	{"member", "account", reflect.TypeFor[check.RegionLister](), reflect.TypeFor[*account.Client]()},
	{"auditor", "organizations", reflect.TypeFor[targets.OrganizationsAPI](), reflect.TypeFor[*organizations.Client]()},
	{"auditor", "sts", reflect.TypeFor[stscreds.AssumeRoleAPIClient](), reflect.TypeFor[*sts.Client]()},
	{"auditor", "dynamodb", reflect.TypeFor[history.API](), reflect.TypeFor[*dynamodb.Client]()},
	{"auditor", "sns", reflect.TypeFor[notify.Publisher](), reflect.TypeFor[*sns.Client]()},
	{"auditor", "securityhub", reflect.TypeFor[securityhub.API](), reflect.TypeFor[*securityhubapi.Client]()},
}

// Calls the code makes without a consumer interface, and what IAM asks of
// them.
var (
	// noPermission: calls IAM does not authorize.
	noPermission = map[string]string{
		"sts:GetCallerIdentity": "job.SecurityHub finds the auditor's account; no permission is required (ledger: STS-caller-identity)",
	}
	// serviceActions: actions the role needs for what AWS does on its
	// behalf, though grantwatch's code calls no such operation.
	serviceActions = map[string]map[string]string{
		"auditor": {
			"logs:CreateLogStream": "Lambda writes the function's logs with its role (ledger: LAM-logs-permission)",
			"logs:PutLogEvents":    "Lambda writes the function's logs with its role (ledger: LAM-logs-permission)",
			"sqs:SendMessage":      "Lambda sends failed asynchronous events to the on-failure destination with the function's role (ledger: LAM-destination-permission)",
			"kms:GenerateDataKey":  "SNS encrypts a published message with the topic's key for the publisher (ledger: SNS-sse-publisher-kms)",
			"kms:Decrypt":          "SNS encrypts a published message with the topic's key for the publisher (ledger: SNS-sse-publisher-kms)",
		},
		"member": {},
	}
)

// TestGrantsMatchTheCode derives the AWS operations grantwatch calls from
// its consumer interfaces (each checked against its SDK client) and
// compares them, both ways, with what the synthesized templates grant the
// auditor function and the member role: every call granted, every grant
// called (or needed by AWS on the role's behalf, as listed above). An IAM
// action is the operation's name with the service's prefix (Service
// Authorization Reference) for every operation here.
func TestGrantsMatchTheCode(t *testing.T) {
	called := map[string][]string{}
	for _, c := range callers {
		for i := range c.iface.NumMethod() {
			m := c.iface.Method(i)
			sdk, ok := c.client.MethodByName(m.Name)
			if !ok || sdk.Type.NumIn()-1 != m.Type.NumIn() {
				t.Errorf("%v.%s: not an operation of %v", c.iface, m.Name, c.client)
				continue
			}
			called[c.role] = append(called[c.role], c.prefix+":"+m.Name)
		}
	}
	called["auditor"] = append(called["auditor"], "sts:GetCallerIdentity")

	// Every option that adds a grant: Security Hub, the KMS key, principals found by tag.
	s := testSettingsWith(t, testConfig+"principals: {by_ou: {ou-ab12-cd34ef56: {tag: grantwatch:bedrock-caller=true}}}\n",
		map[string]string{ctxSecurityHub: "true", ctxKMS: "true"})
	audit, member := stacks(t, s)
	granted := map[string][]string{}
	for _, st := range statementsOf(assertions.Template_FromStack(audit, nil), "AuditorRole") {
		granted["auditor"] = append(granted["auditor"], st.Actions...)
	}
	for _, st := range statementsOf(assertions.Template_FromStack(member, nil), "") {
		granted["member"] = append(granted["member"], st.Actions...)
	}

	for _, role := range []string{"auditor", "member"} {
		want := map[string]bool{}
		for _, a := range called[role] {
			if _, free := noPermission[a]; !free {
				want[a] = true
			}
		}
		for a := range serviceActions[role] {
			want[a] = true
		}
		got := map[string]bool{}
		for _, a := range granted[role] {
			got[a] = true
		}
		for a := range want {
			if !got[a] {
				t.Errorf("%s: %s is called but not granted", role, a)
			}
		}
		for a := range got {
			if !want[a] {
				t.Errorf("%s: %s is granted but never called", role, a)
			}
		}
	}
	// Five Bedrock and three IAM reads, ListRegions; four Organizations reads,
	// AssumeRole, six DynamoDB operations, Publish, two Security Hub ones,
	// GetCallerIdentity.
	if len(called["member"]) != 9 || len(called["auditor"]) != 15 {
		t.Errorf("calls: member %v, auditor %v; want 9 and 15", called["member"], called["auditor"])
	}
}
