package main

// The sharded run for real, locally: the state machine definition this
// stack synthesizes, executed by aws-local-stepfunctions (an independent
// Amazon States Language interpreter), its Task states invoking the real
// auditor binary under the Lambda runtime interface emulator, against the
// AWS simulator, dynalite and goaws.
//
// What the interpreter does not do of a Distributed Map (it runs one as an
// inline Map, in one process): child executions of their own (ProcessorConfig
// is ignored), ItemReader, ItemBatcher, ResultWriter and the tolerated
// failure thresholds. The definition uses none of the last four: the batch
// numbers come from the state's input, and each child catches its own
// failure, so no threshold is ever reached. What a child execution is in
// AWS, one AuditBatch invocation with its retries and catch, is what the
// interpreter runs per item.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/devtools/awssim"
	"github.com/grantwatch/grantwatch/pkg/devtools/localenv"
	"github.com/grantwatch/grantwatch/pkg/devtools/testenv"
	"github.com/grantwatch/grantwatch/pkg/history"
)

// resolveDefinition turns a template's DefinitionString, a string or an
// Fn::Join of strings and references, into the definition: a function's
// ARN (Fn::GetAtt) becomes a Lambda ARN named by its logical id, a
// partition "aws", other references their logical id.
func resolveDefinition(v interface{}) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case map[string]interface{}:
		if join, ok := v["Fn::Join"].([]interface{}); ok && len(join) == 2 {
			sep, _ := join[0].(string)
			parts, _ := join[1].([]interface{})
			var out []string
			for _, p := range parts {
				s, err := resolveDefinition(p)
				if err != nil {
					return "", err
				}
				out = append(out, s)
			}
			return strings.Join(out, sep), nil
		}
		if att, ok := v["Fn::GetAtt"].([]interface{}); ok && len(att) == 2 && att[1] == "Arn" {
			return fmt.Sprintf("arn:aws:lambda:us-east-1:222222222222:function:%s", att[0]), nil
		}
		if ref, ok := v["Ref"].(string); ok {
			if ref == "AWS::Partition" {
				return "aws", nil
			}
			return ref, nil
		}
	}
	return "", fmt.Errorf("definition: cannot resolve %v", v)
}

// shardedDefinition synthesizes the sharded stack and returns its state
// machine's definition.
func shardedDefinition(t testing.TB, mapConcurrency int) []byte {
	t.Helper()
	s := testSettings(t, map[string]string{ctxSharded: "true", ctxMapConcurrency: fmt.Sprint(mapConcurrency)})
	audit, _ := stacks(t, s)
	for _, r := range *assertions.Template_FromStack(audit, nil).FindResources(strPtr("AWS::StepFunctions::StateMachine"), nil) {
		body, err := resolveDefinition((*r)["Properties"].(map[string]interface{})["DefinitionString"])
		if err != nil {
			t.Fatal(err)
		}
		return []byte(body)
	}
	t.Fatal("the sharded stack has no state machine")
	return nil
}

func strPtr(s string) *string { return &s }

// shardedWorld is what the sharded run meets: the organization, the table,
// the topic, and the auditor binary in a pool of emulators.
type shardedWorld struct {
	sim   *awssim.Server
	store *history.Store
	sns   *localenv.SNS
	pool  *testenv.LambdaPool
}

