package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/devtools/awssim"
	"github.com/grantwatch/grantwatch/pkg/devtools/localenv"
	"github.com/grantwatch/grantwatch/pkg/devtools/testenv"
	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/result"
)

// useSimulator starts the tests' organization and points the standard SDK
// settings at it, as a user would with `grantwatch sim`.
func useSimulator(t *testing.T) *awssim.Server {
	t.Helper()
	return useScenario(t, "testdata/org.yaml")
}

// useScenario is useSimulator with another scenario file.
func useScenario(t *testing.T, scenario string) *awssim.Server {
	t.Helper()
	sim := testenv.Simulator(t, scenario, nil)
	dir := t.TempDir()
	t.Setenv("AWS_ENDPOINT_URL", sim.URL())
	t.Setenv("AWS_ACCESS_KEY_ID", sim.Auditor().AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", sim.Auditor().SecretAccessKey)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_PROFILE", "")
	return sim
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "grantwatch.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const roleAndLimits = `
role: {name: GrantwatchAudit, external_id: grantwatch-cli}
limits: {max_attempts: 2, max_backoff: 10ms}
`

func TestRunExitCodes(t *testing.T) {
	sim := useSimulator(t)
	tests := []struct {
		name     string
		config   string
		wantCode int
		wantOut  string
	}{
		{"every model usable", `accounts: {static: ["111111111111"]}
regions: [us-east-1]
models: {required: [amazon.nova-pro-v1:0]}` + roleAndLimits, exitUsable, "ENABLED=1"},
		{"a model not usable", `accounts: {static: ["333333333333"]}
regions: [us-east-1]
models: {required: [amazon.nova-pro-v1:0, meta.llama3-1-70b-instruct-v1:0]}` + roleAndLimits, exitNotUsable, "NOT_ENTITLED=1"},
		{"a status configured info is reported, not failed on", `accounts: {static: ["333333333333"]}
regions: [us-east-1]
models: {required: [amazon.nova-pro-v1:0, meta.llama3-1-70b-instruct-v1:0]}
alerts: {severity: {NOT_ENTITLED: info}}` + roleAndLimits, exitUsable, "NOT_ENTITLED=1"},
		{"nor one configured ignore", `accounts: {static: ["333333333333"]}
regions: [us-east-1]
models: {required: [meta.llama3-1-70b-instruct-v1:0]}
alerts: {severity: {NOT_ENTITLED: ignore}}` + roleAndLimits, exitUsable, "NOT_ENTITLED=1"},
		{"audit error outranks findings", `accounts: {static: ["333333333333", "444444444444"]}
regions: [us-east-1]
models: {required: [meta.llama3-1-70b-instruct-v1:0]}` + roleAndLimits, exitError, "AUDIT_ERROR=1"},
		{"discovery through Organizations", `accounts: {organizations: {enabled: true, ous: [ou-cli0-prod0001]}}
regions: [us-west-2]
models: {required: [amazon.nova-pro-v1:0]}` + roleAndLimits, exitUsable, "2 accounts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"run", "--config", writeConfig(t, tt.config)}, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit code: got %d; want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, &stdout, &stderr)
			}
			if !strings.Contains(stdout.String(), tt.wantOut) {
				t.Errorf("stdout: got\n%s\nwant it to contain %q", &stdout, tt.wantOut)
			}
		})
	}
	if sim.Calls(awssim.OpAssumeRole) == 0 {
		t.Error("the simulator saw no AssumeRole: AWS_ENDPOINT_URL was not used")
	}
}

func TestRunRejectsBadUsage(t *testing.T) {
	useSimulator(t)
	good := writeConfig(t, "accounts: {static: [\"111111111111\"]}\nregions: [us-east-1]\nmodels: {required: [m]}\n")
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no command", nil, "Usage:"},
		{"unknown command", []string{"audit"}, `unknown command "audit"`},
		{"missing config", []string{"run"}, "run needs --config FILE"},
		{"unreadable config", []string{"run", "--config", "/nonexistent.yaml"}, "read config"},
		{"invalid config", []string{"run", "--config", writeConfig(t, "regions: [mars-1]\n")}, `regions[0]: unknown region "mars-1"`},
		{"bad output", []string{"run", "--config", good, "--output", "xml"}, `invalid value "xml" for flag -output: want one of table, json`},
		{"history output it cannot write", []string{"history", "--table", "t", "--account", "111111111111", "--output", "markdown"}, `invalid value "markdown" for flag -output: want one of table, json, csv, html`},
		{"bad flag", []string{"demo", "--verbose"}, "flag provided but not defined: -verbose"},
		{"stray argument", []string{"demo", "extra"}, `unexpected argument "extra"`},
		{"bad log level", []string{"run", "--config", good, "--log-level", "loud"}, `--log-level "loud"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), tt.args, &stdout, &stderr); code != exitError {
				t.Errorf("exit code: got %d; want %d", code, exitError)
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr: got %q; want it to contain %q", &stderr, tt.wantErr)
			}
		})
	}
}

