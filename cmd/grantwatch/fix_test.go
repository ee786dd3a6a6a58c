package main

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/grantwatch/grantwatch/pkg/devtools/awssim"
	"github.com/grantwatch/grantwatch/pkg/devtools/localenv"
	"github.com/grantwatch/grantwatch/pkg/devtools/testenv"
	"github.com/grantwatch/grantwatch/pkg/history"
)

// useFixSimulator starts the fix tests' organization (every third-party
// agreement missing) and points the SDK at it.
func useFixSimulator(t *testing.T) *awssim.Server {
	t.Helper()
	return useScenario(t, "testdata/fix-org.yaml")
}

const fixBase = `
regions: [us-east-1, us-west-2]
models: {required: [cohere.command-r-plus-v1:0, ai21.jamba-1-5-large-v1:0]}
role: {name: GrantwatchAudit, external_id: grantwatch-fix}
limits: {max_attempts: 2, max_backoff: 10ms}
`

func fixJSON(t *testing.T, args ...string) (int, map[string]any, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"fix"}, args...), &stdout, &stderr)
	var out map[string]any
	if code != exitError {
		if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
			t.Fatalf("fix %v: output is not JSON: %v\n%s", args, err, &stdout)
		}
	}
	return code, out, stderr.String()
}

// outcomes are the actions as "account region model action outcome".
func outcomes(t *testing.T, out map[string]any) []string {
	t.Helper()
	var got []string
	for _, a := range out["actions"].([]any) {
		m := a.(map[string]any)
		var keys []string
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if want := []string{"account", "action", "model", "offer", "outcome", "reason", "region"}; !slices.Equal(keys, want) {
			t.Fatalf("action keys: got %v; want %v", keys, want)
		}
		got = append(got, strings.Join([]string{m["account"].(string), m["region"].(string), m["model"].(string), m["action"].(string), m["outcome"].(string)}, " "))
	}
	return got
}

func writes(sim *awssim.Server) int64 {
	return sim.Calls(awssim.OpCreateFoundationModelAgreement) + sim.Calls(awssim.OpPutUseCaseForModelAccess) + sim.Calls(awssim.OpDeleteFoundationModelAgreement)
}

func TestFixDryRunApplyAndAgain(t *testing.T) {
	sim := useFixSimulator(t)
	cfg := writeConfig(t, `accounts: {static: ["111111111111", "444444444444"]}`+fixBase+`
remediation:
  agreements: {models: [cohere.command-r-plus-v1:0], regions: [us-east-1]}
`)
	code, out, _ := fixJSON(t, "--config", cfg, "--output", "json")
	if code != fixOK {
		t.Fatalf("dry run: exit code got %d; want %d", code, fixOK)
	}
	if got := writes(sim); got != 0 {
		t.Fatalf("dry run: got %d write calls; want 0", got)
	}
	if run := out["run"].(map[string]any); run["mode"] != "dry-run" || run["id"] == "" {
		t.Errorf("run: got %v; want mode dry-run and the audit's id", run)
	}
	planned := []string{
		"111111111111 us-east-1 cohere.command-r-plus-v1:0 CreateFoundationModelAgreement planned",
		"444444444444 us-east-1 cohere.command-r-plus-v1:0 CreateFoundationModelAgreement planned",
	}
	got := outcomes(t, out)
	for _, p := range planned {
		if !slices.Contains(got, p) {
			t.Errorf("dry run: got %q; want it to contain %q", got, p)
		}
	}

	code, out, _ = fixJSON(t, "--config", cfg, "--apply", "--output", "json")
	if code != fixOK {
		t.Fatalf("apply: exit code got %d; want %d", code, fixOK)
	}
	got = outcomes(t, out)
	for _, p := range planned {
		if d := strings.Replace(p, "planned", "done", 1); !slices.Contains(got, d) {
			t.Errorf("apply: got %q; want it to contain %q", got, d)
		}
	}
	if n := sim.Calls(awssim.OpCreateFoundationModelAgreement); n != 2 {
		t.Errorf("apply: CreateFoundationModelAgreement calls got %d; want 2", n)
	}

	code, out, _ = fixJSON(t, "--config", cfg, "--apply", "--output", "json")
	if code != fixOK {
		t.Fatalf("second apply: exit code got %d; want %d", code, fixOK)
	}
	for _, a := range outcomes(t, out) {
		if strings.HasSuffix(a, " done") || strings.HasSuffix(a, " planned") {
			t.Errorf("second apply: got %q; want nothing to do", a)
		}
	}
	if n := sim.Calls(awssim.OpCreateFoundationModelAgreement); n != 2 {
		t.Errorf("second apply: CreateFoundationModelAgreement calls got %d; want still 2", n)
	}
}