func newShardedWorld(t testing.TB, sim *awssim.Server, configYAML string, batchAccounts, functions int) *shardedWorld {
	t.Helper()
	ctx := context.Background()
	w := &shardedWorld{sim: sim, sns: testenv.SNS(t, localenv.Topic{Name: "alerts", Subscriptions: []localenv.Subscription{{Queue: "inbox"}}})}
	ddb := testenv.DynamoDB(t)
	client := dynamodb.NewFromConfig(testenv.AWSConfig(t, ddb.Endpoint))
	const table = "grantwatch-sharded"
	if err := history.CreateTable(ctx, client, table); err != nil {
		t.Fatal(err)
	}
	w.store = history.New(client, table, 24*time.Hour)
	cfgPath := filepath.Join(t.TempDir(), "grantwatch.yaml")
	if err := os.WriteFile(cfgPath, []byte(configYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append([]string{
		config.EnvConfig + "=" + cfgPath,
		config.EnvTable + "=" + table,
		config.EnvTopic + "=" + w.sns.TopicARN("alerts"),
		config.EnvBatchAccounts + "=" + fmt.Sprint(batchAccounts),
	}, testenv.AuditorEnv(sim, ddb.Endpoint, w.sns.Endpoint)...)
	w.pool = testenv.NewLambdaPool(testenv.Lambdas(t, filepath.Join("..", "functions", "auditor"), env, functions))
	return w
}

// finished is the part of the Finish step's answer (the auditor's Result)
// these tests read.
type finished struct {
	RunID     string `json:"run_id"`
	State     string `json:"state"`
	Alerts    int    `json:"alerts"`
	Published int    `json:"published"`
	Summary   *struct {
		Accounts  int `json:"accounts"`
		Checked   int `json:"checks_done"`
		AuditErrs int `json:"audit_errors"`
	} `json:"summary"`
	Proceed *bool `json:"proceed"`
}

// duplicates counts the messages published more than once (same subject
// and body) and the digests.
func duplicates(msgs []localenv.Notification) (dups, digests int) {
	seen := map[string]bool{}
	for _, m := range msgs {
		key := m.Subject + "\n" + m.Message
		if seen[key] {
			dups++
		}
		seen[key] = true
		if strings.Contains(m.Subject, " changes in ") {
			digests++
		}
	}
	return dups, digests
}

const functionConfig = `
accounts: {organizations: {enabled: true}}
regions: [us-east-1, us-west-2]
models: {required: [anthropic.claude-3-5-sonnet-20240620-v1:0, amazon.nova-pro-v1:0]}
role: {name: GrantwatchAudit, external_id: grantwatch-fn}
limits: {max_attempts: 3, max_backoff: 50ms}
`

// One scheduled run through the synthesized state machine: three accounts
// in batches of one. Batch 1's first invocation does its work and then
// fails (a timeout after storing): the retry finds it done and sends
// nothing again. Batch 2 fails every attempt: the state machine gives up on
// it, and Finish records its account as audit errors. A second delivery of
// the schedule starts a second execution, which stops at once.
func TestShardedRunLocally(t *testing.T) {
	ctx := context.Background()
	definition := shardedDefinition(t, 2)
	sim := testenv.Simulator(t, "../functions/auditor/testdata/org.yaml", nil)
	w := newShardedWorld(t, sim, functionConfig, 1, 2)
	var mu sync.Mutex
	attempts := map[string]int{}
	w.pool.Fault = func(state string, payload []byte) (string, bool) {
		var in struct {
			Batch *int `json:"batch"`
		}
		if state != StateBatch || json.Unmarshal(payload, &in) != nil || in.Batch == nil {
			return "", false
		}
		mu.Lock()
		defer mu.Unlock()
		key := fmt.Sprint(*in.Batch)
		attempts[key]++
		switch {
		case *in.Batch == 1 && attempts[key] == 1:
			return "Sandbox.Timedout", true
		case *in.Batch == 2:
			return "Runtime.ExitError", false
		}
		return "", false
	}
	at := time.Now().UTC().Truncate(time.Hour)
	input := fmt.Sprintf(`{"scheduled_time":%q}`, at.Format(time.RFC3339))

	out, err := testenv.RunStateMachine(ctx, t, definition, input, "arn:aws:states:us-east-1:222222222222:execution:ShardedRun:first", w.pool)
	if err != nil {
		t.Fatal(err)
	}
	var res finished
	if err := json.Unmarshal(out, &res); err != nil || res.Summary == nil {
		t.Fatalf("execution output: %s (%v)", out, err)
	}
	// 3 accounts x 2 regions x 2 models; the given-up batch's account has
	// 4 audit errors.
	if res.State != string(history.Complete) || res.Summary.Accounts != 3 || res.Summary.Checked != 12 || res.Summary.AuditErrs != 4 {
		t.Errorf("run: got %s, %d accounts, %d checks, %d audit errors; want COMPLETE, 3, 12, 4", res.State, res.Summary.Accounts, res.Summary.Checked, res.Summary.AuditErrs)
	}
	if attempts["1"] != 2 || attempts["2"] != 3 || attempts["0"] != 1 {
		t.Errorf("batch attempts: got %v; want batch 0 once, 1 twice (retried once), 2 three times (then given up)", attempts)
	}
	batches, err := w.store.Batches(ctx, res.RunID)
	if err != nil || len(batches) != 3 {
		t.Fatalf("batches: got %d, %v; want 3", len(batches), err)
	}
	given := batches[2].Accounts[0].ID
	entries, _, err := w.store.History(ctx, history.Query{Account: given, Limit: 100})
	if err != nil || len(entries) != 4 {
		t.Fatalf("history of %s: got %d, %v; want its 4 checks", given, len(entries), err)
	}
	for _, e := range entries {
		if !strings.Contains(e.Cause, "batch-failed") {
			t.Errorf("%s %s %s: got %s %q; want the batch's failure", e.Account, e.Region, e.Model, e.Status, e.Cause)
		}
	}
	msgs, err := w.sns.Receive(ctx, "inbox")
	if err != nil {
		t.Fatal(err)
	}
	dups, digests := duplicates(msgs)
	if dups != 0 || digests != 1 || len(msgs) != res.Published || res.Alerts < len(msgs)-1 {
		t.Errorf("messages: got %d (%d duplicates, %d digests), the run says %d published of %d alerts; want no duplicate, one digest, every alert counted",
			len(msgs), dups, digests, res.Published, res.Alerts)
	}

	calls := sim.TotalCalls()
	out, err = testenv.RunStateMachine(ctx, t, definition, input, "arn:aws:states:us-east-1:222222222222:execution:ShardedRun:second", w.pool)
	if err != nil {
		t.Fatal(err)
	}
	var again finished
	if err := json.Unmarshal(out, &again); err != nil || again.Proceed == nil || *again.Proceed {
		t.Errorf("second execution: got %s; want it to stop at the start", out)
	}
	if got := sim.TotalCalls() - calls; got != 0 {
		t.Errorf("second execution made %d AWS calls; want 0", got)
	}
	if msgs, _ := w.sns.Receive(ctx, "inbox"); len(msgs) != 0 {
		t.Errorf("second execution sent %d messages; want 0", len(msgs))
	}
}

func benchSize(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkSharded runs one scheduled run of a 5,000-account organization
// (BENCH_SHARDED_ACCOUNTS; 2 regions x 2 models, 1% of checks not usable)
// through the synthesized state machine, locally: batches of 50 accounts,
// 4 at a time, each on its own auditor binary under the emulator. One
// batch's first invocation fails after doing its work, as a timeout after
// storing would: its retry must send nothing twice. Run it once:
// -benchtime=1x.
func BenchmarkSharded(b *testing.B) {
	nAccounts, batch, parallel := benchSize("BENCH_SHARDED_ACCOUNTS", 5000), 50, 4
	regions := []string{"us-east-1", "us-west-2"}
	models := []string{"anthropic.claude-3-5-sonnet-20240620-v1:0", "amazon.nova-pro-v1:0"}
	ctx := context.Background()
	definition := shardedDefinition(b, parallel)
	for b.Loop() {
		sc := awssim.Generated(nAccounts, 10, regions, models, 0)
		for i := range sc.Accounts {
			if i%25 == 0 { // 1 of the 100 checks of every 25 accounts
				sc.Accounts[i].SetState(regions[i%2], models[(i/2)%2], awssim.ModelState{Agreement: "NOT_AVAILABLE"})
			}
		}
		sim, err := awssim.New(sc)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := sim.Start("127.0.0.1:0"); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { sim.Close() })
		cfg := fmt.Sprintf("accounts: {organizations: {enabled: true}}\nregions: [%s]\nmodels: {required: [%s]}\nlimits: {concurrency: 64}\n",
			strings.Join(regions, ", "), strings.Join(models, ", "))
		w := newShardedWorld(b, sim, cfg, batch, parallel)
		var once sync.Once
		retried := false
		w.pool.Fault = func(state string, payload []byte) (string, bool) {
			var in struct {
				Batch *int `json:"batch"`
			}
			fault := ""
			if state == StateBatch && json.Unmarshal(payload, &in) == nil && in.Batch != nil && *in.Batch == 3 {
				once.Do(func() { fault, retried = "Sandbox.Timedout", true })
			}
			return fault, true
		}
		at := time.Now().UTC().Truncate(time.Hour)
		start := time.Now()
		out, err := testenv.RunStateMachine(ctx, b, definition, fmt.Sprintf(`{"scheduled_time":%q}`, at.Format(time.RFC3339)),
			"arn:aws:states:us-east-1:222222222222:execution:ShardedRun:bench", w.pool)
		if err != nil {
			b.Fatal(err)
		}
		wall := time.Since(start)
		var res finished
		if err := json.Unmarshal(out, &res); err != nil || res.Summary == nil {
			b.Fatalf("execution output: %s (%v)", out, err)
		}
		msgs, err := w.sns.Receive(ctx, "inbox")
		if err != nil {
			b.Fatal(err)
		}
		dups, digests := duplicates(msgs)
		batches := (nAccounts + batch - 1) / batch
		fmt.Printf("\nsharded run: %d accounts x %d regions x %d models through the synthesized state machine (aws-local-stepfunctions), "+
			"batches of %d, %d at a time, one batch retried after doing its work: %v\n", nAccounts, len(regions), len(models), batch, parallel, retried)
		fmt.Printf("messages: %d (digests %d), run state %s\n", len(msgs), digests, res.State)
		fmt.Printf("bench: sharded accounts=%d batches=%d checks=%d wall_s=%.1f audit_errors=%d duplicate_alerts=%d\n",
			res.Summary.Accounts, batches, res.Summary.Checked, wall.Seconds(), res.Summary.AuditErrs, dups)
		if res.Summary.Accounts != nAccounts || res.Summary.AuditErrs != 0 || dups != 0 || digests != 1 || !retried {
			b.Errorf("got %d accounts, %d audit errors, %d duplicate messages, %d digests, retried %v; want %d, 0, 0, 1, true",
				res.Summary.Accounts, res.Summary.AuditErrs, dups, digests, retried, nAccounts)
		}
	}
}

// Every task of the sharded run waits longer than the auditor function may
// run: a task that timed out while its invocation still ran would be
// retried beside it.
func TestShardedTasksOutlastTheFunction(t *testing.T) {
	s := testSettings(t, map[string]string{ctxSharded: "true", ctxMapConcurrency: "2"})
	audit, _ := stacks(t, s)
	template := assertions.Template_FromStack(audit, nil)
	fnTimeout := 0.0
	for _, r := range *template.FindResources(strPtr("AWS::Lambda::Function"), nil) {
		props := (*r)["Properties"].(map[string]interface{})
		if d, _ := props["Description"].(string); strings.HasPrefix(d, "grantwatch: audits") {
			fnTimeout, _ = props["Timeout"].(float64)
		}
	}
	if fnTimeout == 0 {
		t.Fatal("no auditor function with a timeout in the sharded stack")
	}
	var def struct{ States map[string]json.RawMessage }
	if err := json.Unmarshal(shardedDefinition(t, 2), &def); err != nil {
		t.Fatal(err)
	}
	tasks := 0
	var walk func(states map[string]json.RawMessage)
	walk = func(states map[string]json.RawMessage) {
		for name, raw := range states {
			var st struct {
				Type           string
				TimeoutSeconds float64
				ItemProcessor  *struct{ States map[string]json.RawMessage }
			}
			if err := json.Unmarshal(raw, &st); err != nil {
				t.Fatal(err)
			}
			if st.ItemProcessor != nil {
				walk(st.ItemProcessor.States)
			}
			if st.Type != "Task" {
				continue
			}
			tasks++
			if st.TimeoutSeconds <= fnTimeout {
				t.Errorf("task %s: TimeoutSeconds %v; want more than the function's %v s", name, st.TimeoutSeconds, fnTimeout)
			}
		}
	}
	walk(def.States)
	if tasks != 3 {
		t.Errorf("tasks: got %d; want Start, AuditBatch and Finish", tasks)
	}
}
