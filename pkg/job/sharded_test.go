package job

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/changes"
	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/result"
)

// shard runs a sharded run's steps as the state machine does, skipping the
// batches in skip (as if the state machine gave up on them).
func (f *fixture) shard(t *testing.T, owner string, size int, skip ...int) (*Started, *Outcome) {
	t.Helper()
	ctx := context.Background()
	st, err := f.job.Start(ctx, t0, owner, size)
	if err != nil || !st.Proceed {
		t.Fatalf("start: got %+v, %v; want to proceed", st, err)
	}
	for _, i := range st.Batches {
		if slices.Contains(skip, i) {
			continue
		}
		if _, err := f.job.RunBatch(ctx, st.RunID, t0, i); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	out, err := f.job.Finish(ctx, st.RunID, t0, owner, st.Planning)
	if err != nil {
		t.Fatalf("finish: %v", err)
	}
	return st, out
}

// A run in batches stores, counts and alerts as the same run in one
// invocation: one message per account with problems and one digest.
func TestShardedRunIsTheWholeRun(t *testing.T) {
	whole := setup(t)
	whole.job.now = func() time.Time { return t0 }
	want := whole.run(t, t0)
	wantMsgs := whole.receive(t, "all")

	f := setup(t)
	f.job.now = func() time.Time { return t0 }
	st, out := f.shard(t, "execution-1", 1)
	if len(st.Batches) != 4 || st.Accounts != 4 {
		t.Errorf("start: got %d batches of %d accounts; want 4 of 1", len(st.Batches), st.Accounts)
	}
	got, w := out.Report.Summary, want.Report.Summary
	if got.Checked != w.Checked || got.Accounts != w.Accounts || !maps.Equal(got.Counts, w.Counts) || got.AuditErrs != w.AuditErrs {
		t.Errorf("summary: got %d checks of %d accounts %v; want %d of %d %v", got.Checked, got.Accounts, got.Counts, w.Checked, w.Accounts, w.Counts)
	}
	msgs := f.receive(t, "all")
	if len(msgs) != len(wantMsgs) || out.Published != want.Published {
		t.Errorf("messages: got %d (published %d); want %d (%d):\n%s", len(msgs), out.Published, len(wantMsgs), want.Published, subjects(msgs))
	}
	digests := 0
	for _, m := range msgs {
		if strings.Contains(m.Subject, "changes in") {
			digests++
		}
	}
	if digests != 1 {
		t.Errorf("digests: got %d; want 1:\n%s", digests, subjects(msgs))
	}
	run, err := f.store.GetRun(context.Background(), st.RunID)
	if err != nil || run.State != history.Complete || run.Summary == nil || run.Summary.Checked != w.Checked {
		t.Errorf("run record: got %+v, %v; want COMPLETE with %d checks", run, err, w.Checked)
	}
}

// Every step may be delivered twice: a second start of the run by another
// execution stops, the same execution's retry resumes its batches, a batch
// done before and a finished run do nothing again, and no alert goes twice.
func TestShardedStepsAreIdempotent(t *testing.T) {
	f := setup(t)
	f.job.now = func() time.Time { return t0 }
	ctx := context.Background()
	st, err := f.job.Start(ctx, t0, "execution-1", 2)
	if err != nil {
		t.Fatal(err)
	}
	if other, err := f.job.Start(ctx, t0, "execution-2", 2); err != nil || other.Proceed || other.Claim != history.Busy {
		t.Errorf("start by a second execution: got %+v, %v; want busy, not proceeding", other, err)
	}
	again, err := f.job.Start(ctx, t0, "execution-1", 2)
	if err != nil || !again.Proceed || again.Claim != history.Resumed || !slices.Equal(again.Batches, st.Batches) {
		t.Errorf("retried start: got %+v, %v; want resumed with batches %v", again, err, st.Batches)
	}
	first, err := f.job.RunBatch(ctx, st.RunID, t0, 0)
	if err != nil || first.Repeated || first.Published == 0 {
		t.Fatalf("batch 0: got %+v, %v; want done with alerts", first, err)
	}
	before := len(f.receive(t, "all"))
	second, err := f.job.RunBatch(ctx, st.RunID, t0, 0)
	if err != nil || !second.Repeated || second.Published != first.Published {
		t.Errorf("batch 0 again: got %+v, %v; want repeated, the same counts", second, err)
	}
	if n := len(f.receive(t, "all")); n != 0 {
		t.Errorf("batch 0 again published %d messages; want none (%d the first time)", n, before)
	}
	if _, err := f.job.RunBatch(ctx, st.RunID, t0, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := f.job.Finish(ctx, st.RunID, t0, "execution-2", st.Planning); err == nil {
		t.Errorf("finish by an execution that does not own the run: got no error")
	}
	if _, err := f.job.Finish(ctx, st.RunID, t0, "execution-1", st.Planning); err != nil {
		t.Fatal(err)
	}
	f.receive(t, "all")
	out, err := f.job.Finish(ctx, st.RunID, t0, "execution-1", st.Planning)
	if err != nil || out.Claim != history.Done {
		t.Errorf("finish again: got claim %q, %v; want done", out.Claim, err)
	}
	if n := len(f.receive(t, "all")); n != 0 {
		t.Errorf("finish again published %d messages; want none", n)
	}
}

// A batch the state machine gave up on is not lost: its accounts are
// recorded and alerted as audit errors that say so, and the run still ends.
func TestShardedRunRecordsUnfinishedBatches(t *testing.T) {
	f := setup(t)
	f.job.now = func() time.Time { return t0 }
	st, out := f.shard(t, "execution-1", 1, 0)
	b, err := f.store.GetBatch(context.Background(), st.RunID, 0)
	if err != nil {
		t.Fatal(err)
	}
	lost := b.Accounts[0].ID
	snap, err := f.store.Latest(context.Background(), []history.AccountRegion{{Account: lost, Region: "us-east-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.States) == 0 {
		t.Fatalf("latest state of %s: none; want its audit errors", lost)
	}
	for k, s := range snap.States {
		if s.Status != result.AuditError || !strings.Contains(s.AuditError, "batch-failed") {
			t.Errorf("%v: got %s %q; want AUDIT_ERROR batch-failed", k, s.Status, s.AuditError)
		}
	}
	alerted := false
	for _, a := range out.Alerts {
		alerted = alerted || (a.Result.Account == lost && a.Kind == changes.AuditFailed)
	}
	if !alerted || out.Report.Summary.AuditErrs == 0 {
		t.Errorf("alerts: got %d, %d audit errors; want an AUDIT_ERROR alert for %s", len(out.Alerts), out.Report.Summary.AuditErrs, lost)
	}
	if run, err := f.store.GetRun(context.Background(), st.RunID); err != nil || run.State == history.Running {
		t.Errorf("run record: got %+v, %v; want it finished", run, err)
	}
}
