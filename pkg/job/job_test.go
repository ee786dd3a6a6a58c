package job

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dynamotypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/grantwatch/grantwatch/pkg/check"
	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/devtools/awssim"
	"github.com/grantwatch/grantwatch/pkg/devtools/localenv"
	"github.com/grantwatch/grantwatch/pkg/devtools/testenv"
	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/notify"
	"github.com/grantwatch/grantwatch/pkg/result"
	"github.com/grantwatch/grantwatch/pkg/targets"
)

var t0 = time.Date(2026, 11, 2, 6, 0, 0, 0, time.UTC)

const (
	claude35 = "anthropic.claude-3-5-sonnet-20240620-v1:0"
	topic    = "grantwatch-alerts"
)

// countingDynamo counts the write requests a run makes.
type countingDynamo struct {
	history.API
	writes atomic.Int64
	units  atomic.Int64
}

func (c *countingDynamo) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.writes.Add(1)
	c.units.Add(int64(itemUnits(in.Item)))
	return c.API.PutItem(ctx, in, o...)
}

func (c *countingDynamo) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.writes.Add(1)
	// The run record, under 1 KB (measured by the bench's scan), and its
	// copy in the gsi1 index, which projects every attribute.
	c.units.Add(2)
	return c.API.UpdateItem(ctx, in, o...)
}

func (c *countingDynamo) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	c.writes.Add(1)
	for _, reqs := range in.RequestItems {
		for _, r := range reqs {
			if r.PutRequest != nil {
				c.units.Add(int64(itemUnits(r.PutRequest.Item)))
			} else {
				c.units.Add(1)
			}
		}
	}
	return c.API.BatchWriteItem(ctx, in, o...)
}

// itemUnits is what writing an item costs in on-demand write units: one per
// started KB of its size, names and values as DynamoDB counts them, twice
// for a run record, which the gsi1 index copies whole. (Other items carry
// no index key, so they cost no index write.)
func itemUnits(item map[string]dynamotypes.AttributeValue) int {
	size := 0
	for name, v := range item {
		size += len(name) + attrSize(v)
	}
	units := (size + 1023) / 1024
	if _, indexed := item["gsi1pk"]; indexed {
		units *= 2
	}
	return units
}

type fixture struct {
	sim *awssim.Server
	sns *localenv.SNS
	// snsProxy stands between the notifier and goaws, to inject faults.
	snsProxy *testenv.Proxy
	ddb      *countingDynamo
	ddbLogs  func() string // dynalite's output, for a failure's message
	store    *history.Store
	job      *Job
}

func setup(t *testing.T) *fixture {
	t.Helper()
	return setupWith(t, nil)
}

// setupWith is setup with the scenario changed by edit first.
func setupWith(t *testing.T, edit func(*awssim.Scenario)) *fixture {
	t.Helper()
	ctx := context.Background()
	sim := testenv.Simulator(t, "testdata/org.yaml", edit)

	ddbServer := testenv.DynamoDB(t)
	snsServer := testenv.SNS(t, localenv.Topic{Name: topic, Subscriptions: []localenv.Subscription{
		{Queue: "all"},
		{Queue: "critical", FilterPolicy: `{"severity": ["critical"]}`},
		{Queue: "account-333", FilterPolicy: `{"account_id": ["333333333333"]}`},
	}})

	cfg, err := config.Load("testdata/grantwatch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.History.Table = "grantwatch"
	cfg.Notify.TopicARN = snsServer.TopicARN(topic)
	cfg.Limits.MaxBackoff = config.Duration(5 * time.Millisecond)

	simCfg, err := sim.ClientConfig(ctx, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	ddbCfg := testenv.AWSConfig(t, ddbServer.Endpoint)
	snsProxy := testenv.NewProxy(t, snsServer.Endpoint)
	snsCfg := testenv.AWSConfig(t, snsProxy.URL)
	snsCfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = 2; o.MaxBackoff = time.Millisecond })
	}
	ddbClient := dynamodb.NewFromConfig(ddbCfg)
	if err := history.CreateTable(ctx, ddbClient, cfg.History.Table); err != nil {
		t.Fatal(err)
	}
	f := &fixture{sim: sim, sns: snsServer, snsProxy: snsProxy, ddb: &countingDynamo{API: ddbClient}, ddbLogs: ddbServer.Output}
	f.store = history.New(f.ddb, cfg.History.Table, cfg.History.Retention.Std())
	notifier := notify.New(sns.NewFromConfig(snsCfg), cfg.Notify.TopicARN, cfg.Notify.ReminderInterval.Std(),
		notify.WithCallTimeout(300*time.Millisecond))
	f.job = New(cfg, targets.New(cfg, simCfg), check.New(cfg, simCfg), f.store, notifier)
	f.job.poll = 50 * time.Millisecond // Finish waiting for another invocation
	return f
}

