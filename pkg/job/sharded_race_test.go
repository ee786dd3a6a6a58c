package job

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/devtools/localenv"
	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/result"
)

// perAccount counts the messages of each account, and the digests.
func perAccount(msgs []localenv.Notification) (accounts map[string]int, digests int) {
	accounts = map[string]int{}
	for _, m := range msgs {
		if strings.Contains(m.Subject, "changes in") {
			digests++
			continue
		}
		accounts[m.MessageAttributes["account_id"].Value]++
	}
	return accounts, digests
}

// both runs f twice at the same moment and returns what each returned.
func both[T any](f func() (T, error)) ([2]T, [2]error) {
	var outs [2]T
	var errs [2]error
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			outs[i], errs[i] = f()
		}()
	}
	close(start)
	wg.Wait()
	return outs, errs
}

// Step Functions may invoke a batch twice at once (a task that timed out
// while its invocation still runs), and Finish twice at once: each batch
// is audited and alerted once, the digest goes out once, and the run is
// finished once. Two runs, each step doubled.
func TestShardedStepsTwiceAtTheSameMoment(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	for round, at := range []time.Time{t0, t0.Add(24 * time.Hour)} {
		f.job.now = func() time.Time { return at }
		exec := fmt.Sprintf("execution-%d", round)
		st, err := f.job.Start(ctx, at, exec, 2)
		if err != nil || !st.Proceed {
			t.Fatalf("round %d start: got %+v, %v", round, st, err)
		}
		for _, i := range st.Batches {
			outs, errs := both(func() (*BatchOutcome, error) { return f.job.RunBatch(ctx, st.RunID, at, i) })
			ran := 0
			for k := range 2 {
				switch {
				case errs[k] == nil && !outs[k].Repeated:
					ran++
				case errs[k] != nil && !strings.Contains(errs[k].Error(), "another invocation holds it"):
					t.Errorf("round %d batch %d: %v; want done, repeated or busy", round, i, errs[k])
				}
			}
			if ran != 1 {
				t.Errorf("round %d batch %d: %d invocations ran it (errors %v); want exactly 1", round, i, ran, errs)
			}
		}
		outs, errs := both(func() (*Outcome, error) { return f.job.Finish(ctx, st.RunID, at, exec, st.Planning) })
		saved := 0
		for k := range 2 {
			switch {
			case errs[k] == nil && outs[k].Saved:
				saved++
			case errs[k] != nil && !strings.Contains(errs[k].Error(), "another invocation is finishing it"):
				t.Errorf("round %d finish: %v; want finished, done or busy", round, errs[k])
			}
		}
		if saved != 1 {
			t.Errorf("round %d: %d Finish steps finished the run (errors %v); want exactly 1", round, saved, errs)
		}
		// Step Functions' retry of the Finish that found the run busy.
		if out, err := f.job.Finish(ctx, st.RunID, at, exec, st.Planning); err != nil || out.Claim != history.Done {
			t.Errorf("round %d finish retried: got claim %q, %v; want done", round, out.Claim, err)
		}
		accounts, digests := perAccount(f.receive(t, "all"))
		for account, n := range accounts {
			if n > 1 {
				t.Errorf("round %d: %d messages for %s; want 1", round, n, account)
			}
		}
		if round == 0 && (digests != 1 || len(accounts) == 0) {
			t.Errorf("round %d: got %d digests and messages for %d accounts; want 1 digest and some accounts", round, digests, len(accounts))
		}
		if digests > 1 {
			t.Errorf("round %d: got %d digests; want at most 1", round, digests)
		}
		run, err := f.store.GetRun(ctx, st.RunID)
		if err != nil || run.State == history.Running {
			t.Errorf("round %d run record: got %+v, %v; want it finished", round, run, err)
		}
	}
}

