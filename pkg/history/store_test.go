package history

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/grantwatch/grantwatch/pkg/changes"
	"github.com/grantwatch/grantwatch/pkg/devtools/testenv"
	"github.com/grantwatch/grantwatch/pkg/result"
)

var t0 = time.Date(2026, 11, 1, 4, 0, 0, 0, time.UTC)

func newTable(t *testing.T) (*dynamodb.Client, string) {
	t.Helper()
	ddb := testenv.DynamoDB(t)
	cfg := testenv.AWSConfig(t, ddb.Endpoint)
	client := dynamodb.NewFromConfig(cfg)
	if err := CreateTable(context.Background(), client, "grantwatch-test"); err != nil {
		t.Fatal(err)
	}
	return client, "grantwatch-test"
}

func TestRunClaims(t *testing.T) {
	client, table := newTable(t)
	s := New(client, table, 400*24*time.Hour)
	ctx := context.Background()
	lease := 15 * time.Minute

	claim, run, err := s.BeginRun(ctx, "r1", t0, t0, lease)
	if err != nil || claim != Started {
		t.Fatalf("first delivery: got %s, %v; want started", claim, err)
	}
	claim, _, err = s.BeginRun(ctx, "r1", t0, t0.Add(time.Minute), lease)
	if err != nil || claim != Busy {
		t.Fatalf("second delivery while running: got %s, %v; want busy", claim, err)
	}
	summary := &result.Summary{RunID: "r1", Planned: 3, Checked: 3}
	if err := s.FinishRun(ctx, run, Complete, summary, "", t0.Add(2*time.Minute)); err != nil {
		t.Fatalf("FinishRun: %v", err)
	}
	claim, stored, err := s.BeginRun(ctx, "r1", t0, t0.Add(3*time.Minute), lease)
	if err != nil || claim != Done || stored.State != Complete || stored.Summary.Checked != 3 {
		t.Fatalf("delivery after the run: got %s %+v, %v; want done with the stored summary", claim, stored, err)
	}

	// An invocation that died: its lease runs out and the next delivery resumes.
	_, dead, err := s.BeginRun(ctx, "r2", t0, t0, lease)
	if err != nil {
		t.Fatal(err)
	}
	claim, resumed, err := s.BeginRun(ctx, "r2", t0, t0.Add(20*time.Minute), lease)
	if err != nil || claim != Resumed || resumed.Attempts != 2 {
		t.Fatalf("after the lease ran out: got %s attempts=%d, %v; want resumed, attempt 2", claim, resumed.Attempts, err)
	}
	if err := s.FinishRun(ctx, dead, Complete, nil, "", t0.Add(21*time.Minute)); err == nil || !strings.Contains(err.Error(), "another invocation") {
		t.Errorf("the dead invocation finishing late: got %v; want it refused", err)
	}
	claim, _, _ = s.BeginRun(ctx, "r2", t0, t0.Add(40*time.Minute), lease)
	if claim != Resumed {
		t.Fatalf("third attempt: got %s; want resumed", claim)
	}
	claim, gaveUp, err := s.BeginRun(ctx, "r2", t0, t0.Add(60*time.Minute), lease)
	if err != nil {
		t.Fatalf("after %d attempts: %v", MaxAttempts, err)
	}
	if claim != Done || gaveUp.State != Failed {
		t.Fatalf("after %d attempts: got %s %s, %v; want done and FAILED", MaxAttempts, claim, gaveUp.State, err)
	}

	// A run nobody retries is failed by the next run's sweep.
	if _, _, err := s.BeginRun(ctx, "r3", t0, t0.Add(time.Hour), lease); err != nil {
		t.Fatal(err)
	}
	// Within the resume window a redelivery may still take it over.
	if n, err := s.FailStaleRuns(ctx, "", t0.Add(-24*time.Hour), t0.Add(2*time.Hour)); err != nil || n != 0 {
		t.Fatalf("FailStaleRuns inside the resume window: got %d, %v; want 0", n, err)
	}
	// The run sweeping never fails itself: it is about to resume it.
	late := t0.Add(2*time.Hour + ResumeWindow)
	if n, err := s.FailStaleRuns(ctx, "r3", t0.Add(-24*time.Hour), late); err != nil || n != 0 {
		t.Fatalf("FailStaleRuns sparing r3: got %d, %v; want 0", n, err)
	}
	n, err := s.FailStaleRuns(ctx, "", t0.Add(-24*time.Hour), late)
	if err != nil || n != 1 {
		t.Fatalf("FailStaleRuns: got %d, %v; want 1", n, err)
	}

	// A run released by its invocation (history could not be written) is
	// resumed by the very next delivery, lease or not.
	_, held, err := s.BeginRun(ctx, "r4", t0, t0.Add(2*time.Hour), lease)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseRun(ctx, held, strings.Repeat("write history: throttled; ", 10000), t0.Add(2*time.Hour+time.Minute)); err != nil {
		t.Fatalf("ReleaseRun: %v", err)
	}
	claim, resumedAfterRelease, err := s.BeginRun(ctx, "r4", t0, t0.Add(2*time.Hour+2*time.Minute), lease)
	if err != nil || claim != Resumed || resumedAfterRelease.Attempts != 2 {
		t.Fatalf("after a release: got %s, %v; want resumed at attempt 2", claim, err)
	}
	if len(resumedAfterRelease.Error) > 1000 {
		t.Errorf("stored error: got %d bytes; want it bounded to 1000", len(resumedAfterRelease.Error))
	}
	runs, err := s.Runs(ctx, t0.Add(-time.Hour), t0.Add(90*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, r := range runs {
		states = append(states, r.ID+"="+string(r.State))
	}
	if got, want := strings.Join(states, " "), "r1=COMPLETE r2=FAILED r3=FAILED"; got != want {
		t.Errorf("runs: got %s; want %s", got, want)
	}
}

func states(account, region string, n int, status result.Status) map[changes.Key]changes.State {
	m := map[changes.Key]changes.State{}
	for i := range n {
		m[changes.Key{Account: account, Region: region, Model: fmt.Sprintf("model-%03d", i)}] = changes.State{
			Status: status, Cause: strings.Repeat("c", 5000), Since: t0, CheckedAt: t0,
		}
	}
	return m
}

func TestLatestStateChunks(t *testing.T) {
	client, table := newTable(t)
	s := New(client, table, 400*24*time.Hour)
	ctx := context.Background()
	ar := AccountRegion{"111111111111", "us-east-1"}

	tests := []struct {
		name       string
		models     int
		wantChunks int
	}{
		{"many models split into chunks", 2*ChunkSize + 5, 3},
		{"fewer models delete the chunks left over", 10, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev, err := s.Latest(ctx, []AccountRegion{ar})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.save(ctx, "run", t0, prev, states(ar.Account, ar.Region, tt.models, result.Enabled), nil); err != nil {
				t.Fatalf("Save: %v", err)
			}
			got, err := s.Latest(ctx, []AccountRegion{ar})
			if err != nil {
				t.Fatal(err)
			}
			if len(got.States) != tt.models || got.chunks[ar] != tt.wantChunks {
				t.Errorf("got %d states in %d chunks; want %d in %d", len(got.States), got.chunks[ar], tt.models, tt.wantChunks)
			}
			if c := got.States[changes.Key{Account: ar.Account, Region: ar.Region, Model: "model-000"}].Cause; len(c) > maxText {
				t.Errorf("cause stored with %d bytes; want at most %d", len(c), maxText)
			}
			out, err := client.Query(ctx, &dynamodb.QueryInput{TableName: &table,
				KeyConditionExpression:    awssdk.String("pk = :pk"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "ACCOUNT#" + ar.Account}}})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Items) != tt.wantChunks {
				t.Errorf("items in the table: got %d; want %d", len(out.Items), tt.wantChunks)
			}
		})
	}
}