func (f *fixture) run(t *testing.T, at time.Time) *Outcome {
	t.Helper()
	f.job.now = func() time.Time { return at }
	out, err := f.job.Run(context.Background(), at)
	if err != nil {
		t.Fatalf("run at %v: %v", at, err)
	}
	return out
}

func (f *fixture) receive(t *testing.T, queue string) []localenv.Notification {
	t.Helper()
	msgs, err := f.sns.Receive(context.Background(), queue)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// kinds lists the distinct alert kinds of an outcome, sorted.
func kinds(o *Outcome) string {
	var ks []string
	for _, a := range o.Alerts {
		if !slices.Contains(ks, string(a.Kind)) {
			ks = append(ks, string(a.Kind))
		}
	}
	slices.Sort(ks)
	return strings.Join(ks, ",")
}

func subjects(msgs []localenv.Notification) string {
	var s []string
	for _, m := range msgs {
		s = append(s, m.Subject)
	}
	return strings.Join(s, "\n")
}

func TestThreeRunsAlertOncePerChange(t *testing.T) {
	f := setup(t)

	// Run 1: every problem is new. The PENDING subscription is inside its grace period.
	out := f.run(t, t0)
	if out.Claim != history.Started || kinds(out) != "AUDIT_ERROR,NEW" {
		t.Fatalf("run 1: got claim %s, kinds %s; want started, AUDIT_ERROR,NEW", out.Claim, kinds(out))
	}
	all := f.receive(t, "all")
	if got, want := len(all), 5; got != want { // 4 accounts + digest
		t.Fatalf("run 1 messages: got %d; want %d:\n%s", got, want, subjects(all))
	}
	if got, want := len(f.receive(t, "critical")), 4; got != want { // 444 has audit errors only: warning
		t.Errorf("run 1 critical messages: got %d; want %d", got, want)
	}
	mine := f.receive(t, "account-333")
	if len(mine) != 1 || !strings.Contains(mine[0].Subject, "account 333333333333") {
		t.Fatalf("run 1 for account 333333333333: got %q; want its one message", subjects(mine))
	}
	checkMessage(t, mine[0])
	for _, m := range all {
		if strings.Contains(m.Message, "anthropic.claude-3-7-sonnet-20250219-v1:0 in us-west-2") {
			t.Errorf("run 1 alerted the PENDING subscription inside its grace period:\n%s", m.Message)
		}
	}

	// Between runs: 333 submits the Anthropic form, 111 loses a subscription.
	if err := f.sim.Update(func(sc *awssim.Scenario) {
		sc.UseCaseForms = append(sc.UseCaseForms, "333333333333")
		sc.Account("111111111111").SetState("us-east-1", claude35, awssim.ModelState{Agreement: "NOT_AVAILABLE"})
	}); err != nil {
		t.Fatal(err)
	}
	before := f.ddb.writes.Load()
	out = f.run(t, t0.Add(time.Hour))
	if got, want := kinds(out), "NEW,RESOLVED"; got != want {
		t.Errorf("run 2 kinds: got %s; want %s", got, want)
	}
	all = f.receive(t, "all")
	wantSubjects := []string{
		"[grantwatch] account 111111111111: 1 new",
		"[grantwatch] account 222222222222: 1 new", // PENDING past its grace period
		"[grantwatch] account 333333333333: 3 resolved",
		"[grantwatch] run run-20261102T070000Z: 5 changes in 3 accounts",
	}
	if got := subjects(all); got != strings.Join(wantSubjects, "\n") {
		t.Errorf("run 2 subjects:\ngot\n%s\nwant\n%s", got, strings.Join(wantSubjects, "\n"))
	}
	// Writes: claim + finish, 12 latest-state items and 4 events in one batch.
	accountRegions, changed := 12, out.Events
	if got, max := f.ddb.writes.Load()-before, int64(changed/25+accountRegions/25+2+1); got > max {
		t.Errorf("run 2 write requests: got %d; want at most %d", got, max)
	}

	// Run 3, eight days on: the form regresses, 111 is fixed, the rest is reminded.
	if err := f.sim.Update(func(sc *awssim.Scenario) {
		sc.UseCaseForms = slices.DeleteFunc(sc.UseCaseForms, func(id string) bool { return id == "333333333333" })
		sc.Account("111111111111").SetState("us-east-1", claude35, awssim.ModelState{})
	}); err != nil {
		t.Fatal(err)
	}
	run3 := t0.Add(8 * 24 * time.Hour)
	out = f.run(t, run3)
	if got, want := kinds(out), "REGRESSED,REMINDER,RESOLVED"; got != want {
		t.Errorf("run 3 kinds: got %s; want %s", got, want)
	}
	all = f.receive(t, "all")
	if got, want := len(all), 5; got != want {
		t.Errorf("run 3 messages: got %d; want %d:\n%s", got, want, subjects(all))
	}

	// The same schedule event delivered again: nothing audited, nothing sent.
	calls := f.sim.TotalCalls()
	out = f.run(t, run3)
	if out.Claim != history.Done || out.Report != nil || out.Stored.State != history.Complete {
		t.Errorf("duplicate delivery: got claim %s, report %v, state %s; want done, none, COMPLETE", out.Claim, out.Report != nil, out.Stored.State)
	}
	if got := f.sim.TotalCalls(); got != calls {
		t.Errorf("duplicate delivery made %d AWS calls; want 0", got-calls)
	}
	if got := f.receive(t, "all"); len(got) != 0 {
		t.Errorf("duplicate delivery sent %d messages; want 0", len(got))
	}

	// Account 333's history, newest first: regressed, resolved, first seen.
	entries, _, err := f.store.History(context.Background(), history.Query{Account: "333333333333", Region: "us-east-1", Model: claude35})
	if err != nil {
		t.Fatal(err)
	}
	var seq []string
	for _, e := range entries {
		seq = append(seq, string(e.Status))
	}
	if got, want := strings.Join(seq, " "), "NOT_AUTHORIZED ENABLED NOT_AUTHORIZED"; got != want {
		t.Errorf("history of 333333333333/us-east-1/claude: got %s; want %s", got, want)
	}
}

// checkMessage: subject under 100 characters, a body a person can act on, the
// JSON alongside, and the attributes subscriptions filter on.
func checkMessage(t *testing.T, m localenv.Notification) {
	t.Helper()
	if len(m.Subject) >= 100 {
		t.Errorf("subject has %d characters; want under 100", len(m.Subject))
	}
	for _, want := range []string{"NOT_AUTHORIZED: anthropic.claude-3-5-sonnet-20240620-v1:0 in eu-central-1; ", "Why: ", "What to do: Anthropic models need the first-time-use form", "--- structured data (JSON) ---", `"event_type": "NEW"`} {
		if !strings.Contains(m.Message, want) {
			t.Errorf("body lacks %q:\n%s", want, m.Message)
		}
	}
	attrs := map[string]string{}
	for k, v := range m.MessageAttributes {
		attrs[k] = v.Type + ":" + v.Value
	}
	want := map[string]string{
		"account_id": "String:333333333333", "severity": "String:critical",
		"event_type": `String.Array:["NEW"]`, "regions": `String.Array:["eu-central-1","us-east-1","us-west-2"]`,
	}
	for k, v := range want {
		if attrs[k] != v {
			t.Errorf("attribute %s: got %q; want %q", k, attrs[k], v)
		}
	}
}

func TestSNSOutageAlertsOnTheNextRun(t *testing.T) {
	f := setup(t)
	f.sns.Stop()
	out := f.run(t, t0)
	if out.NotifyError == "" || out.Published != 0 || len(out.Alerts) == 0 || out.Unpublished != len(out.Alerts) {
		t.Fatalf("run during the outage: got error %q, published %d, unpublished %d of %d alerts; want an error, 0 published, every alert counted unpublished",
			out.NotifyError, out.Published, out.Unpublished, len(out.Alerts))
	}
	stored, err := f.store.GetRun(context.Background(), out.RunID)
	if err != nil || stored.State != history.Complete || !strings.Contains(stored.Error, "publish") {
		t.Fatalf("stored run: got %+v, %v; want COMPLETE with the publish error", stored, err)
	}

	if err := f.sns.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	first := len(out.Alerts)
	out = f.run(t, t0.Add(10*time.Minute))
	if len(out.Alerts) != first || out.NotifyError != "" {
		t.Errorf("run after the outage: got %d alerts (error %q); want the %d unsent ones again", len(out.Alerts), out.NotifyError, first)
	}
	if got := len(f.receive(t, "all")); got != 5 {
		t.Errorf("messages after the outage: got %d; want 5", got)
	}

	out = f.run(t, t0.Add(20*time.Minute))
	if len(out.Alerts) != 0 {
		t.Errorf("run after delivery: got %d alerts (%s); want none", len(out.Alerts), kinds(out))
	}
}

func TestIncompleteRunKeepsUncheckedState(t *testing.T) {
	f := setup(t)
	f.run(t, t0)
	// The next run: us-west-2 answers slowly, one call at a time per account,
	// and the audit gets about half a second of the 5.5 s deadline (5 s are
	// kept for storing). 333333333333's five models there are cut off part
	// way, after the model list, the profile list (its typo is offered
	// nowhere) and the use-case form.
	if err := f.sim.Update(func(sc *awssim.Scenario) {
		sc.Latency = awssim.Latency{ByRegion: map[string]awssim.Latency{"us-west-2": {Fixed: awssim.Duration(100 * time.Millisecond)}}}
	}); err != nil {
		t.Fatal(err)
	}
	f.job.cfg.Limits.PerAccountRegion = 1
	f.job.saveBudget = func(int) time.Duration { return 5 * time.Second }
	ctx, cancel := context.WithTimeout(context.Background(), 5500*time.Millisecond)
	defer cancel()
	f.job.now = func() time.Time { return t0.Add(time.Hour) }
	out, err := f.job.Run(ctx, t0.Add(time.Hour))
	if err != nil || out.Report == nil || !out.Report.Summary.Incomplete {
		t.Fatalf("run cut by its deadline: got err %v, report %v; want an incomplete run that was stored", err, out.Report != nil)
	}
	checked := 0
	for _, r := range out.Report.Results {
		if r.Account == "333333333333" && r.Region == "us-west-2" {
			checked++
		}
	}
	if checked == 0 || checked == 5 {
		t.Fatalf("333333333333/us-west-2: %d of 5 models checked; want some, not all (adjust the latency)", checked)
	}
	snap, err := f.store.Latest(context.Background(), []history.AccountRegion{{Account: "333333333333", Region: "us-west-2"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(snap.States); got != 5 {
		t.Errorf("latest state of 333333333333/us-west-2: got %d models; want the 5 from run 1", got)
	}
	for k, st := range snap.States {
		if st.Status == "" || st.Status == result.AuditError && k.Account == "333333333333" {
			t.Errorf("%v: got status %q after an incomplete run", k, st.Status)
		}
	}
}

// brokenWrites refuses every batch write, as a table whose throughput or
// permissions are gone would.
type brokenWrites struct{ history.API }

func (brokenWrites) BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	return nil, errors.New("simulated: table unavailable")
}

func TestFailedHistoryWriteFailsTheRunLoudly(t *testing.T) {
	f := setup(t)
	f.run(t, t0)
	good := f.job.store
	f.job.store = history.New(brokenWrites{f.ddb}, good.Table(), time.Hour)
	f.job.now = func() time.Time { return t0.Add(time.Hour) }
	out, err := f.job.Run(context.Background(), t0.Add(time.Hour))
	if err == nil || !strings.Contains(err.Error(), "table unavailable") {
		t.Fatalf("run with a broken table: got %v; want the write error", err)
	}
	// The run is left to Lambda's retry of the same event, which resumes it at
	// once; after history.MaxAttempts it is FAILED.
	stored, err := good.GetRun(context.Background(), out.RunID)
	if err != nil || stored.State != history.Running || !strings.Contains(stored.Error, "table unavailable") {
		t.Fatalf("stored run: got %+v, %v; want RUNNING, released for the retry, with the cause", stored, err)
	}
	for attempt := 2; attempt <= history.MaxAttempts; attempt++ {
		out, err = f.job.Run(context.Background(), t0.Add(time.Hour))
		if err == nil || out.Claim != history.Resumed {
			t.Fatalf("retry %d: got claim %s, %v; want resumed and failing again", attempt, out.Claim, err)
		}
	}
	stored, err = good.GetRun(context.Background(), out.RunID)
	if err != nil || stored.State != history.Failed || !strings.Contains(stored.Error, "table unavailable") {
		t.Fatalf("stored run after %d attempts: got %+v, %v; want FAILED with the cause", history.MaxAttempts, stored, err)
	}
	snap, err := good.Latest(context.Background(), []history.AccountRegion{{Account: "111111111111", Region: "us-east-1"}})
	if err != nil || len(snap.States) != 3 {
		t.Errorf("latest state after the failed run: got %d states, %v; want run 1's 3 intact", len(snap.States), err)
	}
}

// Ctrl-C or a --timeout ends the audit, not the save: what was checked is
// stored and the run is recorded INCOMPLETE, never left RUNNING.
func TestInterruptedRunIsStored(t *testing.T) {
	f := setup(t)
	f.run(t, t0)
	if err := f.sim.Update(func(sc *awssim.Scenario) {
		sc.Latency = awssim.Latency{Fixed: awssim.Duration(60 * time.Millisecond)}
	}); err != nil {
		t.Fatal(err)
	}
	f.job.cfg.Limits.PerAccountRegion = 1
	ctx, cancel := context.WithCancel(context.Background())
	stop := time.AfterFunc(400*time.Millisecond, cancel) // Ctrl-C part way
	defer stop.Stop()
	at := t0.Add(time.Hour)
	f.job.now = func() time.Time { return at }
	out, err := f.job.Run(ctx, at)
	if err != nil || out.Report == nil || !out.Report.Summary.Incomplete {
		t.Fatalf("interrupted run: got %v, report %v; want an incomplete report", err, out.Report != nil)
	}
	if !out.Saved {
		t.Error("Saved: got false; want the checks done stored")
	}
	stored, err := f.store.GetRun(context.Background(), out.RunID)
	if err != nil || stored.State != history.Incomplete {
		t.Fatalf("stored run: got %+v, %v; want INCOMPLETE", stored, err)
	}
}

// An SNS endpoint that accepts connections and never answers costs the call
// timeouts, not the run: results are stored before the Lambda deadline and
// the alerts go out next run.
func TestHangingSNSStillSaves(t *testing.T) {
	f := setup(t)
	f.snsProxy.SetRule(func(op string, _ int) testenv.Action {
		if op == "Publish" {
			return testenv.Hang
		}
		return testenv.Pass
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // as a Lambda deadline
	defer cancel()
	f.job.now = func() time.Time { return t0 }
	out, err := f.job.Run(ctx, t0)
	if err != nil {
		t.Fatalf("run with SNS hanging: %v", err)
	}
	if !out.Saved || out.Published != 0 || out.Unpublished != len(out.Alerts) || out.NotifyError == "" {
		t.Errorf("outcome: got saved=%v published=%d unpublished=%d of %d alerts, error %q; want saved, none published, all counted",
			out.Saved, out.Published, out.Unpublished, len(out.Alerts), out.NotifyError)
	}
	stored, err := f.store.GetRun(context.Background(), out.RunID)
	if err != nil || stored.State != history.Complete {
		t.Fatalf("stored run: got %+v, %v; want COMPLETE", stored, err)
	}
	f.snsProxy.SetRule(nil)
	next := f.run(t, t0.Add(10*time.Minute))
	if len(next.Alerts) != len(out.Alerts) || next.Unpublished != 0 {
		t.Errorf("next run: got %d alerts, %d unpublished; want the %d held back, all published", len(next.Alerts), next.Unpublished, len(out.Alerts))
	}
}

// A failed Organizations discovery fails the run: FAILED in history, and one
// RUN_FAILED message for the governance subscribers.
func TestDiscoveryFailureFailsTheRun(t *testing.T) {
	f := setup(t)
	if err := f.sim.Update(func(sc *awssim.Scenario) {
		sc.Faults = []awssim.Rule{{Operation: awssim.OpListRoots, Rate: 1, Status: 500}}
	}); err != nil {
		t.Fatal(err)
	}
	out := f.run(t, t0)
	if !out.Report.Summary.DiscoveryFailed {
		t.Fatalf("summary: got discovery failed=false; want true")
	}
	stored, err := f.store.GetRun(context.Background(), out.RunID)
	if err != nil || stored.State != history.Failed || !strings.Contains(stored.Error, "discover accounts") {
		t.Fatalf("stored run: got %+v, %v; want FAILED naming the discovery", stored, err)
	}
	var failed []localenv.Notification
	for _, m := range f.receive(t, "all") {
		if m.MessageAttributes["event_type"].Value == `["RUN_FAILED"]` {
			failed = append(failed, m)
		}
	}
	if len(failed) != 1 || failed[0].MessageAttributes["severity"].Value != "critical" || !strings.Contains(failed[0].Message, "discover accounts") {
		t.Errorf("RUN_FAILED messages: got %+v; want one, critical, naming the discovery", failed)
	}
}

// A run cut short records the accounts it never reached, and the next run
// reads them to check them first.
func TestUnreachedAccountsGoFirstNextRun(t *testing.T) {
	f := setup(t)
	if err := f.sim.Update(func(sc *awssim.Scenario) {
		sc.Latency = awssim.Latency{Fixed: awssim.Duration(200 * time.Millisecond)}
	}); err != nil {
		t.Fatal(err)
	}
	f.job.cfg.Limits.Concurrency, f.job.cfg.Limits.PerAccountRegion = 2, 1
	f.job.saveBudget = func(int) time.Duration { return 5 * time.Second }
	ctx, cancel := context.WithTimeout(context.Background(), 5800*time.Millisecond)
	defer cancel()
	f.job.now = func() time.Time { return t0 }
	out, err := f.job.Run(ctx, t0)
	if err != nil || out.Report == nil || !out.Report.Summary.Incomplete {
		t.Fatalf("run 1: got %v, report %v; want an incomplete run, stored", err, out.Report != nil)
	}
	unreached := out.Report.Summary.Unreached
	if len(unreached) == 0 {
		t.Fatal("run 1 reached every account; want some left (adjust the latency)")
	}
	for _, r := range out.Report.Results {
		if slices.Contains(unreached, r.Account) {
			t.Errorf("%s has results but is listed as unreached", r.Account)
		}
	}
	next := "run-" + t0.Add(24*time.Hour).UTC().Format("20060102T150405Z")
	if got := f.job.unreachedLastTime(context.Background(), next, t0.Add(24*time.Hour)); !slices.Equal(got, unreached) {
		t.Errorf("the next run would check first %v; want run 1's unreached %v", got, unreached)
	}
}

// A run in which nothing changed rewrites no latest state, yet the latest
// state reads as checked by it.
func TestSteadyRunWritesOnlyWhatChanged(t *testing.T) {
	f := setup(t)
	f.run(t, t0)
	f.ddb.units.Store(0)
	f.ddb.writes.Store(0)
	second := t0.Add(24 * time.Hour)
	out := f.run(t, second)
	if out.Events != 0 {
		t.Fatalf("run 2: %d events; want a steady run (adjust the scenario)", out.Events)
	}
	// The run record (claim, finish) and nothing else.
	if units := f.ddb.units.Load(); units > 6 {
		t.Errorf("steady run: %d write units in %d requests; want only the run record's", units, f.ddb.writes.Load())
	}
	entries, err := f.store.LatestOf(context.Background(), "111111111111")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatal("no latest state")
	}
	for _, e := range entries {
		if !e.At.Equal(second) {
			t.Errorf("%s/%s checked %v; want the steady run's %v", e.Region, e.Model, e.At, second)
		}
	}
}