// demoShowsEachClassification: the demo is every status's end-to-end test
// (the simulator's wire answer, the real SDK client, the classification),
// so each status must come out of its own classification in it: a result
// decided at its own level (the account's for an account status, a
// principal's for a principal status) with a cause and a remediation, the
// remediation its own (its text, but for the names of the check, shared
// with no other status: a new status that falls into another's branch, or
// reuses its text, fails here), and a
// principal result that carries its account's status carries the
// account's remediation for the same check.
func demoShowsEachClassification(t *testing.T, results []result.Result) {
	t.Helper()
	type check struct{ account, region, model string }
	own := map[result.Status][]result.Result{}
	accountResult := map[check]result.Result{}
	for _, r := range results {
		if r.Principal == "" {
			accountResult[check{r.Account, r.Region, r.Model}] = r
		}
		if (r.Principal != "") == slices.Contains(result.PrincipalStatuses, r.Status) {
			own[r.Status] = append(own[r.Status], r)
		}
	}
	// A remediation names the check's account, region, model and role:
	// compare what is left, the classification's own text.
	var names []string
	for _, r := range results {
		names = append(names, r.Model, r.Principal)
		if _, base, ok := strings.Cut(r.Model, "."); ok && !strings.HasPrefix(r.Model, "arn:") {
			names = append(names, base) // a system profile's model
		}
	}
	slices.SortFunc(names, func(a, b string) int { return len(b) - len(a) })
	numbers := regexp.MustCompile(`arn:[^\s"',;)]+|\b\d{12}\b|\b[a-z]{2}(-gov)?-[a-z]+-\d\b`)
	text := func(remediation string) string {
		remediation = numbers.ReplaceAllString(remediation, "X")
		for _, n := range names {
			if n != "" {
				remediation = strings.ReplaceAll(remediation, n, "X")
			}
		}
		return remediation
	}
	remediationOf := map[string]result.Status{}
	for _, s := range result.Statuses {
		if len(own[s]) == 0 {
			t.Errorf("status %s: no result classified at its own level (account or principal); want the demo to show its classification", s)
		}
		for _, r := range own[s] {
			if r.Cause == "" || r.Remediation == "" {
				t.Errorf("status %s: cause %q, remediation %q; want both from its classification", s, r.Cause, r.Remediation)
			}
			if other, ok := remediationOf[text(r.Remediation)]; ok && other != s {
				t.Errorf("statuses %s and %s: got the same remediation text %q; want each status's own", other, s, r.Remediation)
			}
			remediationOf[text(r.Remediation)] = s
		}
	}
	for _, r := range results {
		if r.Principal == "" || slices.Contains(result.PrincipalStatuses, r.Status) || r.Status == result.Enabled || r.Status == result.AuditError {
			continue
		}
		a, ok := accountResult[check{r.Account, r.Region, r.Model}]
		if !ok || a.Status != r.Status || a.Remediation != r.Remediation {
			t.Errorf("principal %s, %s %s %s: got %s with remediation %q; want the account's status and remediation (%s, %q)", r.Principal, r.Account, r.Region, r.Model, r.Status, r.Remediation, a.Status, a.Remediation)
		}
	}
}