// A batch invoked at the moment Finish gives up on it either runs (and
// Finish waits for it and counts it done) or does nothing (and Finish
// records its accounts as batch-failed), never both; a batch invoked after
// Finish does nothing: no audit, no alert, no overwrite. Twice.
func TestBatchAtAndAfterFinish(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	for round, at := range []time.Time{t0, t0.Add(24 * time.Hour)} {
		f.job.now = func() time.Time { return at }
		exec := fmt.Sprintf("execution-%d", round)
		st, err := f.job.Start(ctx, at, exec, 1)
		if err != nil || !st.Proceed {
			t.Fatalf("round %d start: got %+v, %v", round, st, err)
		}
		late := st.Batches[round] // the batch the state machine gave up on
		for _, i := range st.Batches {
			if i != late {
				if _, err := f.job.RunBatch(ctx, st.RunID, at, i); err != nil {
					t.Fatalf("round %d batch %d: %v", round, i, err)
				}
			}
		}
		var wg sync.WaitGroup
		var batch *BatchOutcome
		var finish *Outcome
		var batchErr, finishErr error
		start := make(chan struct{})
		wg.Add(2)
		go func() { defer wg.Done(); <-start; batch, batchErr = f.job.RunBatch(ctx, st.RunID, at, late) }()
		go func() {
			defer wg.Done()
			<-start
			finish, finishErr = f.job.Finish(ctx, st.RunID, at, exec, st.Planning)
		}()
		close(start)
		wg.Wait()
		if batchErr != nil || finishErr != nil || !finish.Saved {
			t.Fatalf("round %d: batch %v, finish %v (saved %v); want both to succeed", round, batchErr, finishErr, finish != nil && finish.Saved)
		}
		b, err := f.store.GetBatch(ctx, st.RunID, late)
		if err != nil {
			t.Fatal(err)
		}
		lost := b.Accounts[0].ID
		batchFailed := func() bool {
			snap, err := f.store.Latest(ctx, []history.AccountRegion{{Account: lost, Region: "us-east-1"}})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range snap.States {
				if s.Status == result.AuditError && strings.Contains(s.AuditError, "batch-failed") {
					return true
				}
			}
			return false
		}
		closedFirst := batch.Repeated
		if got := batchFailed(); got != closedFirst || b.Done == closedFirst || b.Closed != closedFirst {
			t.Errorf("round %d: batch repeated=%v done=%v closed=%v, batch-failed states %v; want the batch run and done, or closed and batch-failed",
				round, batch.Repeated, b.Done, b.Closed, got)
		}
		accounts, _ := perAccount(f.receive(t, "all"))
		if accounts[lost] > 1 {
			t.Errorf("round %d: %d messages for %s; want at most 1", round, accounts[lost], lost)
		}

		// The batch again, after Finish: nothing.
		calls := f.sim.TotalCalls()
		again, err := f.job.RunBatch(ctx, st.RunID, at, late)
		if err != nil || !again.Repeated {
			t.Errorf("round %d batch after finish: got %+v, %v; want repeated", round, again, err)
		}
		if n := f.sim.TotalCalls() - calls; n != 0 {
			t.Errorf("round %d batch after finish made %d AWS calls; want 0", round, n)
		}
		if msgs := f.receive(t, "all"); len(msgs) != 0 {
			t.Errorf("round %d batch after finish sent %d messages; want 0", round, len(msgs))
		}
		if got := batchFailed(); got != closedFirst {
			t.Errorf("round %d batch after finish: batch-failed states %v; want %v, unchanged", round, got, closedFirst)
		}
	}
}

// A batch whose history write fails after its alerts went out is retried
// by the state machine: the retry claims it at once and sends only what was
// not sent. Twice.
func TestBatchRetryAfterFailedSaveSendsNothingTwice(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.job.now = func() time.Time { return t0 }
	st, err := f.job.Start(ctx, t0, "execution-1", 2)
	if err != nil || !st.Proceed {
		t.Fatalf("start: got %+v, %v", st, err)
	}
	good := f.job.store
	for _, i := range st.Batches[:2] {
		broken := *f.job
		broken.store = history.New(brokenWrites{f.ddb}, good.Table(), time.Hour)
		if _, err := broken.RunBatch(ctx, st.RunID, t0, i); err == nil || !strings.Contains(err.Error(), "table unavailable") {
			t.Fatalf("batch %d with a broken table: got %v; want the write error", i, err)
		}
		first, _ := perAccount(f.receive(t, "all"))
		if len(first) == 0 {
			t.Fatalf("batch %d: the failed attempt sent nothing; the test needs alerts", i)
		}
		out, err := f.job.RunBatch(ctx, st.RunID, t0, i)
		if err != nil || out.Repeated {
			t.Fatalf("batch %d retried: got %+v, %v; want it run", i, out, err)
		}
		again, _ := perAccount(f.receive(t, "all"))
		for account := range first {
			if again[account] > 0 {
				t.Errorf("batch %d: the retry sent %s's message again", i, account)
			}
		}
		b, err := good.GetBatch(ctx, st.RunID, i)
		if err != nil || !b.Done {
			t.Errorf("batch %d: got %+v, %v; want done", i, b, err)
		}
	}
}

