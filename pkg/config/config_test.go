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
		{name: "role name", got: c.Role.Name, want: DefaultRoleName},
		{name: "session name", got: c.Role.SessionName, want: DefaultSessionName},
		{name: "session duration", got: c.Role.SessionDuration.Std(), want: DefaultSessionDuration},
		{name: "concurrency", got: c.Limits.Concurrency, want: DefaultConcurrency},
		{name: "per account region", got: c.Limits.PerAccountRegion, want: DefaultPerAccountRegion},
		{name: "max attempts", got: c.Limits.MaxAttempts, want: DefaultMaxAttempts},
		{name: "call timeout", got: c.Limits.CallTimeout.Std(), want: DefaultCallTimeout},
		{name: "attempt timeout", got: c.Limits.AttemptTimeout.Std(), want: DefaultAttemptTimeout},
		{name: "pending grace", got: c.PendingGrace.Std(), want: DefaultPendingGrace},
		{name: "max backoff", got: c.Limits.MaxBackoff.Std(), want: DefaultMaxBackoff},
		{name: "retention", got: c.History.Retention.Std(), want: DefaultRetention},
		{name: "reminder", got: c.Notify.ReminderInterval.Std(), want: DefaultReminder},
		{name: "role arn", got: c.RoleARN("111111111111"), want: "arn:aws:iam::111111111111:role/GrantwatchAudit"},
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
		{name: "empty file", yaml: ``, wantErr: []string{"config is empty"}},
		{name: "malformed yaml", yaml: "accounts: [", wantErr: []string{"parse yaml"}},
		{name: "two documents", yaml: minimal + "\n---\nregions: [us-east-1]\n", wantErr: []string{"more than one document"}},
		{name: "unknown key", yaml: minimal + "region: us-east-1\n", wantErr: []string{"field region not found"}},
		{name: "unknown nested key", yaml: minimal + "role: {nam: x}\n", wantErr: []string{"field nam not found"}},
		{name: "no accounts", yaml: "regions: [us-east-1]\nmodels: {required: [m1]}\n", wantErr: []string{"accounts: no accounts"}},
		{name: "short account id", yaml: strings.Replace(minimal, "111111111111", "11111", 1), wantErr: []string{"accounts.static[0]", `"11111" is not 12 digits`}},
		{name: "letters in account id", yaml: strings.Replace(minimal, "111111111111", "11111111111a", 1), wantErr: []string{"accounts.static[0]", "11111111111a"}},
		{name: "duplicate account", yaml: strings.Replace(minimal, `["111111111111"]`, `["111111111111", "111111111111"]`, 1), wantErr: []string{"accounts.static[1]", "listed twice"}},
		{name: "bad exclude id", yaml: strings.Replace(minimal, "accounts:\n", "accounts:\n  exclude: [\"12\"]\n", 1), wantErr: []string{"accounts.exclude[0]", `"12"`}},
		{name: "ous without organizations", yaml: strings.Replace(minimal, "accounts:\n", "accounts:\n  organizations: {ous: [ou-ab12-cd34ef56]}\n", 1), wantErr: []string{"accounts.organizations", "enabled is false"}},
		{name: "bad ou id", yaml: strings.Replace(minimal, "accounts:\n", "accounts:\n  organizations: {enabled: true, ous: [prod]}\n", 1), wantErr: []string{"accounts.organizations.ous[0]", `"prod"`}},
		{name: "no regions", yaml: strings.Replace(minimal, "regions: [us-east-1]", "regions: []", 1), wantErr: []string{"regions: no regions"}},
		{name: "unknown region", yaml: strings.Replace(minimal, "us-east-1", "us-east-9", 1), wantErr: []string{"regions[0]", `unknown region "us-east-9"`}},
		{name: "duplicate region", yaml: strings.Replace(minimal, "[us-east-1]", "[us-east-1, us-east-1]", 1), wantErr: []string{"regions[1]", "listed twice"}},
		{name: "no models", yaml: strings.Replace(minimal, "required: [anthropic.claude-3-5-sonnet-20240620-v1:0]", "required: []", 1), wantErr: []string{"models.required", "empty model list"}},
		{name: "blank model id", yaml: strings.Replace(minimal, "[anthropic.claude-3-5-sonnet-20240620-v1:0]", `[" "]`, 1), wantErr: []string{"models.required[0]", `" "`}},
		{name: "empty model list for an ou", yaml: minimal + "  by_ou: {ou-ab12-cd34ef56: []}\n", wantErr: []string{"models.by_ou[ou-ab12-cd34ef56]", "empty model list"}},
		{name: "empty model list for an account", yaml: strings.Replace(minimal, "models:\n", "models:\n  by_account: {\"111111111111\": []}\n", 1), wantErr: []string{"models.by_account[111111111111]", "empty model list"}},
		{name: "by_ou key not an ou", yaml: strings.Replace(minimal, "models:\n", "models:\n  by_ou: {prod: [m1]}\n", 1), wantErr: []string{"models.by_ou[prod]", `"prod"`}},
		{name: "by_account key not an account", yaml: strings.Replace(minimal, "models:\n", "models:\n  by_account: {\"12\": [m1]}\n", 1), wantErr: []string{"models.by_account[12]", "not 12 digits"}},
		{name: "template without account", yaml: minimal + "role: {arn_template: \"arn:aws:iam::111111111111:role/X\"}\n", wantErr: []string{"role.arn_template", "no {account} placeholder"}},
		{name: "template not an arn", yaml: minimal + "role: {arn_template: \"GrantwatchAudit-{account}\"}\n", wantErr: []string{"role.arn_template", "is not a role ARN"}},
		{name: "bad role name", yaml: minimal + "role: {name: \"a b\"}\n", wantErr: []string{"role.name", `"a b"`}},
		{name: "bad session name", yaml: minimal + "role: {session_name: \"a b\"}\n", wantErr: []string{"role.session_name", `"a b"`}},
		{name: "short session", yaml: minimal + "role: {session_duration: 1m}\n", wantErr: []string{"role.session_duration", "1m0s"}},
		{name: "bad duration", yaml: minimal + "role: {session_duration: soon}\n", wantErr: []string{"want a duration", `"soon"`}},
		{name: "zero concurrency is default, negative is not", yaml: minimal + "limits: {concurrency: -1}\n", wantErr: []string{"limits.concurrency", "-1 must be a positive number"}},
		{name: "negative per account region", yaml: minimal + "limits: {per_account_region: -2}\n", wantErr: []string{"limits.per_account_region", "-2"}},
		{name: "negative attempts", yaml: minimal + "limits: {max_attempts: -1}\n", wantErr: []string{"limits.max_attempts", "-1"}},
		{name: "negative call timeout", yaml: minimal + "limits: {call_timeout: -5s}\n", wantErr: []string{"limits.call_timeout", "-5s"}},
		{name: "negative backoff", yaml: minimal + "limits: {max_backoff: -1s}\n", wantErr: []string{"limits.max_backoff", "-1s"}},
		{name: "bad table name", yaml: minimal + "history: {table: a}\n", wantErr: []string{"history.table", `"a"`}},
		{name: "short retention", yaml: minimal + "history: {table: gw-history, retention: 1h}\n", wantErr: []string{"history.retention", "1h0m0s"}},
		{name: "bad days", yaml: minimal + "history: {table: gw-history, retention: xd}\n", wantErr: []string{"want a duration", `"xd"`}},
		{name: "bad topic arn", yaml: minimal + "history: {table: gw-history}\nnotify: {topic_arn: grantwatch}\n", wantErr: []string{"notify.topic_arn", `"grantwatch"`}},
		{name: "topic without table", yaml: minimal + "notify: {topic_arn: \"arn:aws:sns:us-east-1:123456789012:gw\"}\n", wantErr: []string{"notify.topic_arn", "need history.table"}},
		{name: "negative reminder", yaml: minimal + "notify: {reminder_interval: -1h}\n", wantErr: []string{"notify.reminder_interval", "-1h0m0s"}},
		{name: "negative grace", yaml: minimal + "pending_grace: -1m\n", wantErr: []string{"pending_grace", "-1m0s"}},
		{name: "session longer than role chaining allows", yaml: minimal + "role: {session_duration: 2h}\n", wantErr: []string{"role.session_duration", "2h0m0s", "role chaining"}},
		{name: "concurrency that overflows the workers", yaml: minimal + "limits: {concurrency: 9223372036854775807}\n", wantErr: []string{"limits.concurrency", "9223372036854775807 is more than 4096"}},
		{name: "too many per account region", yaml: minimal + "limits: {per_account_region: 1000}\n", wantErr: []string{"limits.per_account_region", "1000 is more than 64"}},
		{name: "too many attempts", yaml: minimal + "limits: {max_attempts: 1000}\n", wantErr: []string{"limits.max_attempts", "1000 is more than 20"}},
		{name: "call timeout of a day", yaml: minimal + "limits: {call_timeout: 24h}\n", wantErr: []string{"limits.call_timeout", "24h0m0s is outside"}},
		{name: "call timeout shorter than the retries' backoff", yaml: minimal + "limits: {call_timeout: 5s, max_attempts: 5}\n", wantErr: []string{"limits.call_timeout", "5s is not longer than the 40s", "15s of waits", "throttled"}},
		// Issue 20 item 8: 20s is longer than the 15s of waits, but not
		// than the waits and 5 attempts of up to 5s each.
		{name: "call timeout shorter than the waits and the attempts", yaml: minimal + "limits: {call_timeout: 20s, max_attempts: 5}\n", wantErr: []string{"limits.call_timeout", "20s is not longer than the 40s", "5 attempts of up to 5s each (limits.max_attempts, limits.attempt_timeout)"}},
		{name: "attempt timeout of a day", yaml: minimal + "limits: {attempt_timeout: 24h}\n", wantErr: []string{"limits.attempt_timeout", "24h0m0s is outside"}},
		{name: "reminder of ten years", yaml: minimal + "notify: {reminder_interval: 3650d}\n", wantErr: []string{"notify.reminder_interval", "87600h0m0s is outside"}},
		{name: "regions of two partitions", yaml: strings.Replace(minimal, "[us-east-1]", "[us-east-1, cn-north-1]", 1), wantErr: []string{"regions[1]", `"cn-north-1" is in partition aws-cn`}},
		{name: "foundation model ARN is not a profile", yaml: strings.Replace(minimal, "[anthropic.claude-3-5-sonnet-20240620-v1:0]", `["arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-sonnet-20240620-v1:0"]`, 1), wantErr: []string{"models.required[0]", "is not an inference profile ARN"}},
		{name: "profile ARN of a region not audited", yaml: strings.Replace(minimal, "[anthropic.claude-3-5-sonnet-20240620-v1:0]", `["arn:aws:bedrock:eu-west-1:111111111111:application-inference-profile/a1b2c3d4e5f6"]`, 1), wantErr: []string{"models.required[0]", "region eu-west-1 is not among regions"}},
		{name: "severity of an unknown status", yaml: minimal + "alerts: {severity: {AGREEMENT_MISING: info}}\n", wantErr: []string{"alerts.severity[AGREEMENT_MISING]", "unknown status"}},
		{name: "severity of a usable status", yaml: minimal + "alerts: {severity: {ENABLED: info}}\n", wantErr: []string{"alerts.severity[ENABLED]", "never alerted"}},
		{name: "unknown severity", yaml: minimal + "alerts: {severity: {PENDING: loud}}\n", wantErr: []string{"alerts.severity[PENDING]", `"loud" is not one of [critical warning info ignore]`}},
		{name: "huge file", yaml: minimal + "# " + strings.Repeat("x", MaxFileBytes) + "\n", wantErr: []string{"larger than 1048576 bytes"}},
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
		{name: "commercial", regions: "[us-east-1, eu-central-1]", wantPartition: "aws", wantRole: "arn:aws:iam::111111111111:role/GrantwatchAudit"},
		{name: "china", regions: "[cn-north-1, cn-northwest-1]", wantPartition: "aws-cn", wantRole: "arn:aws-cn:iam::111111111111:role/GrantwatchAudit"},
		{name: "govcloud", regions: "[us-gov-west-1]", wantPartition: "aws-us-gov", wantRole: "arn:aws-us-gov:iam::111111111111:role/GrantwatchAudit"},
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
		{name: "role name with a path", yaml: "principals: {roles: [apps/Chat]}\n", want: `principals.roles[0]: "apps/Chat" is not a role name`},
		{name: "template without account", yaml: "principals: {arn_templates: [\"arn:aws:iam::111111111111:role/Chat\"]}\n", want: "principals.arn_templates[0]"},
		{name: "tag without value", yaml: "principals: {tag: grantwatch:bedrock-caller}\n", want: `principals.tag: "grantwatch:bedrock-caller" is not key=value`},
		{name: "by_ou key", yaml: "principals: {by_ou: {prod: {roles: [A]}}}\n", want: `principals.by_ou[prod]: "prod" is not an OU id`},
		{name: "unknown action", yaml: "principals: {roles: [A], actions: [invoke, converse]}\n", want: `principals.actions[1]: "converse" is not one of invoke, stream`},
		{name: "action twice", yaml: "principals: {roles: [A], actions: [stream, stream]}\n", want: `principals.actions[1]: "stream" is listed twice`},
		{name: "unknown auth", yaml: "principals: {by_account: {\"111111111111\": {roles: [A], auth: [sigv4]}}}\n", want: `principals.by_account[111111111111].auth[0]: "sigv4" is not one of iam, api_key`},
		{name: "settings without roles", yaml: "principals: {actions: [stream], by_account: {\"111111111111\": {roles: [A]}}}\n", want: "principals: actions, auth and context apply to the roles of the same set"},
		{name: "context key name", yaml: "principals: {roles: [A], context: [{name: SourceVpce, type: string, values: [vpce-1]}]}\n", want: `principals.context[0].name: "SourceVpce" is not a condition key`},
		{name: "context key grantwatch sets", yaml: "principals: {roles: [A], context: [{name: aws:requestedregion, type: string, values: [us-east-1]}]}\n", want: "principals.context[0].name: aws:requestedregion is set by grantwatch"},
		{name: "context type", yaml: "principals: {roles: [A], context: [{name: aws:SourceVpce, type: str, values: [vpce-1]}]}\n", want: `principals.context[0].type: "str" is not one of`},
		{name: "context without values", yaml: "principals: {roles: [A], context: [{name: aws:SourceVpce, type: string}]}\n", want: "principals.context[0].values: empty"},
		{name: "two values, single-valued", yaml: "principals: {roles: [A], context: [{name: aws:SourceVpce, type: string, values: [a, b]}]}\n", want: "principals.context[0].values: 2 values for the single-valued type string"},
		{name: "not an ip", yaml: "principals: {roles: [A], context: [{name: aws:SourceIp, type: ip, values: [office]}]}\n", want: `principals.context[0].values[0]: "office": not an IP address`},
		{name: "not a boolean", yaml: "principals: {roles: [A], context: [{name: aws:ViaAWSService, type: boolean, values: [yes]}]}\n", want: `principals.context[0].values[0]: "yes": not true or false`},
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
		{name: "selects everything", yaml: "suppressions: [{reason: r, owner: o, until: 2027-01-01}]\n", want: "suppressions[0]: selects every check"},
		{name: "no reason", yaml: "suppressions: [{model: m, owner: o, until: 2027-01-01}]\n", want: "suppressions[0].reason: empty"},
		{name: "no owner", yaml: "suppressions: [{model: m, reason: r, until: 2027-01-01}]\n", want: "suppressions[0].owner: empty"},
		{name: "bad date", yaml: "suppressions: [{model: m, reason: r, owner: o, until: next week}]\n", want: `suppressions[0].until: "next week" is not a date`},
		{name: "bad status", yaml: "suppressions: [{status: FINE, reason: r, owner: o, until: 2027-01-01}]\n", want: `suppressions[0].status: unknown status "FINE"`},
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