func TestDemoShowsEveryStatus(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"demo", "--output", "json"}, &stdout, &stderr); code != exitUsable {
		t.Fatalf("exit code: got %d; want 0; stderr: %s", code, &stderr)
	}
	var rep struct {
		Run     result.Summary  `json:"run"`
		Results []result.Result `json:"results"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("demo JSON: %v", err)
	}
	for _, s := range result.Statuses {
		if rep.Run.Counts[s]+rep.Run.PrincipalCounts[s] == 0 {
			t.Errorf("status %s: got 0 results; want at least one", s)
		}
	}
	demoShowsEachClassification(t, rep.Results)
	for _, r := range rep.Results {
		if r.Account == "" || r.Region == "" || r.Model == "" || r.Cause == "" || r.Remediation == "" {
			t.Errorf("result with an empty field: %+v", r)
		}
		ref, err := config.ParseModel(r.Model)
		if err != nil {
			t.Errorf("result for %q: %v", r.Model, err)
		}
		if ref.IsProfile() && r.Status == result.Enabled && len(r.Destinations()) == 0 {
			t.Errorf("usable profile %s in %s: no destination_regions", r.Model, r.Region)
		}
	}
	principals := map[string]bool{}
	suppressed, expired := 0, 0
	for _, r := range rep.Results {
		principals[r.Principal] = true
		if r.SuppressedBy() != nil {
			suppressed++
		}
		if r.Account == "222222222222" && r.Status == result.AgreementFailed && r.Principal == "" {
			expired++
			if r.SuppressedBy() != nil {
				t.Errorf("the expired suppression still holds: %+v", r)
			}
		}
	}
	if suppressed == 0 || expired == 0 || rep.Run.Suppressed == 0 {
		t.Errorf("suppressions: got %d suppressed results (summary %d), %d under the expired one; want some of each", suppressed, rep.Run.Suppressed, expired)
	}
	if !principals["ChatApp"] || !principals["BatchJobs"] {
		t.Errorf("principals in the demo: got %v; want ChatApp and BatchJobs", principals)
	}
	for _, kind := range []config.ModelKind{config.BaseModel, config.SystemProfile, config.ApplicationProfile} {
		found := false
		for _, r := range rep.Results {
			if ref, _ := config.ParseModel(r.Model); ref.Kind == kind && r.Status == result.Enabled {
				found = true
			}
		}
		if !found {
			t.Errorf("no usable %s in the demo; want one of each kind", kind)
		}
	}
}

func TestSimServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, printed := io.Pipe()
	done := make(chan int, 1)
	go func() {
		code := run(ctx, []string{"sim", "--addr", "127.0.0.1:0"}, printed, io.Discard)
		printed.Close()
		done <- code
	}()

	// The command prints where it listens; while it runs, that address
	// answers AWS calls.
	lines := bufio.NewScanner(out)
	var endpoint string
	for endpoint == "" && lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "export AWS_ENDPOINT_URL="); ok {
			endpoint = strings.Fields(rest)[0]
		}
	}
	if endpoint == "" {
		t.Fatalf("sim printed no endpoint to export (exit %d)", <-done)
	}
	go io.Copy(io.Discard, out)
	resp, err := http.Post(endpoint, "application/x-www-form-urlencoded", strings.NewReader("Action=GetCallerIdentity&Version=2011-06-15"))
	if err != nil {
		t.Fatalf("the printed endpoint does not answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden { // unsigned, as STS refuses it
		t.Errorf("unsigned call: got status %d; want 403 from the simulator", resp.StatusCode)
	}
	select {
	case code := <-done:
		t.Fatalf("sim returned %d before it was cancelled", code)
	default:
	}

	cancel()
	if code := <-done; code != exitUsable {
		t.Errorf("exit code: got %d; want 0", code)
	}
	if _, err := http.Get(endpoint); err == nil {
		t.Error("the simulator still answers after the command returned")
	}
}

func TestRunStoresAndHistoryReads(t *testing.T) {
	useSimulator(t)
	ddb := testenv.DynamoDB(t)
	snsServer := testenv.SNS(t, localenv.Topic{Name: "alerts", Subscriptions: []localenv.Subscription{{Queue: "inbox"}}})
	cfg := testenv.AWSConfig(t, ddb.Endpoint)
	if err := history.CreateTable(context.Background(), dynamodb.NewFromConfig(cfg), "gw-cli"); err != nil {
		t.Fatal(err)
	}
	// Per-service endpoints, as a user would point each service at its stand-in.
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", ddb.Endpoint)
	t.Setenv("AWS_ENDPOINT_URL_SNS", snsServer.Endpoint)
	path := writeConfig(t, `accounts: {static: ["333333333333"]}
regions: [us-east-1]
models: {required: [amazon.nova-pro-v1:0, meta.llama3-1-70b-instruct-v1:0]}
history: {table: gw-cli}
notify: {topic_arn: "`+snsServer.TopicARN("alerts")+`"}`+roleAndLimits)

	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"run", "--config", path, "--output", "json"}, &stdout, &stderr); code != exitNotUsable {
		t.Fatalf("run: got exit %d; want %d\n%s", code, exitNotUsable, &stderr)
	}
	if !strings.Contains(stderr.String(), "history: 2 changes stored in table gw-cli; alerts: 1 found, 2 messages published") {
		t.Errorf("stderr: got %q; want the history and alert line", &stderr)
	}
	msgs, err := snsServer.Receive(context.Background(), "inbox")
	if err != nil || len(msgs) != 2 {
		t.Fatalf("inbox: got %d messages, %v; want the account's and the digest", len(msgs), err)
	}

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"changes as a table", []string{"--config", path, "--account", "333333333333"}, []string{"NOT_ENTITLED", "(first check)", "meta.llama3-1-70b-instruct-v1:0"}},
		{"one model as JSON", []string{"--table", "gw-cli", "--account", "333333333333", "--model", "amazon.nova-pro-v1:0", "--output", "json"}, []string{`"status": "ENABLED"`}},
		{"latest state: summary and problems", []string{"--table", "gw-cli", "--account", "333333333333", "--latest"}, []string{"latest state of account 333333333333", "account checks (", "NOT_ENTITLED  meta.llama3-1-70b-instruct-v1:0"}},
		{"latest state, every check", []string{"--table", "gw-cli", "--account", "333333333333", "--latest", "--all"}, []string{"SINCE", "ENABLED", "NOT_ENTITLED"}},
		{"nothing since tomorrow", []string{"--table", "gw-cli", "--account", "333333333333", "--since", time.Now().Add(48 * time.Hour).Format("2006-01-02")}, []string{"no history for this selection"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(context.Background(), append([]string{"history"}, tt.args...), &out, &errOut); code != exitUsable {
				t.Fatalf("history: got exit %d: %s", code, &errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, &out)
				}
			}
		})
	}
	bad := []struct {
		name string
		args []string
		want string
	}{
		{"no account", []string{"--table", "gw-cli"}, "history needs --account ID"},
		{"no table", []string{"--account", "333333333333"}, "history needs --table NAME"},
		{"bad since", []string{"--table", "gw-cli", "--account", "333333333333", "--since", "yesterday"}, `--since: "yesterday" is not a duration`},
		{"bad account", []string{"--table", "gw-cli", "--account", "33"}, `account "33" is not 12 digits`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(context.Background(), append([]string{"history"}, tt.args...), &out, &errOut); code != exitError {
				t.Errorf("exit: got %d; want %d", code, exitError)
			}
			if !strings.Contains(errOut.String(), tt.want) {
				t.Errorf("stderr: got %q; want %q", &errOut, tt.want)
			}
		})
	}
}

func TestDemoTellsTheStory(t *testing.T) {
	testenv.ToolsOnPath(t)
	t.Chdir(t.TempDir()) // as after `go install`, outside the checkout
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"demo"}, &stdout, &stderr); code != exitUsable {
		t.Fatalf("demo: got exit %d: %s", code, &stderr)
	}
	for _, want := range []string{
		"== Run 1 stored 104 history events",
		"-- Subject: [grantwatch] account 333333333333: 3 resolved",
		"-- Subject: [grantwatch] account 111111111111: 3 new",
		"== History of account 333333333333",
		// The default table: the summary, the problems grouped, the suppressed.
		"account checks (55): ENABLED=17 ",
		"principal results (49): ENABLED=10 ",
		"accounts with problems: 111111111111 (",
		"PROBLEMS: ",
		"LEGACY  amazon.titan-text-express-v1  (3 account checks)\n  333333333333 in eu-central-1, us-east-1, us-west-2\n",
		"SUPPRESSED (2, not alerted):\n  111111111111/us-east-1/ai21.jamba-1-5-large-v1:0 AGREEMENT_MISSING: Jamba",
		// grantwatch fix: the plan, no write in the dry run, the apply, the usable check.
		"anthropic.claude-sonnet-4-5-20250929-v1:0  CreateFoundationModelAgreement  planned",
		"The simulator received 0 write calls during the dry run.",
		"0 planned, 1 done, 0 failed",
		"111111111111 us-east-1 us.anthropic.claude-sonnet-4-5-20250929-v1:0: ENABLED",
		"-- Subject: [grantwatch] account 111111111111: remediation, 1 done, 0 failed",
		"REMEDIATION_DONE",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}

// Without the local stand-ins the demo still audits, says how to get them,
// and exits 0.
func TestDemoWithoutStandIns(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Chdir(t.TempDir())
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"demo"}, &stdout, &stderr); code != exitUsable {
		t.Fatalf("demo: got exit %d: %s", code, &stderr)
	}
	for _, want := range []string{"NOT_AUTHORIZED", "History and alerts are not shown", "make tools"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, &stdout)
		}
	}
}

// history --url signs with the caller's credentials (from the environment
// here) and prints the URL's entries like the table path does.
func TestHistoryURL(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAOWNER")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "owner-secret")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, err := awssim.VerifySignature(r, nil, "lambda", func(k string) (string, string, bool) { return "owner-secret", "", k == "AKIAOWNER" }); err != nil {
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"error":"bad signature"}`)
			return
		}
		paths = append(paths, r.URL.Path+"?"+r.URL.RawQuery)
		_, _ = io.WriteString(w, `{"account":"111111111111","entries":[{"at":"2026-11-26T08:00:00Z","run_id":"r","account":"111111111111","region":"us-east-1","model":"m","principal":"ChatApp","status":"SCP_DENIED","cause":"an SCP denies us-east-2"}]}`)
	}))
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"history", "--url", srv.URL, "--region", "us-east-1"}, &stdout, &stderr); code != exitUsable {
		t.Fatalf("exit %d: %s", code, &stderr)
	}
	for _, want := range []string{"PRINCIPAL", "ChatApp", "SCP_DENIED", "an SCP denies us-east-2"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, &stdout)
		}
	}
	if len(paths) != 1 || !strings.HasPrefix(paths[0], "/history?") || !strings.Contains(paths[0], "region=us-east-1") || strings.Contains(paths[0], "account=") {
		t.Errorf("requests: got %v; want one /history with the region and no account", paths)
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"history", "--url", srv.URL, "--table", "t"}, &stdout, &stderr); code != exitError || !strings.Contains(stderr.String(), "does not go with --table") {
		t.Errorf("--url with --table: exit %d, %s", code, &stderr)
	}
}