func TestFixOneAccountFailsOthersDone(t *testing.T) {
	useFixSimulator(t)
	cfg := writeConfig(t, `accounts: {static: ["111111111111", "222222222222"]}`+fixBase+`
remediation:
  agreements: {models: [cohere.command-r-plus-v1:0], regions: [us-east-1]}
`)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"fix", "--config", cfg, "--apply"}, &stdout, &stderr)
	if code != fixFailed {
		t.Fatalf("exit code: got %d; want %d (stderr %s)", code, fixFailed, &stderr)
	}
	text := stdout.String()
	for _, want := range []string{"Account 111111111111", "Account 222222222222", "done", "failed", "aws-marketplace:Subscribe", "1 done, 1 failed"} {
		if !strings.Contains(text, want) {
			t.Errorf("table: no %q in\n%s", want, text)
		}
	}
}

func TestFixCannotRun(t *testing.T) {
	useFixSimulator(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no remediation section", []string{"--config", writeConfig(t, `accounts: {static: ["111111111111"]}`+fixBase)}, "no remediation section"},
		{"no config", nil, "fix needs --config"},
		{"form file missing", []string{"--config", writeConfig(t, `accounts: {static: ["111111111111"]}`+fixBase+"remediation: {use_case_form: {file: /nonexistent/form.json, accounts: [\"999999999999\"]}}\n")}, "remediation.use_case_form.file"},
		{"bad output", []string{"--config", "x", "--output", "csv"}, "want one of table, json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), append([]string{"fix"}, tt.args...), &stdout, &stderr); code != fixError {
				t.Errorf("exit code: got %d; want %d", code, fixError)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr: got %q; want it to contain %q", &stderr, tt.want)
			}
		})
	}
}

func TestFixRecordsActions(t *testing.T) {
	useFixSimulator(t)
	ddb := testenv.DynamoDB(t)
	snsServer := testenv.SNS(t, localenv.Topic{Name: "alerts", Subscriptions: []localenv.Subscription{{Queue: "inbox"}}})
	if err := history.CreateTable(context.Background(), dynamodb.NewFromConfig(testenv.AWSConfig(t, ddb.Endpoint)), "gw-fix"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", ddb.Endpoint)
	t.Setenv("AWS_ENDPOINT_URL_SNS", snsServer.Endpoint)
	cfg := writeConfig(t, `accounts: {static: ["111111111111", "222222222222"]}`+fixBase+`
history: {table: gw-fix}
notify: {topic_arn: "`+snsServer.TopicARN("alerts")+`"}
remediation:
  agreements: {models: [cohere.command-r-plus-v1:0], regions: [us-east-1]}
`)
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"fix", "--config", cfg}, &stdout, &stderr); code != fixOK {
		t.Fatalf("dry run: exit %d: %s", code, &stderr)
	}
	if msgs, _ := snsServer.Receive(context.Background(), "inbox"); len(msgs) != 0 {
		t.Errorf("dry run: got %d messages; want none", len(msgs))
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"fix", "--config", cfg, "--apply"}, &stdout, &stderr); code != fixFailed {
		t.Fatalf("apply: exit %d; want %d: %s", code, fixFailed, &stderr)
	}
	if want := "history: 2 remediation actions stored in table gw-fix"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr: got %q; want %q", &stderr, want)
	}
	msgs, err := snsServer.Receive(context.Background(), "inbox")
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, m := range msgs {
		subjects = append(subjects, m.Subject)
	}
	slices.Sort(subjects)
	want := []string{"[grantwatch] account 111111111111: remediation, 1 done, 0 failed", "[grantwatch] account 222222222222: remediation, 0 done, 1 failed"}
	if !slices.Equal(subjects, want) {
		t.Errorf("messages: got %q; want %q", subjects, want)
	}
	for account, status := range map[string]string{"111111111111": "REMEDIATION_DONE", "222222222222": "REMEDIATION_FAILED"} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), []string{"history", "--table", "gw-fix", "--account", account, "--output", "json"}, &out, &errOut); code != exitUsable {
			t.Fatalf("history: exit %d: %s", code, &errOut)
		}
		for _, w := range []string{`"status": "` + status + `"`, `"previous": "AGREEMENT_MISSING"`, "CreateFoundationModelAgreement (offer", "assumed-role/GrantwatchRemediate/grantwatch-run-"} {
			if !strings.Contains(out.String(), w) {
				t.Errorf("history of %s lacks %q:\n%s", account, w, &out)
			}
		}
	}
}
