package main

// These tests run the function's real binary under the AWS Lambda runtime
// interface emulator, against the AWS simulator, dynalite and goaws.

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
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
)

// world is what the function meets: the organization, its table and its topic.
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
	sim := testenv.Simulator(t, "testdata/org.yaml", nil)
	w := &world{sim: sim, ddb: testenv.DynamoDB(t),
		sns: testenv.SNS(t, localenv.Topic{Name: "alerts", Subscriptions: []localenv.Subscription{{Queue: "inbox"}}})}
	client := dynamodb.NewFromConfig(testenv.AWSConfig(t, w.ddb.Endpoint))
	if err := history.CreateTable(ctx, client, table); err != nil {
		t.Fatal(err)
	}
	w.store = history.New(client, table, 24*time.Hour)
	// The environment the stack gives the function, with the endpoints of
	// the local stand-ins in the SDK's own settings.
	w.env = append([]string{
		config.EnvConfig + "=" + abs(t, "testdata/grantwatch.yaml"),
		config.EnvTable + "=" + table,
		config.EnvTopic + "=" + w.sns.TopicARN("alerts"),
	}, testenv.AuditorEnv(sim, w.ddb.Endpoint, w.sns.Endpoint)...)
	return w
}

// eventTime is the time of the events below: within the window the
// function accepts around now, whatever day the tests run.
var eventTime = time.Now().UTC().Truncate(time.Hour)

// ruleEvent is what an EventBridge rule delivers.
var ruleEvent = `{"version":"0","id":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa","detail-type":"Scheduled Event","source":"aws.events",
"account":"999999999999","time":"` + eventTime.Format(time.RFC3339) + `","region":"us-east-1",
"resources":["arn:aws:events:us-east-1:999999999999:rule/grantwatch-schedule"],"detail":{}}`

// runID is the run the events above start.
var runID = "run-" + eventTime.Format("20060102T150405Z")