func TestHistoryPages(t *testing.T) {
	client, table := newTable(t)
	s := New(client, table, 400*24*time.Hour)
	ctx := context.Background()
	account := "222222222222"
	var events []changes.Event
	for day := range 10 {
		for _, region := range []string{"us-east-1", "us-west-2"} {
			for _, model := range []string{"m1", "m2", "m3"} {
				events = append(events, changes.Event{At: t0.Add(time.Duration(day) * 24 * time.Hour),
					Result: result.Result{Account: account, Region: region, Model: model, Status: result.NotEntitled, Cause: "x"}})
			}
		}
	}
	if err := s.save(ctx, "run", t0, nil, nil, events); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		q         Query
		wantTotal int
		wantPages int
	}{
		{"everything, 25 a page", Query{Account: account, Limit: 25}, 60, 3},
		{"one region and model", Query{Account: account, Region: "us-west-2", Model: "m2", Limit: 4}, 10, 3},
		{"time range", Query{Account: account, Since: t0.Add(2 * 24 * time.Hour), Until: t0.Add(4 * 24 * time.Hour), Limit: 50}, 18, 1},
		{"other account", Query{Account: "333333333333"}, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var all []Entry
			pages := 0
			q := tt.q
			for {
				page, next, err := s.History(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				if len(page) > q.Limit && q.Limit > 0 {
					t.Fatalf("page of %d entries; want at most %d", len(page), q.Limit)
				}
				all = append(all, page...)
				if next == "" {
					break
				}
				q.PageToken = next
			}
			if len(all) != tt.wantTotal || pages != tt.wantPages {
				t.Errorf("got %d entries in %d pages; want %d in %d", len(all), pages, tt.wantTotal, tt.wantPages)
			}
			for i := 1; i < len(all); i++ {
				if all[i].At.After(all[i-1].At) {
					t.Fatalf("entry %d is newer than entry %d: want newest first", i, i-1)
				}
			}
		})
	}

	bad := []struct {
		name string
		q    Query
		want string
	}{
		{"bad account", Query{Account: "12"}, `account "12" is not 12 digits`},
		{"foreign token", Query{Account: account, PageToken: "eyJwayI6IkFDQ09VTlQjMzMzMzMzMzMzMzMzIiwic2siOiJFVkVOVCMifQ"}, "is not a token of this account's history"},
		{"garbage token", Query{Account: account, PageToken: "%%%"}, "page token"},
		{"limit too large", Query{Account: account, Limit: 5000}, "limit 5000"},
		{"until before since", Query{Account: account, Since: t0, Until: t0.Add(-time.Hour)}, "until is before since"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.History(ctx, tt.q)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v; want an error containing %q", err, tt.want)
			}
			if !errors.Is(err, ErrBadQuery) {
				t.Errorf("got %v; want it marked ErrBadQuery, so that callers answer 400", err)
			}
		})
	}
}

