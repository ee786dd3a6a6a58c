// Package functions_test runs the real function binaries under the AWS Lambda
// runtime interface emulator, against the AWS simulator, dynalite and goaws.
package functions_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/grantwatch/grantwatch/pkg/auditor"
	"github.com/grantwatch/grantwatch/pkg/awssim"
	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/historyapi"
	"github.com/grantwatch/grantwatch/pkg/localenv"
)

// binaries holds the functions built once for this test binary, by name.
var binaries = map[string]string{}

// TestMain builds every function once, as the stack does, for this machine's
// architecture.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "grantwatch-functions")
	if err != nil {
		panic(err)
	}
	for _, name := range []string{"auditor", "history"} {
		out := filepath.Join(dir, name, "bootstrap")
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", out, "./"+name)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			os.Stderr.Write(b)
			os.RemoveAll(dir)
			os.Exit(1)
		}
		binaries[name] = out
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type world struct {
	sim   *awssim.Server
	ddb   *localenv.Server
	sns   *localenv.SNS
	store *history.Store
	env   []string
}

const table = "grantwatch-rie"

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	if err := localenv.Installed(); err != nil && os.Getenv("GRANTWATCH_REQUIRE_LOCAL") != "1" {
		t.Skip(err)
	}
	sim := localenv.DemoSimulator(t, nil)
	simURL := sim.URL()
	w := &world{sim: sim, ddb: localenv.DynamoDBForTest(t),
		sns: localenv.SNSForTest(t, localenv.Topic{Name: "alerts", Subscriptions: []localenv.Subscription{{Queue: "inbox"}}})}
	ddbCfg, err := localenv.AWSConfig(ctx, w.ddb.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	client := dynamodb.NewFromConfig(ddbCfg)
	if err := history.CreateTable(ctx, client, table); err != nil {
		t.Fatal(err)
	}
	w.store = history.New(client, table, 24*time.Hour)

	configPath := filepath.Join(t.TempDir(), "grantwatch.yaml")
	cfg, err := os.ReadFile("../pkg/demo/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(configPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	// The environment the stack gives the function, with the endpoints of
	// the local stand-ins in the SDK's own settings.
	w.env = []string{
		auditor.EnvConfig + "=" + configPath,
		auditor.EnvTable + "=" + table,
		auditor.EnvTopic + "=" + w.sns.TopicARN("alerts"),
		"AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=" + sim.Auditor().AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + sim.Auditor().SecretAccessKey,
		"AWS_ENDPOINT_URL=" + simURL,
		"AWS_ENDPOINT_URL_DYNAMODB=" + w.ddb.Endpoint,
		"AWS_ENDPOINT_URL_SNS=" + w.sns.Endpoint,
		"AWS_LAMBDA_LOG_FORMAT=JSON",
		"AWS_EC2_METADATA_DISABLED=true",
	}
	return w
}

// scheduledAt is the time of the events below: within the window the
// function accepts around now, whatever day the tests run.
var scheduledAt = time.Now().UTC().Truncate(time.Hour)

// scheduledEvent is what an EventBridge rule delivers.
var scheduledEvent = `{"version":"0","id":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa","detail-type":"Scheduled Event","source":"aws.events",
"account":"999999999999","time":"` + scheduledAt.Format(time.RFC3339) + `","region":"us-east-1",
"resources":["arn:aws:events:us-east-1:999999999999:rule/grantwatch-schedule"],"detail":{}}`

// runID is the run the events above start.
var runID = "run-" + scheduledAt.Format("20060102T150405Z")

// waitForOutput waits for the function to print want: the emulator relays
// the function's output asynchronously, after the invocation's answer.
func waitForOutput(fn *localenv.Server, want string) bool {
	for range 100 {
		if strings.Contains(fn.Output(), want) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func TestAuditorFunction(t *testing.T) {
	w := newWorld(t)
	fn := localenv.LambdaForTest(t, binaries["auditor"], w.env)
	ctx := context.Background()

	body, err := fn.Invoke(ctx, scheduledEvent)
	if err != nil {
		t.Fatalf("%v\nfunction output: %s", err, fn.Output())
	}
	var res auditor.Result
	if err := json.Unmarshal(body, &res); err != nil || res.Summary == nil {
		t.Fatalf("result: %s (%v)\nfunction output: %s", body, err, fn.Output())
	}
	if res.RunID != runID || res.Claim != history.Started || res.Summary.Checked != 42 || res.Published != 5 {
		t.Errorf("result: got run %s claim %s checked %d published %d; want %s, started, 42, 5", res.RunID, res.Claim, res.Summary.Checked, res.Published, runID)
	}
	if !waitForOutput(fn, `"_aws":{"CloudWatchMetrics"`) {
		t.Errorf("function output has no embedded metrics: %s", fn.Output())
	}

	run, err := w.store.GetRun(ctx, res.RunID)
	if err != nil || run == nil || run.State != history.Complete {
		t.Fatalf("stored run: got %+v, %v; want COMPLETE", run, err)
	}
	entries, _, err := w.store.History(ctx, history.Query{Account: "333333333333", Limit: 100})
	if err != nil || len(entries) != 15 {
		t.Errorf("history of 333333333333: got %d entries, %v; want 15", len(entries), err)
	}
	msgs, err := w.sns.Receive(ctx, "inbox")
	if err != nil || len(msgs) != 5 {
		t.Errorf("alerts in the queue: got %d, %v; want 5", len(msgs), err)
	}

	// The same event again: nothing audited, nothing sent.
	calls := w.sim.TotalCalls()
	body, err = fn.Invoke(ctx, scheduledEvent)
	if err != nil {
		t.Fatal(err)
	}
	res = auditor.Result{}
	if err := json.Unmarshal(body, &res); err != nil || res.Claim != history.Done || res.Published != 0 {
		t.Errorf("second delivery: got %s; want claim done, nothing published", body)
	}
	if got := w.sim.TotalCalls() - calls; got != 0 {
		t.Errorf("second delivery made %d AWS calls; want 0", got)
	}
	if msgs, _ := w.sns.Receive(ctx, "inbox"); len(msgs) != 0 {
		t.Errorf("second delivery sent %d messages; want 0", len(msgs))
	}

	// A malformed event is a clear error in the result, and the function lives on.
	body, _ = fn.Invoke(ctx, `{"detail-type": "Scheduled Event", "source": "aws.events", "time": "soon"}`)
	if !strings.Contains(string(body), `"errorMessage":"event: \"time\" \"soon\" is not an RFC 3339 time"`) {
		t.Errorf("malformed event: got %s; want the error in the result", body)
	}
	if _, err := fn.Invoke(ctx, `{"scheduled_time":"`+scheduledAt.Add(time.Hour).Format(time.RFC3339)+`"}`); err != nil {
		t.Errorf("invocation after a malformed event: %v", err)
	}
}

func TestHistoryFunction(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	audit := localenv.LambdaForTest(t, binaries["auditor"], w.env)
	if _, err := audit.Invoke(ctx, scheduledEvent); err != nil {
		t.Fatal(err)
	}
	env := append(w.env, historyapi.EnvReaders+"=arn:aws:iam::999999999999:role/GovernanceReader")
	fn := localenv.LambdaForTest(t, binaries["history"], env)

	tests := []struct {
		name       string
		caller     string
		account    string
		wantStatus int
		wantBody   string
	}{
		{"owner reads own history", "arn:aws:sts::333333333333:assumed-role/Developer/alice", "333333333333", 200, `"status":"NOT_AUTHORIZED"`},
		{"another account is refused", "arn:aws:sts::222222222222:assumed-role/Developer/mallory", "333333333333", 403, "may read only account 222222222222"},
		{"governance reader reads any", "arn:aws:sts::999999999999:assumed-role/GovernanceReader/gov", "333333333333", 200, `"account":"333333333333"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := events.LambdaFunctionURLRequest{Version: "2.0", RawPath: "/history", RawQueryString: "account=" + tt.account,
				QueryStringParameters: map[string]string{"account": tt.account}}
			req.RequestContext.HTTP.Method, req.RequestContext.HTTP.Path = "GET", "/history"
			callerAccount := strings.Split(tt.caller, ":")[4]
			req.RequestContext.AccountID = callerAccount
			req.RequestContext.Authorizer = &events.LambdaFunctionURLRequestContextAuthorizerDescription{
				IAM: &events.LambdaFunctionURLRequestContextAuthorizerIAMDescription{AccountID: callerAccount, UserARN: tt.caller, AccessKey: "ASIAEXAMPLE"},
			}
			payload, _ := json.Marshal(req)
			body, err := fn.Invoke(ctx, string(payload))
			if err != nil {
				t.Fatalf("%v\nfunction output: %s", err, fn.Output())
			}
			var resp events.LambdaFunctionURLResponse
			if err := json.Unmarshal(body, &resp); err != nil {
				t.Fatalf("response %s: %v", body, err)
			}
			if resp.StatusCode != tt.wantStatus || !strings.Contains(resp.Body, tt.wantBody) {
				t.Errorf("got %d %s; want %d containing %q", resp.StatusCode, resp.Body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func TestAuditorStopsBeforeTheLambdaDeadline(t *testing.T) {
	w := newWorld(t)
	// Every AWS call takes 1.5 s; the function has 8 s, of which the audit
	// gets 3 (the rest is kept for storing and alerting): not enough.
	if err := w.sim.Update(func(sc *awssim.Scenario) {
		sc.Latency = awssim.Latency{Fixed: awssim.Duration(1500 * time.Millisecond)}
	}); err != nil {
		t.Fatal(err)
	}
	configPath := filepath.Join(t.TempDir(), "grantwatch.yaml")
	if err := os.WriteFile(configPath, []byte(`accounts: {static: ["111111111111", "222222222222", "333333333333"]}
regions: [us-east-1, us-west-2, eu-central-1]
models: {required: [anthropic.claude-3-5-sonnet-20240620-v1:0, amazon.nova-pro-v1:0]}
role: {name: GrantwatchAudit, external_id: grantwatch-demo}
limits: {concurrency: 4, per_account_region: 1}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(slices.Clone(w.env), auditor.EnvConfig+"="+configPath, "AWS_LAMBDA_FUNCTION_TIMEOUT=8")
	fn := localenv.LambdaForTest(t, binaries["auditor"], env)

	start := time.Now()
	body, err := fn.Invoke(context.Background(), scheduledEvent)
	if err != nil {
		t.Fatalf("%v\nfunction output: %s", err, fn.Output())
	}
	if elapsed := time.Since(start); elapsed >= 8*time.Second {
		t.Errorf("the invocation took %v; want it to end before the 8 s timeout", elapsed)
	}
	var res auditor.Result
	if err := json.Unmarshal(body, &res); err != nil || res.Summary == nil {
		t.Fatalf("result: %s (%v)", body, err)
	}
	if !res.Summary.Incomplete || res.Summary.Checked >= res.Summary.Planned {
		t.Errorf("summary: got incomplete=%v, %d of %d checked; want an incomplete run", res.Summary.Incomplete, res.Summary.Checked, res.Summary.Planned)
	}
	run, err := w.store.GetRun(context.Background(), res.RunID)
	if err != nil || run == nil || run.State != history.Incomplete {
		t.Errorf("stored run: got %+v, %v; want INCOMPLETE", run, err)
	}
	if !waitForOutput(fn, `"RunsIncomplete":1`) {
		t.Errorf("no RunsIncomplete metric in the function output: %s", fn.Output())
	}
}

// Lambda retries an invocation that crashed or timed out with the same
// event, after that invocation's deadline. The retry resumes the same run,
// finishes it, and every alert goes out once.
func TestAsyncRetryResumesAKilledRun(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if err := w.sim.Update(func(sc *awssim.Scenario) {
		sc.Latency = awssim.Latency{Fixed: awssim.Duration(300 * time.Millisecond)}
	}); err != nil {
		t.Fatal(err)
	}
	const timeout = 3 * time.Second
	env := append(slices.Clone(w.env), "AWS_LAMBDA_FUNCTION_TIMEOUT=3")
	fn := localenv.LambdaForTest(t, binaries["auditor"], env)
	start := time.Now()
	go func() { _, _ = fn.Invoke(ctx, scheduledEvent) }()

	// Kill the function part way through the audit, once it holds the run.
	var run *history.Run
	for range 200 {
		if r, err := w.store.GetRun(ctx, runID); err == nil && r != nil {
			run = r
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if run == nil || run.State != history.Running {
		t.Fatalf("first attempt: got run %+v; want it RUNNING", run)
	}
	fn.Stop()

	// Lambda's retry arrives after the dead invocation's deadline, when its
	// lease (the deadline plus 10 s of slack for clocks) has run out.
	time.Sleep(time.Until(start.Add(timeout + 11*time.Second)))
	if err := w.sim.Update(func(sc *awssim.Scenario) { sc.Latency = awssim.Latency{} }); err != nil {
		t.Fatal(err)
	}
	if err := fn.Start(ctx); err != nil {
		t.Fatal(err)
	}
	body, err := fn.Invoke(ctx, scheduledEvent)
	if err != nil {
		t.Fatalf("%v\nfunction output: %s", err, fn.Output())
	}
	var res auditor.Result
	if err := json.Unmarshal(body, &res); err != nil || res.Summary == nil {
		t.Fatalf("retry result: %s (%v)\nfunction output: %s", body, err, fn.Output())
	}
	if res.RunID != runID || res.Claim != history.Resumed || res.State != string(history.Complete) || res.Summary.Checked != res.Summary.Planned {
		t.Errorf("retry: got run %s claim %s state %s, %d of %d checked; want %s resumed, COMPLETE, every check",
			res.RunID, res.Claim, res.State, res.Summary.Checked, res.Summary.Planned, runID)
	}
	stored, err := w.store.GetRun(ctx, runID)
	if err != nil || stored.State != history.Complete || stored.Attempts != 2 {
		t.Errorf("stored run: got %+v, %v; want COMPLETE after 2 attempts", stored, err)
	}
	msgs, err := w.sns.Receive(ctx, "inbox")
	if err != nil || len(msgs) != res.Published || res.Published == 0 {
		t.Errorf("messages: got %d (%v); want the %d the retry published, each once", len(msgs), err, res.Published)
	}
	seen := map[string]bool{}
	for _, m := range msgs {
		if seen[m.Subject] {
			t.Errorf("message sent twice: %s", m.Subject)
		}
		seen[m.Subject] = true
	}
}