// A Finish that failed (a history write) or died (out of memory, a runtime
// exit) after claiming the run's finishing must not leave the run RUNNING
// once every retry of the step found it busy: a failed Finish gives its
// claim back, and a retry that finds a claim waits for it to run out and
// finishes the run, sending nothing twice.
func TestFinishRetryAfterAFailedOrDeadFinish(t *testing.T) {
	f := setup(t)
	ctx := context.Background()

	// A Finish whose history write fails, then its retry.
	f.job.now = func() time.Time { return t0 }
	st, err := f.job.Start(ctx, t0, "execution-1", 1)
	if err != nil || !st.Proceed {
		t.Fatalf("start: got %+v, %v", st, err)
	}
	late := st.Batches[0] // never finished: Finish records its accounts
	for _, i := range st.Batches[1:] {
		if _, err := f.job.RunBatch(ctx, st.RunID, t0, i); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	f.receive(t, "all")
	broken := *f.job
	broken.store = history.New(brokenWrites{f.ddb}, f.job.store.Table(), time.Hour)
	if _, err := broken.Finish(ctx, st.RunID, t0, "execution-1", st.Planning); err == nil || !strings.Contains(err.Error(), "table unavailable") {
		t.Fatalf("finish with a broken table: got %v; want the write error", err)
	}
	first, _ := perAccount(f.receive(t, "all"))
	out, err := f.job.Finish(ctx, st.RunID, t0, "execution-1", st.Planning)
	if err != nil || !out.Saved {
		t.Fatalf("finish retried after a failed write: got saved %v, %v; want the run finished", out.Saved, err)
	}
	again, digests := perAccount(f.receive(t, "all"))
	for account := range first {
		if again[account] > 0 {
			t.Errorf("the retried Finish sent %s's message again", account)
		}
	}
	if digests != 1 {
		t.Errorf("digests: got %d; want 1", digests)
	}
	b, err := f.store.GetBatch(ctx, st.RunID, late)
	if err != nil || !b.Closed {
		t.Errorf("batch %d: got %+v, %v; want closed", late, b, err)
	}
	if run, err := f.store.GetRun(ctx, st.RunID); err != nil || run.State == history.Running {
		t.Errorf("run after the retried Finish: got %+v, %v; want it finished", run, err)
	}

	// A Finish that died holding a claim of 2 s, then its retry.
	at := t0.Add(24 * time.Hour)
	f.job.now = time.Now
	st, err = f.job.Start(ctx, at, "execution-2", 1)
	if err != nil || !st.Proceed {
		t.Fatalf("start: got %+v, %v", st, err)
	}
	for _, i := range st.Batches {
		if _, err := f.job.RunBatch(ctx, st.RunID, at, i); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	stored, err := f.store.GetRun(ctx, st.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if claim, _, err := f.store.BeginFinish(ctx, stored, "dead", time.Now(), 2*time.Second); err != nil || claim != history.Started {
		t.Fatalf("the dead Finish's claim: got %s, %v", claim, err)
	}
	out, err = f.job.Finish(ctx, st.RunID, at, "execution-2", st.Planning)
	if err != nil || !out.Saved {
		t.Fatalf("finish retried after a dead Finish: got saved %v, %v; want the run finished once the claim ran out", out.Saved, err)
	}
	if run, err := f.store.GetRun(ctx, st.RunID); err != nil || run.State == history.Running {
		t.Errorf("run after the retried Finish: got %+v, %v; want it finished", run, err)
	}
}