// demo --output asff writes what `aws securityhub batch-import-findings
// --cli-input-json` takes: every finding with the ASFF's required fields.
func TestDemoASFF(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"demo", "--output", "asff"}, &stdout, &stderr); code != exitUsable {
		t.Fatalf("exit %d: %s", code, &stderr)
	}
	var in struct{ Findings []map[string]any }
	if err := json.Unmarshal(stdout.Bytes(), &in); err != nil || len(in.Findings) == 0 {
		t.Fatalf("ASFF: %v (%d findings)", err, len(in.Findings))
	}
	suppressed := 0
	for _, f := range in.Findings {
		for _, field := range []string{"SchemaVersion", "Id", "ProductArn", "GeneratorId", "AwsAccountId", "Types", "CreatedAt", "UpdatedAt", "Severity", "Title", "Description", "Resources"} {
			if f[field] == nil {
				t.Errorf("finding %v lacks %s", f["Id"], field)
			}
		}
		if wf, _ := f["Workflow"].(map[string]any); wf["Status"] == "SUPPRESSED" {
			suppressed++
		}
	}
	if suppressed == 0 {
		t.Error("no finding shows the demo's suppression")
	}
}

// Every subcommand's --help, and the usage printed for bad usage, name every
// flag the subcommand registers and every --output value it accepts.
func TestHelpNamesEveryFlagAndFormat(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		command string
		// call runs the subcommand itself, to get the flag set it registers.
		call func(args []string) error
	}{
		{"run", func(args []string) error { _, err := runCmd(ctx, args, io.Discard, io.Discard); return err }},
		{"history", func(args []string) error { return historyCmd(ctx, args, io.Discard) }},
		{"demo", func(args []string) error { _, err := demoCmd(ctx, args, io.Discard, io.Discard); return err }},
		{"sim", func(args []string) error { return simCmd(ctx, args, io.Discard) }},
		{"fix", func(args []string) error { _, err := fixCmd(ctx, args, io.Discard, io.Discard); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.command, func(t *testing.T) {
			var help helpRequested
			if err := tt.call([]string{"--help"}); !errors.As(err, &help) {
				t.Fatalf("%s --help: got error %v; want a help request", tt.command, err)
			}
			var flags []string
			var outputs []string
			help.fs.VisitAll(func(f *flag.Flag) {
				flags = append(flags, f.Name)
				if ov, ok := f.Value.(*outputValue); ok {
					outputs = ov.accepted
				}
			})
			if len(flags) == 0 {
				t.Fatalf("%s: got no flags; want the flags it registers", tt.command)
			}
			if f := help.fs.Lookup("output"); f != nil && outputs == nil {
				t.Errorf("%s --output: got a %T; want an outputValue, which knows the accepted formats", tt.command, f.Value)
			}

			var stdout, stderr bytes.Buffer
			if code := run(ctx, []string{tt.command, "--help"}, &stdout, &stderr); code != exitUsable {
				t.Errorf("%s --help: exit code: got %d; want %d", tt.command, code, exitUsable)
			}
			if stderr.Len() > 0 {
				t.Errorf("%s --help: stderr: got %q; want nothing", tt.command, &stderr)
			}
			texts := map[string]string{
				tt.command + " --help": stdout.String(),
				"the usage":            synopsisOf(t, tt.command),
			}
			for where, text := range texts {
				for _, name := range flags {
					if !regexp.MustCompile(`--` + regexp.QuoteMeta(name) + `([^-\w]|$)`).MatchString(text) {
						t.Errorf("%s: flag --%s not named; got:\n%s", where, name, text)
					}
				}
				for _, format := range outputs {
					if !regexp.MustCompile(`\b` + regexp.QuoteMeta(format) + `\b`).MatchString(text) {
						t.Errorf("%s: --output %s not named; got:\n%s", where, format, text)
					}
				}
			}
		})
	}
}