// waitForOutput waits for the function to print want: the emulator relays
// the function's output asynchronously, after the invocation's answer.
func waitForOutput(fn *testenv.Function, want string) bool {
	for range 100 {
		if strings.Contains(fn.Output(), want) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// invokeRun invokes the function with the rule's event and decodes its result,
// which must carry a summary; what names the invocation in a failure.
func invokeRun(t *testing.T, ctx context.Context, fn *testenv.Function, what string) Result {
	t.Helper()
	body, err := fn.Invoke(ctx, ruleEvent)
	if err != nil {
		t.Fatalf("%s: %v\nfunction output: %s", what, err, fn.Output())
	}
	var res Result
	if err := json.Unmarshal(body, &res); err != nil || res.Summary == nil {
		t.Fatalf("%s: %s (%v)\nfunction output: %s", what, body, err, fn.Output())
	}
	return res
}

func TestAuditorFunction(t *testing.T) {
	w := newWorld(t)
	fn := testenv.Lambda(t, ".", w.env)
	ctx := context.Background()

	res := invokeRun(t, ctx, fn, "result")
	// 3 accounts x 2 regions x 2 models; one message for each of the two
	// accounts with a problem, and the run's digest.
	if res.RunID != runID || res.Claim != history.Started || res.Summary.Checked != 12 || res.Published != 3 {
		t.Errorf("result: got run %s claim %s checked %d published %d; want %s, started, 12, 3", res.RunID, res.Claim, res.Summary.Checked, res.Published, runID)
	}
	if !waitForOutput(fn, `"_aws":{"CloudWatchMetrics"`) {
		t.Errorf("function output has no embedded metrics: %s", fn.Output())
	}

	run, err := w.store.GetRun(ctx, res.RunID)
	if err != nil || run == nil || run.State != history.Complete {
		t.Fatalf("stored run: got %+v, %v; want COMPLETE", run, err)
	}
	entries, _, err := w.store.History(ctx, history.Query{Account: "222222222222", Limit: 100})
	if err != nil || len(entries) != 4 {
		t.Errorf("history of 222222222222: got %d entries, %v; want its 4 first checks", len(entries), err)
	}
	msgs, err := w.sns.Receive(ctx, "inbox")
	if err != nil || len(msgs) != 3 {
		t.Errorf("alerts in the queue: got %d, %v; want 3", len(msgs), err)
	}

	// The same event again: nothing audited, nothing sent.
	calls := w.sim.TotalCalls()
	body, err := fn.Invoke(ctx, ruleEvent)
	if err != nil {
		t.Fatal(err)
	}
	res = Result{}
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
	if _, err := fn.Invoke(ctx, `{"scheduled_time":"`+eventTime.Add(time.Hour).Format(time.RFC3339)+`"}`); err != nil {
		t.Errorf("invocation after a malformed event: %v", err)
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
regions: [us-east-1, us-west-2]
models: {required: [anthropic.claude-3-5-sonnet-20240620-v1:0, amazon.nova-pro-v1:0]}
role: {name: GrantwatchAudit, external_id: grantwatch-fn}
limits: {concurrency: 4, per_account_region: 1}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(slices.Clone(w.env), config.EnvConfig+"="+configPath, "AWS_LAMBDA_FUNCTION_TIMEOUT=8")
	fn := testenv.Lambda(t, ".", env)

	// An invocation that outlived its timeout would get the emulator's
	// timeout error instead of the function's result.
	res := invokeRun(t, context.Background(), fn, "result")
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
	fn := testenv.Lambda(t, ".", env)
	start := time.Now()
	go func() { _, _ = fn.Invoke(ctx, ruleEvent) }()

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
	res := invokeRun(t, ctx, fn, "retry result")
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

// An invocation killed inside its lease (out of memory, a runtime exit)
// and retried at once, as Lambda may: the retry watches the run's
// heartbeats stop and takes the run over well before the lease runs out,
// instead of answering "busy" and leaving the run RUNNING for hours.
func TestRetryAtOnceTakesOverAKilledRun(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if err := w.sim.Update(func(sc *awssim.Scenario) {
		sc.Latency = awssim.Latency{Fixed: awssim.Duration(3 * time.Second)}
	}); err != nil {
		t.Fatal(err)
	}
	// A lease of 10 minutes: the retry must not wait for it. Heartbeats
	// every 200 ms: the retry takes over after 1.2 s of silence, not 30 s.
	env := append(slices.Clone(w.env), "AWS_LAMBDA_FUNCTION_TIMEOUT=600", config.EnvHeartbeat+"=200ms")
	fn := testenv.Lambda(t, ".", env)
	go func() { _, _ = fn.Invoke(ctx, ruleEvent) }()

	// Kill the function once it holds the run and has heartbeated.
	var run *history.Run
	for range 400 {
		if r, err := w.store.GetRun(ctx, runID); err == nil && r != nil && r.Beats() >= 2 {
			run = r
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if run == nil || run.State != history.Running {
		t.Fatalf("first attempt: got run %+v; want it RUNNING and heartbeating\nfunction output: %s", run, fn.Output())
	}
	fn.Stop()

	if err := w.sim.Update(func(sc *awssim.Scenario) { sc.Latency = awssim.Latency{} }); err != nil {
		t.Fatal(err)
	}
	if err := fn.Start(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res := invokeRun(t, ctx, fn, "retry result")
	if res.Claim != history.Resumed || res.State != string(history.Complete) || res.Summary.Checked != res.Summary.Planned {
		t.Errorf("retry: got claim %s state %s, %d of %d checked; want resumed, COMPLETE, every check",
			res.Claim, res.State, res.Summary.Checked, res.Summary.Planned)
	}
	took := time.Since(start)
	t.Logf("the retry took %s", took.Round(time.Second))
	if took > time.Minute {
		t.Errorf("retry took %s; want it to take the run over once the heartbeats stop, long before the lease ends", took)
	}
	stored, err := w.store.GetRun(ctx, runID)
	if err != nil || stored.State != history.Complete || stored.Attempts != 2 {
		t.Errorf("stored run: got %+v, %v; want COMPLETE after 2 attempts", stored, err)
	}
	msgs, err := w.sns.Receive(ctx, "inbox")
	if err != nil || len(msgs) != res.Published || res.Published == 0 {
		t.Errorf("messages: got %d (%v); want the %d the retry published, each once", len(msgs), err, res.Published)
	}
}

func abs(t *testing.T, path string) string {
	t.Helper()
	p, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