// stingyAPI passes batch writes to the real server but hands back all but
// the first `keep` items of every batch as unprocessed, as DynamoDB does
// under load; with keep 0 it never writes anything.
type stingyAPI struct {
	API
	keep  int
	calls atomic.Int64
}

func (s *stingyAPI) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	s.calls.Add(1)
	out := &dynamodb.BatchWriteItemOutput{UnprocessedItems: map[string][]types.WriteRequest{}}
	for table, reqs := range in.RequestItems {
		n := min(s.keep, len(reqs))
		if n > 0 {
			if _, err := s.API.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs[:n]}}, opts...); err != nil {
				return nil, err
			}
		}
		if n < len(reqs) {
			out.UnprocessedItems[table] = reqs[n:]
		}
	}
	return out, nil
}

func TestSaveRetriesUnprocessedItems(t *testing.T) {
	client, table := newTable(t)
	ctx := context.Background()
	quick := WithRetries(8, func(int) time.Duration { return time.Millisecond })
	ar := AccountRegion{"111111111111", "us-east-1"}

	stingy := &stingyAPI{API: client, keep: 10}
	s := New(stingy, table, 24*time.Hour, quick)
	var events []changes.Event
	for i := range 25 {
		events = append(events, changes.Event{At: t0, Result: result.Result{Account: ar.Account, Region: ar.Region, Model: fmt.Sprintf("m%02d", i), Status: result.Enabled}})
	}
	if err := s.save(ctx, "run", t0, nil, states(ar.Account, ar.Region, 5, result.Enabled), events); err != nil {
		t.Fatalf("Save with unprocessed items: %v", err)
	}
	// 26 items: a batch of 25 (10 + 10 + 5 processed) and a batch of 1.
	if got, want := stingy.calls.Load(), int64(4); got != want {
		t.Errorf("BatchWriteItem calls: got %d; want %d", got, want)
	}
	page, _, err := New(client, table, 24*time.Hour).History(ctx, Query{Account: ar.Account, Limit: 100})
	if err != nil || len(page) != 25 {
		t.Fatalf("events stored: got %d, %v; want 25", len(page), err)
	}

	// A table that never takes the items: the save fails loudly, and what
	// was stored before is intact.
	s = New(&stingyAPI{API: client, keep: 0}, table, 24*time.Hour, WithRetries(3, func(int) time.Duration { return time.Millisecond }))
	err = s.save(ctx, "run2", t0.Add(time.Hour), nil, states(ar.Account, ar.Region, 5, result.NotEntitled), nil)
	if err == nil || !strings.Contains(err.Error(), "still unprocessed after 3 attempts (0 of 1 written)") {
		t.Fatalf("Save to a table that takes nothing: got %v; want a loud error", err)
	}
	snap, err := New(client, table, 24*time.Hour).Latest(ctx, []AccountRegion{ar})
	if err != nil {
		t.Fatal(err)
	}
	if got := snap.States[changes.Key{Account: ar.Account, Region: ar.Region, Model: "model-000"}].Status; got != result.Enabled {
		t.Errorf("state after the failed save: got %s; want the earlier ENABLED", got)
	}
}