// synopsisOf is the part of the top-level usage about one subcommand.
func synopsisOf(t *testing.T, command string) string {
	t.Helper()
	var text []string
	for _, s := range synopses {
		if s.command == command {
			text = append(text, s.text)
		}
	}
	if len(text) == 0 {
		t.Fatalf("usage: no synopsis of %s", command)
	}
	joined := strings.Join(text, "\n")
	if !strings.Contains(usage, joined) {
		t.Fatalf("usage: does not contain the synopsis of %s", command)
	}
	return joined
}

// run asks STS who it runs as once, for both Security Hub and the asff
// output (job.Build shares the answer).
func TestRunCallsGetCallerIdentityOnce(t *testing.T) {
	sim := useSimulator(t)
	ddb := testenv.DynamoDB(t)
	if err := history.CreateTable(context.Background(), dynamodb.NewFromConfig(testenv.AWSConfig(t, ddb.Endpoint)), "gw-sts"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", ddb.Endpoint)
	path := writeConfig(t, `accounts: {static: ["333333333333"]}
regions: [us-east-1]
models: {required: [meta.llama3-1-70b-instruct-v1:0]}
history: {table: gw-sts}
securityhub: {enabled: true}`+roleAndLimits)

	var stdout, stderr bytes.Buffer
	before := sim.Calls(awssim.OpGetCallerIdentity)
	if code := run(context.Background(), []string{"run", "--config", path, "--output", "asff"}, &stdout, &stderr); code == exitError {
		t.Fatalf("run: got exit %d\n%s", code, &stderr)
	}
	if got := sim.Calls(awssim.OpGetCallerIdentity) - before; got != 1 {
		t.Errorf("GetCallerIdentity calls: got %d; want 1", got)
	}
	if !strings.Contains(stdout.String(), `"AwsAccountId"`) {
		t.Errorf("asff output: got %q; want findings with the account", &stdout)
	}
}
