package job

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/history"
)

// A delivery that finds its run held by an attempt that stopped
// heartbeating (it crashed inside its lease) takes the run over and
// finishes it; one that finds the holder heartbeating leaves it alone.
func TestRetryTakesOverASilentAttempt(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.job.beat = 20 * time.Millisecond

	// A crashed attempt: it claimed the run for an hour and went silent.
	if _, _, err := f.store.BeginAttempt(ctx, RunID(t0), "crashed-request", t0, t0, time.Hour, f.job.beat); err != nil {
		t.Fatal(err)
	}
	out := f.run(t, t0)
	if out.Claim != history.Resumed || out.Report == nil || out.Stored.State != history.Complete {
		t.Fatalf("retry: got claim %s state %s; want the run resumed and COMPLETE", out.Claim, out.Stored.State)
	}
	stored, err := f.store.GetRun(ctx, out.RunID)
	if err != nil || stored.State != history.Complete || stored.Attempts != 2 {
		t.Errorf("stored run: got %+v, %v; want COMPLETE after 2 attempts", stored, err)
	}

	// A live attempt: it heartbeats, so the run stays its own.
	next := t0.Add(24 * time.Hour)
	_, live, err := f.store.BeginAttempt(ctx, RunID(next), "live-request", next, next, time.Hour, f.job.beat)
	if err != nil {
		t.Fatal(err)
	}
	beating, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		for beating.Err() == nil {
			_ = f.store.Heartbeat(beating, live)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	calls := f.sim.TotalCalls()
	out = f.run(t, next)
	if out.Claim != history.Busy || out.Report != nil {
		t.Errorf("delivery while the holder heartbeats: got claim %s; want busy, nothing audited", out.Claim)
	}
	if got := f.sim.TotalCalls() - calls; got != 0 {
		t.Errorf("delivery while the holder heartbeats made %d AWS calls; want 0", got)
	}
}

// Two retries of a crashed attempt at the same moment, twice: one takes
// the run over and finishes it, the other finds it held (or done), and
// every alert goes out once.
func TestSimultaneousRetriesTakeOverOnce(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.job.beat = 20 * time.Millisecond
	for round, at := range []time.Time{t0, t0.Add(24 * time.Hour)} {
		if _, _, err := f.store.BeginAttempt(ctx, RunID(at), "crashed-request", at, at, time.Hour, f.job.beat); err != nil {
			t.Fatal(err)
		}
		f.job.now = func() time.Time { return at }
		var wg sync.WaitGroup
		outs := make([]*Outcome, 2)
		for i := range outs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := f.job.Run(ctx, at)
				if err != nil {
					t.Errorf("round %d retry %d: %v", round, i, err)
				}
				outs[i] = out
			}()
		}
		wg.Wait()
		if t.Failed() {
			t.Fatalf("dynalite: %s", f.ddbLogs())
		}
		resumed, published := 0, 0
		for _, o := range outs {
			if o != nil && o.Claim == history.Resumed {
				resumed++
			}
			if o != nil {
				published += o.Published
			}
		}
		if resumed != 1 {
			t.Errorf("round %d: got claims %s and %s; want one resumed", round, outs[0].Claim, outs[1].Claim)
		}
		stored, err := f.store.GetRun(ctx, RunID(at))
		if err != nil || stored.State != history.Complete {
			t.Errorf("round %d: stored run %+v, %v; want COMPLETE", round, stored, err)
		}
		if msgs := f.receive(t, "all"); len(msgs) != published {
			t.Errorf("round %d: got %d messages; want the %d published, each once", round, len(msgs), published)
		}
	}
}

// A delivery whose own time runs out before the holder's silence proves
// it gone answers an error, so that Lambda retries the event and, after
// its last retry, sends it to the failure destination (ledger:
// LAM-async-retries); it audits nothing.
func TestRetryOutOfTimeWhileWatchingFails(t *testing.T) {
	f := setup(t)
	f.job.beat = 200 * time.Millisecond // silent for 1.2 s before a takeover
	f.job.now = func() time.Time { return t0 }
	if _, _, err := f.store.BeginAttempt(context.Background(), RunID(t0), "crashed-request", t0, t0, time.Hour, f.job.beat); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	calls := f.sim.TotalCalls()
	out, err := f.job.Run(ctx, t0)
	if err == nil || !strings.Contains(err.Error(), "held by another attempt") {
		t.Fatalf("retry out of time: got claim %s, %v; want an error", out.Claim, err)
	}
	if got := f.sim.TotalCalls() - calls; got != 0 {
		t.Errorf("retry out of time made %d AWS calls; want 0", got)
	}
	stored, err := f.store.GetRun(context.Background(), RunID(t0))
	if err != nil || stored.State != history.Running || stored.Attempts != 1 {
		t.Errorf("stored run: got %+v, %v; want RUNNING, still the first attempt's", stored, err)
	}
}

// A watcher that heartbeats more often than the holder (another version
// of the function, another setting) judges the holder's silence by the
// holder's interval, as the run records it: it must not take over an
// attempt that is merely between two of its slower beats.
func TestWatcherWaitsForTheHoldersInterval(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.job.beat = 20 * time.Millisecond // silent for 120 ms by its own interval
	holder := 300 * time.Millisecond   // silent for 1.8 s by the holder's
	if _, _, err := f.store.BeginAttempt(ctx, RunID(t0), "slow-request", t0, t0, time.Hour, holder); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out := f.run(t, t0)
	if took := time.Since(start); took < StaleBeats*holder {
		t.Errorf("took the run over after %s; want at least %s, %d of the holder's intervals", took, StaleBeats*holder, StaleBeats)
	}
	if out.Claim != history.Resumed || out.Stored.State != history.Complete {
		t.Errorf("retry: got claim %s state %s; want the run resumed and COMPLETE", out.Claim, out.Stored.State)
	}
}