// A save refused part way leaves every event it wrote before the latest state
// it explains, so the next run sees the same change and no event is lost.
func TestSaveRefusedPartWayLosesNoEvent(t *testing.T) {
	ddb := testenv.DynamoDB(t)
	proxy := testenv.NewProxy(t, ddb.Endpoint)
	cfg := testenv.AWSConfig(t, proxy.URL)
	client := dynamodb.NewFromConfig(cfg)
	ctx := context.Background()
	if err := CreateTable(ctx, client, "grantwatch-test"); err != nil {
		t.Fatal(err)
	}
	s := New(client, "grantwatch-test", 400*24*time.Hour, WithRetries(2, func(int) time.Duration { return time.Millisecond }))

	// 30 account-regions of 2 models, all changed: 60 events and 30 latest items,
	// 90 writes in 4 batches. The last batch is refused.
	current := map[changes.Key]changes.State{}
	var events []changes.Event
	var ars []AccountRegion
	for i := range 30 {
		account := fmt.Sprintf("%012d", 100000000000+i)
		ars = append(ars, AccountRegion{account, "us-east-1"})
		for _, m := range []string{"model-a", "model-b"} {
			r := result.Result{Account: account, Region: "us-east-1", Model: m, Status: result.NotEntitled, Cause: "c", Remediation: "r"}
			current[changes.Key{Account: account, Region: "us-east-1", Model: m}] = changes.State{Status: result.NotEntitled, Since: t0, CheckedAt: t0}
			events = append(events, changes.Event{Result: r, At: t0, Previous: result.Enabled})
		}
	}
	proxy.SetRule(func(op string, n int) testenv.Action {
		if op == "BatchWriteItem" && n >= 4 {
			return testenv.Refuse
		}
		return testenv.Pass
	})
	prev, err := s.Latest(ctx, ars)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.save(ctx, "run-1", t0, prev, current, events); err == nil {
		t.Fatal("Save with the last batch refused: got no error; want one")
	}
	proxy.SetRule(nil)

	stored := 0
	for _, ar := range ars {
		entries, _, err := s.History(ctx, Query{Account: ar.Account, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		stored += len(entries)
	}
	if stored != len(events) {
		t.Errorf("events stored after the refused save: got %d; want all %d, written before the latest state", stored, len(events))
	}
	after, err := s.Latest(ctx, ars)
	if err != nil {
		t.Fatal(err)
	}
	if len(after.States) == len(current) {
		t.Errorf("latest state: every item was written although the last batch was refused")
	}
	// What the latest state lacks, the next save writes: the change is seen again.
	if err := s.save(ctx, "run-1", t0, after, current, events); err != nil {
		t.Fatalf("second save: %v", err)
	}
	if final, err := s.Latest(ctx, ars); err != nil || len(final.States) != len(current) {
		t.Errorf("latest state after the second save: got %d states, %v; want %d", len(final.States), err, len(current))
	}
}

// A principal's check is stored beside its account's, read back as its own
// state, and shows in the history and the latest state with its principal.
func TestPrincipalChecksKeepTheirPrincipal(t *testing.T) {
	client, table := newTable(t)
	s := New(client, table, 400*24*time.Hour)
	ctx := context.Background()
	ar := AccountRegion{"111111111111", "us-east-1"}
	account := result.Result{Account: ar.Account, Region: ar.Region, Model: "m", Status: result.Enabled, Cause: "usable"}
	principal := account
	principal.Principal, principal.Status, principal.Cause = "ChatApp", result.SCPDenied, "an SCP denies us-east-2"
	states := map[changes.Key]changes.State{
		changes.KeyOf(account):   {Status: account.Status, Cause: account.Cause, CheckedAt: t0},
		changes.KeyOf(principal): {Status: principal.Status, Cause: principal.Cause, CheckedAt: t0},
	}
	events := []changes.Event{{At: t0, Result: account}, {At: t0, Result: principal}}
	if err := s.save(ctx, "run", t0, nil, states, events); err != nil {
		t.Fatal(err)
	}
	snap, err := s.Latest(ctx, []AccountRegion{ar})
	if err != nil {
		t.Fatal(err)
	}
	if got := snap.States[changes.KeyOf(principal)].Status; got != result.SCPDenied || len(snap.States) != 2 {
		t.Errorf("latest: got %d states, the principal's %q; want 2, SCP_DENIED", len(snap.States), got)
	}
	entries, _, err := s.History(ctx, Query{Account: ar.Account})
	if err != nil {
		t.Fatal(err)
	}
	latest, err := s.LatestOf(ctx, ar.Account)
	if err != nil {
		t.Fatal(err)
	}
	for name, list := range map[string][]Entry{"history": entries, "latest": latest} {
		var got []string
		for _, e := range list {
			got = append(got, e.Model+"/"+e.Principal+"="+string(e.Status))
		}
		slices.Sort(got)
		if want := []string{"m/=ENABLED", "m/ChatApp=SCP_DENIED"}; !slices.Equal(got, want) {
			t.Errorf("%s: got %v; want %v", name, got, want)
		}
	}
	// A usable check's generic cause is not stored; the latest view says so
	// in its place, and keeps the cause of one that is not usable.
	if got := snap.States[changes.KeyOf(account)].Cause; got != "" {
		t.Errorf("stored cause of a usable check: got %q; want none", got)
	}
	for _, e := range latest {
		want := map[string]string{"": "usable at the last check", "ChatApp": principal.Cause}[e.Principal]
		if e.Cause != want {
			t.Errorf("latest cause for principal %q: got %q; want %q", e.Principal, e.Cause, want)
		}
	}
}

// The suppression a check is muted under is stored with its state (its
// long texts capped), so that the reminder sent when it ends can name it.
func TestMutedStateKeepsItsSuppression(t *testing.T) {
	client, table := newTable(t)
	s := New(client, table, 400*24*time.Hour)
	ctx := context.Background()
	ar := AccountRegion{"111111111111", "us-east-1"}
	key := changes.Key{Account: ar.Account, Region: ar.Region, Model: "m"}
	under := &result.Suppressed{Reason: strings.Repeat("r", 3*maxText), Owner: "ml@example.com", Until: "2026-12-31"}
	st := changes.State{Status: result.AgreementMissing, Since: t0, CheckedAt: t0, Muted: true, MutedBy: under}
	prev, err := s.Latest(ctx, []AccountRegion{ar})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.save(ctx, "run", t0, prev, map[changes.Key]changes.State{key: st}, nil); err != nil {
		t.Fatalf("Save: %v", err)
	}
	got, err := s.Latest(ctx, []AccountRegion{ar})
	if err != nil {
		t.Fatal(err)
	}
	m := got.States[key].MutedBy
	if m == nil || !got.States[key].Muted || m.Owner != under.Owner || m.Until != under.Until || len(m.Reason) > maxText || !strings.HasPrefix(m.Reason, "rrr") {
		t.Fatalf("stored state: muted %v by %+v; want muted by the suppression, its reason capped at %d bytes", got.States[key].Muted, m, maxText)
	}
	if !unchanged(got.States[key], st) {
		t.Errorf("a state read back is not unchanged from the one saved: the next run would rewrite it")
	}
}

// A latest-state item holds ChunkSize checks whatever their texts: every
// text a state keeps (cause, remediation, the audit error, the suppression
// it is muted by) is capped, so a full chunk of the longest texts stays under
// DynamoDB's 400 KB item limit, which dynalite enforces too (ledger:
// DDB-item-size-400kb).
func TestLatestStateChunkOfLongTextsFitsAnItem(t *testing.T) {
	client, table := newTable(t)
	s := New(client, table, 400*24*time.Hour)
	ctx := context.Background()
	ar := AccountRegion{"111111111111", "us-east-1"}
	long := strings.Repeat("x", 20000)
	next := map[changes.Key]changes.State{}
	for i := range ChunkSize {
		k := changes.Key{Account: ar.Account, Region: ar.Region, Model: fmt.Sprintf("model-%03d", i), Principal: "arn:aws:iam::111111111111:role/" + strings.Repeat("p", 60)}
		next[k] = changes.State{
			Status: result.AgreementMissing, Cause: long, Remediation: long, AuditError: long,
			Since: t0, CheckedAt: t0, AuditSince: t0, Muted: true,
			MutedBy: &result.Suppressed{Reason: long, Owner: long, Until: "2030-06-30"},
		}
	}
	if err := s.save(ctx, "run", t0, nil, next, nil); err != nil {
		t.Fatalf("Save of one chunk of %d states with %d-byte texts: %v", ChunkSize, len(long), err)
	}
	got, err := s.Latest(ctx, []AccountRegion{ar})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.States) != ChunkSize {
		t.Fatalf("got %d states; want %d", len(got.States), ChunkSize)
	}
	for k, st := range got.States {
		if len(st.AuditError) > maxText || len(st.Cause) > maxText || st.MutedBy == nil || len(st.MutedBy.Reason) > maxText {
			t.Errorf("%v stored with audit error %d, cause %d bytes, suppression %v; want each text at most %d", k, len(st.AuditError), len(st.Cause), st.MutedBy != nil, maxText)
		}
	}
}

// SaveRun rewrites only the account-regions whose states changed: a steady
// run leaves the items of the one before (their run id shows who wrote them).
func TestSaveRunRewritesOnlyChangedAccountRegions(t *testing.T) {
	client, table := newTable(t)
	s := New(client, table, 400*24*time.Hour)
	ctx := context.Background()
	steady, moved := AccountRegion{"111111111111", "us-east-1"}, AccountRegion{"222222222222", "us-east-1"}
	ars := []AccountRegion{steady, moved}
	first := states(steady.Account, steady.Region, 3, result.Enabled)
	maps.Copy(first, states(moved.Account, moved.Region, 3, result.Enabled))
	if err := s.SaveRun(ctx, "run-1", t0, nil, first, nil); err != nil {
		t.Fatalf("SaveRun run-1: %v", err)
	}
	prev, err := s.Latest(ctx, ars)
	if err != nil {
		t.Fatal(err)
	}
	second := states(steady.Account, steady.Region, 3, result.Enabled)
	maps.Copy(second, states(moved.Account, moved.Region, 3, result.NotEntitled))
	if err := s.SaveRun(ctx, "run-2", t0.Add(time.Hour), prev, second, nil); err != nil {
		t.Fatalf("SaveRun run-2: %v", err)
	}
	for _, tt := range []struct {
		ar      AccountRegion
		wantRun string
	}{
		{ar: steady, wantRun: "run-1"},
		{ar: moved, wantRun: "run-2"},
	} {
		entries, err := s.LatestOf(ctx, tt.ar.Account)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 3 {
			t.Fatalf("account %s: got %d latest entries; want 3", tt.ar.Account, len(entries))
		}
		for _, e := range entries {
			if e.RunID != tt.wantRun {
				t.Errorf("account %s model %s: written by %q; want %q", tt.ar.Account, e.Model, e.RunID, tt.wantRun)
			}
		}
	}
}
