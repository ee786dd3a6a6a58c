package config

import (
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/result"
)

const minimal = `
accounts:
  static: ["111111111111"]
regions: [us-east-1]
models:
  required: [anthropic.claude-3-5-sonnet-20240620-v1:0]
`

func TestParseAppliesDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"role name", c.Role.Name, DefaultRoleName},
		{"session name", c.Role.SessionName, DefaultSessionName},
		{"session duration", c.Role.SessionDuration.Std(), DefaultSessionDuration},
		{"concurrency", c.Limits.Concurrency, DefaultConcurrency},
		{"per account region", c.Limits.PerAccountRegion, DefaultPerAccountRegion},
		{"max attempts", c.Limits.MaxAttempts, DefaultMaxAttempts},
		{"call timeout", c.Limits.CallTimeout.Std(), DefaultCallTimeout},
		{"attempt timeout", c.Limits.AttemptTimeout.Std(), DefaultAttemptTimeout},
		{"pending grace", c.PendingGrace.Std(), DefaultPendingGrace},
		{"max backoff", c.Limits.MaxBackoff.Std(), DefaultMaxBackoff},
		{"retention", c.History.Retention.Std(), DefaultRetention},
		{"reminder", c.Notify.ReminderInterval.Std(), DefaultReminder},
		{"role arn", c.RoleARN("111111111111"), "arn:aws:iam::111111111111:role/GrantwatchAudit"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %v; want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestParseFull(t *testing.T) {
	c, err := Parse([]byte(`
accounts:
  static: ["111111111111"]
  organizations:
    enabled: true
    ous: [ou-ab12-cd34ef56]
    tags: {env: prod}
  exclude: ["222222222222"]
regions: [us-east-1, eu-central-1]
models:
  required: [amazon.nova-pro-v1:0]
  by_ou:
    ou-ab12-cd34ef56: [meta.llama3-8b-instruct-v1:0]
  by_account:
    "111111111111": [anthropic.claude-3-haiku-20240307-v1:0]
role:
  arn_template: arn:aws:iam::{account}:role/audit/Grantwatch
  external_id: s3cret
  session_name: gw-audit
  session_duration: 1h
limits:
  concurrency: 10
  per_account_region: 2
  max_attempts: 3
  call_timeout: 10s
  attempt_timeout: 2s
pending_grace: 45m
history: {table: grantwatch-history, retention: 90d}
notify: {topic_arn: "arn:aws:sns:us-east-1:123456789012:grantwatch", reminder_interval: 3d}
`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got, want := c.RoleARN("333333333333"), "arn:aws:iam::333333333333:role/audit/Grantwatch"; got != want {
		t.Errorf("RoleARN: got %s; want %s", got, want)
	}
	if got, want := c.Role.SessionDuration.Std(), time.Hour; got != want {
		t.Errorf("session duration: got %v; want %v", got, want)
	}
	if got, want := c.History.Retention.Std(), 90*24*time.Hour; got != want {
		t.Errorf("retention: got %v; want %v", got, want)
	}
	if got, want := c.Notify.ReminderInterval.Std(), 72*time.Hour; got != want {
		t.Errorf("reminder: got %v; want %v", got, want)
	}
	if got, want := c.Limits.Concurrency, 10; got != want {
		t.Errorf("concurrency: got %d; want %d", got, want)
	}
	if got, want := c.Accounts.Organizations.Tags["env"], "prod"; got != want {
		t.Errorf("tag env: got %q; want %q", got, want)
	}
}

// TestParseRejects has one case per validation rule; each error must name the
// field and the offending value.
func TestParseRejects(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr []string
	}{
		{"empty file", ``, []string{"config is empty"}},
		{"malformed yaml", "accounts: [", []string{"parse yaml"}},
		{"two documents", minimal + "\n---\nregions: [us-east-1]\n", []string{"more than one document"}},
		{"unknown key", minimal + "region: us-east-1\n", []string{"field region not found"}},
		{"unknown nested key", minimal + "role: {nam: x}\n", []string{"field nam not found"}},
		{"no accounts", "regions: [us-east-1]\nmodels: {required: [m1]}\n", []string{"accounts: no accounts"}},
		{"short account id", strings.Replace(minimal, "111111111111", "11111", 1), []string{"accounts.static[0]", `"11111" is not 12 digits`}},
		{"letters in account id", strings.Replace(minimal, "111111111111", "11111111111a", 1), []string{"accounts.static[0]", "11111111111a"}},
		{"duplicate account", strings.Replace(minimal, `["111111111111"]`, `["111111111111", "111111111111"]`, 1), []string{"accounts.static[1]", "listed twice"}},
		{"bad exclude id", strings.Replace(minimal, "accounts:\n", "accounts:\n  exclude: [\"12\"]\n", 1), []string{"accounts.exclude[0]", `"12"`}},
		{"ous without organizations", strings.Replace(minimal, "accounts:\n", "accounts:\n  organizations: {ous: [ou-ab12-cd34ef56]}\n", 1), []string{"accounts.organizations", "enabled is false"}},
		{"bad ou id", strings.Replace(minimal, "accounts:\n", "accounts:\n  organizations: {enabled: true, ous: [prod]}\n", 1), []string{"accounts.organizations.ous[0]", `"prod"`}},
		{"no regions", strings.Replace(minimal, "regions: [us-east-1]", "regions: []", 1), []string{"regions: no regions"}},
		{"unknown region", strings.Replace(minimal, "us-east-1", "us-east-9", 1), []string{"regions[0]", `unknown region "us-east-9"`}},
		{"duplicate region", strings.Replace(minimal, "[us-east-1]", "[us-east-1, us-east-1]", 1), []string{"regions[1]", "listed twice"}},
		{"no models", strings.Replace(minimal, "required: [anthropic.claude-3-5-sonnet-20240620-v1:0]", "required: []", 1), []string{"models.required", "empty model list"}},
		{"blank model id", strings.Replace(minimal, "[anthropic.claude-3-5-sonnet-20240620-v1:0]", `[" "]`, 1), []string{"models.required[0]", `" "`}},
		{"empty model list for an ou", minimal + "  by_ou: {ou-ab12-cd34ef56: []}\n", []string{"models.by_ou[ou-ab12-cd34ef56]", "empty model list"}},
		{"empty model list for an account", strings.Replace(minimal, "models:\n", "models:\n  by_account: {\"111111111111\": []}\n", 1), []string{"models.by_account[111111111111]", "empty model list"}},
		{"by_ou key not an ou", strings.Replace(minimal, "models:\n", "models:\n  by_ou: {prod: [m1]}\n", 1), []string{"models.by_ou[prod]", `"prod"`}},
		{"by_account key not an account", strings.Replace(minimal, "models:\n", "models:\n  by_account: {\"12\": [m1]}\n", 1), []string{"models.by_account[12]", "not 12 digits"}},
		{"template without account", minimal + "role: {arn_template: \"arn:aws:iam::111111111111:role/X\"}\n", []string{"role.arn_template", "no {account} placeholder"}},
		{"template not an arn", minimal + "role: {arn_template: \"GrantwatchAudit-{account}\"}\n", []string{"role.arn_template", "is not a role ARN"}},
		{"bad role name", minimal + "role: {name: \"a b\"}\n", []string{"role.name", `"a b"`}},
		{"bad session name", minimal + "role: {session_name: \"a b\"}\n", []string{"role.session_name", `"a b"`}},
		{"short session", minimal + "role: {session_duration: 1m}\n", []string{"role.session_duration", "1m0s"}},
		{"bad duration", minimal + "role: {session_duration: soon}\n", []string{"want a duration", `"soon"`}},
		{"zero concurrency is default, negative is not", minimal + "limits: {concurrency: -1}\n", []string{"limits.concurrency", "-1 must be a positive number"}},
		{"negative per account region", minimal + "limits: {per_account_region: -2}\n", []string{"limits.per_account_region", "-2"}},
		{"negative attempts", minimal + "limits: {max_attempts: -1}\n", []string{"limits.max_attempts", "-1"}},
		{"negative call timeout", minimal + "limits: {call_timeout: -5s}\n", []string{"limits.call_timeout", "-5s"}},
		{"negative backoff", minimal + "limits: {max_backoff: -1s}\n", []string{"limits.max_backoff", "-1s"}},
		{"bad table name", minimal + "history: {table: a}\n", []string{"history.table", `"a"`}},
		{"short retention", minimal + "history: {table: gw-history, retention: 1h}\n", []string{"history.retention", "1h0m0s"}},
		{"bad days", minimal + "history: {table: gw-history, retention: xd}\n", []string{"want a duration", `"xd"`}},
		{"bad topic arn", minimal + "history: {table: gw-history}\nnotify: {topic_arn: grantwatch}\n", []string{"notify.topic_arn", `"grantwatch"`}},
		{"topic without table", minimal + "notify: {topic_arn: \"arn:aws:sns:us-east-1:123456789012:gw\"}\n", []string{"notify.topic_arn", "need history.table"}},
		{"negative reminder", minimal + "notify: {reminder_interval: -1h}\n", []string{"notify.reminder_interval", "-1h0m0s"}},
		{"negative grace", minimal + "pending_grace: -1m\n", []string{"pending_grace", "-1m0s"}},
		{"session longer than role chaining allows", minimal + "role: {session_duration: 2h}\n", []string{"role.session_duration", "2h0m0s", "role chaining"}},
		{"concurrency that overflows the workers", minimal + "limits: {concurrency: 9223372036854775807}\n", []string{"limits.concurrency", "9223372036854775807 is more than 4096"}},
		{"too many per account region", minimal + "limits: {per_account_region: 1000}\n", []string{"limits.per_account_region", "1000 is more than 64"}},
		{"too many attempts", minimal + "limits: {max_attempts: 1000}\n", []string{"limits.max_attempts", "1000 is more than 20"}},
		{"call timeout of a day", minimal + "limits: {call_timeout: 24h}\n", []string{"limits.call_timeout", "24h0m0s is outside"}},
		{"call timeout shorter than the retries' backoff", minimal + "limits: {call_timeout: 5s, max_attempts: 5}\n", []string{"limits.call_timeout", "5s is not longer than the 40s", "15s of waits", "throttled"}},
		// Issue 20 item 8: 20s is longer than the 15s of waits, but not
		// than the waits and 5 attempts of up to 5s each.
		{"call timeout shorter than the waits and the attempts", minimal + "limits: {call_timeout: 20s, max_attempts: 5}\n", []string{"limits.call_timeout", "20s is not longer than the 40s", "5 attempts of up to 5s each (limits.max_attempts, limits.attempt_timeout)"}},
		{"attempt timeout of a day", minimal + "limits: {attempt_timeout: 24h}\n", []string{"limits.attempt_timeout", "24h0m0s is outside"}},
		{"reminder of ten years", minimal + "notify: {reminder_interval: 3650d}\n", []string{"notify.reminder_interval", "87600h0m0s is outside"}},
		{"regions of two partitions", strings.Replace(minimal, "[us-east-1]", "[us-east-1, cn-north-1]", 1), []string{"regions[1]", `"cn-north-1" is in partition aws-cn`}},
		{"foundation model ARN is not a profile", strings.Replace(minimal, "[anthropic.claude-3-5-sonnet-20240620-v1:0]", `["arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-sonnet-20240620-v1:0"]`, 1), []string{"models.required[0]", "is not an inference profile ARN"}},
		{"profile ARN of a region not audited", strings.Replace(minimal, "[anthropic.claude-3-5-sonnet-20240620-v1:0]", `["arn:aws:bedrock:eu-west-1:111111111111:application-inference-profile/a1b2c3d4e5f6"]`, 1), []string{"models.required[0]", "region eu-west-1 is not among regions"}},
		{"severity of an unknown status", minimal + "alerts: {severity: {AGREEMENT_MISING: info}}\n", []string{"alerts.severity[AGREEMENT_MISING]", "unknown status"}},
		{"severity of a usable status", minimal + "alerts: {severity: {ENABLED: info}}\n", []string{"alerts.severity[ENABLED]", "never alerted"}},
		{"unknown severity", minimal + "alerts: {severity: {PENDING: loud}}\n", []string{"alerts.severity[PENDING]", `"loud" is not one of [critical warning info ignore]`}},
		{"huge file", minimal + "# " + strings.Repeat("x", MaxFileBytes) + "\n", []string{"larger than 1048576 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse: got no error; want one containing %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Parse error: got %q; want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestPartitionARNs(t *testing.T) {
	tests := []struct {
		name, regions, wantPartition, wantRole string
	}{
		{"commercial", "[us-east-1, eu-central-1]", "aws", "arn:aws:iam::111111111111:role/GrantwatchAudit"},
		{"china", "[cn-north-1, cn-northwest-1]", "aws-cn", "arn:aws-cn:iam::111111111111:role/GrantwatchAudit"},
		{"govcloud", "[us-gov-west-1]", "aws-us-gov", "arn:aws-us-gov:iam::111111111111:role/GrantwatchAudit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(strings.Replace(minimal, "[us-east-1]", tt.regions, 1)))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Partition(); got != tt.wantPartition {
				t.Errorf("Partition: got %s; want %s", got, tt.wantPartition)
			}
			if got := c.RoleARN("111111111111"); got != tt.wantRole {
				t.Errorf("RoleARN: got %s; want %s", got, tt.wantRole)
			}
		})
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml")
	if err == nil || !strings.Contains(err.Error(), "does-not-exist.yaml") {
		t.Errorf("Load missing file: got %v; want an error naming the file", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte("accounts: {static: [\"123456789012\"]}\nregions: [eu-west-1]\nmodels: {by_ou: {ou-ab12-cd34ef56: [x]}}\n"))
	f.Add([]byte("limits: {concurrency: -1}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			if c != nil {
				t.Fatalf("Parse returned a config with error %v", err)
			}
			return
		}
		// Whatever Parse accepts must be valid and have its defaults set.
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted config fails Validate: %v", err)
		}
		if c.Limits.Concurrency <= 0 || c.Role.SessionName == "" {
			t.Fatalf("accepted config lacks defaults: %+v", c)
		}
	})
}

func TestPrincipals(t *testing.T) {
	c, err := Parse([]byte(minimal + `principals:
  roles: [BedrockAppRole]
  by_ou:
    ou-ab12-cd34ef56: {arn_templates: ["arn:aws:iam::{account}:role/apps/Chat"], roles: [BedrockAppRole, Batch]}
  by_account:
    "111111111111": {tag: grantwatch:bedrock-caller=true}
`))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Principals.Configured() || !c.Principals.UsesTags() {
		t.Errorf("configured %v, uses tags %v; want both", c.Principals.Configured(), c.Principals.UsesTags())
	}
	got := c.Principals.For("111111111111", []string{"ou-ab12-cd34ef56"})
	if strings.Join(got.Roles, ",") != "Batch,BedrockAppRole" || len(got.ARNTemplates) != 1 || got.Tag != "grantwatch:bedrock-caller=true" {
		t.Errorf("principals of 111111111111: got %+v", got)
	}
	if other := c.Principals.For("222222222222", nil); strings.Join(other.Roles, ",") != "BedrockAppRole" || other.Tag != "" {
		t.Errorf("principals of 222222222222: got %+v", other)
	}
	if len(got.Parts) != 3 || got.Parts[2].Tag != "grantwatch:bedrock-caller=true" || len(got.Parts[1].Roles) != 2 {
		t.Errorf("parts of 111111111111: got %+v; want the top level, the OU's and the account's sets, in that order", got.Parts)
	}

	withSettings, err := Parse([]byte(minimal + `principals:
  roles: [ChatApp]
  actions: [invoke, stream]
  auth: [iam, api_key]
  context:
    - {name: aws:SourceVpce, type: string, values: [vpce-0a1b2c3d]}
    - {name: aws:SourceIp, type: ipList, values: [10.0.0.0/8, 192.0.2.7]}
`))
	if err != nil {
		t.Fatal(err)
	}
	if s := withSettings.Principals.For("111111111111", nil); len(s.Parts) != 1 || len(s.Parts[0].Actions) != 2 || len(s.Parts[0].Auth) != 2 || len(s.Parts[0].Context) != 2 {
		t.Errorf("settings: got %+v; want the set's actions, auth and context kept", s.Parts)
	}

	bad := []struct{ name, yaml, want string }{
		{"role name with a path", "principals: {roles: [apps/Chat]}\n", `principals.roles[0]: "apps/Chat" is not a role name`},
		{"template without account", "principals: {arn_templates: [\"arn:aws:iam::111111111111:role/Chat\"]}\n", "principals.arn_templates[0]"},
		{"tag without value", "principals: {tag: grantwatch:bedrock-caller}\n", `principals.tag: "grantwatch:bedrock-caller" is not key=value`},
		{"by_ou key", "principals: {by_ou: {prod: {roles: [A]}}}\n", `principals.by_ou[prod]: "prod" is not an OU id`},
		{"unknown action", "principals: {roles: [A], actions: [invoke, converse]}\n", `principals.actions[1]: "converse" is not one of invoke, stream`},
		{"action twice", "principals: {roles: [A], actions: [stream, stream]}\n", `principals.actions[1]: "stream" is listed twice`},
		{"unknown auth", "principals: {by_account: {\"111111111111\": {roles: [A], auth: [sigv4]}}}\n", `principals.by_account[111111111111].auth[0]: "sigv4" is not one of iam, api_key`},
		{"settings without roles", "principals: {actions: [stream], by_account: {\"111111111111\": {roles: [A]}}}\n", "principals: actions, auth and context apply to the roles of the same set"},
		{"context key name", "principals: {roles: [A], context: [{name: SourceVpce, type: string, values: [vpce-1]}]}\n", `principals.context[0].name: "SourceVpce" is not a condition key`},
		{"context key grantwatch sets", "principals: {roles: [A], context: [{name: aws:requestedregion, type: string, values: [us-east-1]}]}\n", "principals.context[0].name: aws:requestedregion is set by grantwatch"},
		{"context type", "principals: {roles: [A], context: [{name: aws:SourceVpce, type: str, values: [vpce-1]}]}\n", `principals.context[0].type: "str" is not one of`},
		{"context without values", "principals: {roles: [A], context: [{name: aws:SourceVpce, type: string}]}\n", "principals.context[0].values: empty"},
		{"two values, single-valued", "principals: {roles: [A], context: [{name: aws:SourceVpce, type: string, values: [a, b]}]}\n", "principals.context[0].values: 2 values for the single-valued type string"},
		{"not an ip", "principals: {roles: [A], context: [{name: aws:SourceIp, type: ip, values: [office]}]}\n", `principals.context[0].values[0]: "office": not an IP address`},
		{"not a boolean", "principals: {roles: [A], context: [{name: aws:ViaAWSService, type: boolean, values: [yes]}]}\n", `principals.context[0].values[0]: "yes": not true or false`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse([]byte(minimal + tt.yaml)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestSuppressions(t *testing.T) {
	c, err := Parse([]byte(minimal + `suppressions:
  - {account: "111111111111", model: m, status: AGREEMENT_MISSING, reason: under evaluation, owner: ml@example.com, until: 2027-03-31}
`))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Suppressions[0]
	r := result.Result{Account: "111111111111", Region: "us-east-1", Model: "m", Status: result.AgreementMissing}
	if !s.Matches(r, nil) {
		t.Errorf("does not match %+v", r)
	}
	if other := (result.Result{Account: "222222222222", Model: "m", Status: result.AgreementMissing}); s.Matches(other, nil) {
		t.Errorf("matches another account")
	}
	lastDay := time.Date(2027, 3, 31, 23, 59, 0, 0, time.UTC)
	if !s.Active(lastDay) || s.Active(lastDay.Add(time.Minute)) {
		t.Errorf("active through its last day only: got %v, then %v", s.Active(lastDay), s.Active(lastDay.Add(time.Minute)))
	}
	bad := []struct{ name, yaml, want string }{
		{"selects everything", "suppressions: [{reason: r, owner: o, until: 2027-01-01}]\n", "suppressions[0]: selects every check"},
		{"no reason", "suppressions: [{model: m, owner: o, until: 2027-01-01}]\n", "suppressions[0].reason: empty"},
		{"no owner", "suppressions: [{model: m, reason: r, until: 2027-01-01}]\n", "suppressions[0].owner: empty"},
		{"bad date", "suppressions: [{model: m, reason: r, owner: o, until: next week}]\n", `suppressions[0].until: "next week" is not a date`},
		{"bad status", "suppressions: [{status: FINE, reason: r, owner: o, until: 2027-01-01}]\n", `suppressions[0].status: unknown status "FINE"`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse([]byte(minimal + tt.yaml)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestValidatePinnedModels: an inference profile ARN can be called only in
// its own account; required anywhere else it is a configuration error
// naming the field, and every such case is listed at once (issue 18 item 4).
func TestValidatePinnedModels(t *testing.T) {
	const (
		app    = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/a1b2c3d4e5f6"
		other  = "arn:aws:bedrock:us-east-1:333333333333:application-inference-profile/b2c3d4e5f6a1"
		system = "arn:aws:bedrock:us-east-1:111111111111:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0"
	)
	_, err := Parse([]byte(`
accounts:
  static: ["111111111111", "222222222222"]
  exclude: ["444444444444"]
regions: [us-east-1]
models:
  required: [amazon.nova-pro-v1:0, "` + app + `"]
  by_ou:
    ou-ab12-cd34ef56: ["` + system + `"]
  by_account:
    "111111111111": ["` + app + `"]
    "222222222222": ["` + app + `"]
    "333333333333": ["` + other + `"]
    "444444444444": ["arn:aws:bedrock:us-east-1:444444444444:application-inference-profile/c3d4e5f6a1b2"]
`))
	if err == nil {
		t.Fatal("Parse: got no error; want one per misplaced ARN")
	}
	for _, want := range []string{
		"models.required[1]: the inference profile ARN " + app + " belongs to account 111111111111 and can be called only there",
		"list it under models.by_account[111111111111]",
		"models.by_ou[ou-ab12-cd34ef56][0]: the inference profile ARN " + system,
		"require the profile id us.anthropic.claude-sonnet-4-5-20250929-v1:0 instead",
		"models.by_account[222222222222][0]: the inference profile ARN " + app + " belongs to account 111111111111, not 222222222222",
		"models.by_account[333333333333][0]: account 333333333333 is not in accounts.static",
		"models.by_account[444444444444][0]: account 444444444444 is in accounts.exclude",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error: got %q; want it to contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "models.by_account[111111111111]:") || strings.Contains(err.Error(), "models.by_account[111111111111][0]") {
		t.Errorf("error: got %q; want the ARN in its own account accepted", err)
	}
}
