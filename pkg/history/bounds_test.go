package history

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/result"
)

// A run whose summary grows without bound (an error line for each of
// thousands of accounts, thousands of unmatched suppressions, a reason of
// 700 KB) is still stored, its lists cut with the rest counted; DynamoDB
// refuses an item over 400 KB (ledger: DDB-item-size-400kb), and dynalite
// enforces it.
func TestRunWithHugeSummaryIsStored(t *testing.T) {
	client, table := newTable(t)
	s := New(client, table, 24*time.Hour)
	ctx := context.Background()

	lines := func(n int, format string) []string {
		l := make([]string, n)
		for i := range l {
			l[i] = fmt.Sprintf(format, i)
		}
		return l
	}
	tests := []struct {
		name    string
		summary result.Summary
	}{
		{
			name: "10,000 error lines",
			summary: result.Summary{Errors: lines(10000, "account %012d: read the use-case form: AccessDeniedException: User: arn:aws:sts::111111111111:assumed-role/GrantwatchAudit/grantwatch is not authorized to perform: bedrock:GetUseCaseForModelAccess (the member stack predates this permission)"),
				Unreached: lines(12000, "%012d")},
		},
		{
			// A proxy's HTML page in every error and warning: Go's JSON
			// writes each of < > & as 6 bytes, so a list bounded by its
			// raw bytes would grow up to six times over when stored.
			name: "thousands of lines of HTML error pages",
			summary: result.Summary{Errors: lines(3000, "account %012d: assume role: "+strings.Repeat("<p>&lt;&gt;</p>", 70)),
				Warnings:  lines(3000, "suppressions[%d] <b>&amp;</b> "+strings.Repeat("<i>&</i>", 110)),
				Unreached: lines(12000, "%012d")},
		},
		{
			name: "6,000 unmatched suppressions and one with a 700 KB reason",
			summary: result.Summary{Warnings: append([]string{"suppressions[0] (" + strings.Repeat("r", 700<<10) + ", owner ml@example.com) matches no check: remove it, or fix its selectors"},
				lines(6000, "suppressions[%d] (accepted risk, owner ml@example.com) matches no check: remove it, or fix its selectors")...)},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("huge-%d", i)
			_, run, err := s.BeginRun(ctx, id, t0, t0, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.FinishRun(ctx, run, Failed, &tt.summary, strings.Join(tt.summary.Errors, "; "), t0.Add(time.Minute)); err != nil {
				t.Fatalf("FinishRun: %v", err)
			}
			stored, err := s.GetRun(ctx, id)
			if err != nil || stored == nil || stored.State != Failed || stored.Summary == nil {
				t.Fatalf("stored run: got %+v, %v; want FAILED with its summary", stored, err)
			}
			sum := stored.Summary
			checkCut(t, "errors", sum.Errors, len(tt.summary.Errors))
			checkCut(t, "warnings", sum.Warnings, len(tt.summary.Warnings))
			checkCut(t, "unreached", sum.Unreached, len(tt.summary.Unreached))
			for _, l := range append(sum.Errors, sum.Warnings...) {
				if len(l) > maxText {
					t.Fatalf("stored line of %d bytes; want at most %d", len(l), maxText)
				}
			}
		})
	}

	// A batch's summary is bounded too, and the run that adds up the
	// batches' cut lists counts every line left out.
	var whole result.Summary
	for i := range 3 {
		b := Batch{Index: i, Accounts: []BatchAccount{{ID: fmt.Sprintf("%012d", i)}},
			Summary: &result.Summary{Errors: lines(1000, fmt.Sprintf("batch %d error %%d", i))}}
		if err := s.PutBatches(ctx, "huge-batches", []Batch{b}, t0); err != nil {
			t.Fatal(err)
		}
		_, claimed, err := s.ClaimBatch(ctx, "huge-batches", i, "invocation", t0, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		claimed.Summary = b.Summary
		if err := s.FinishBatch(ctx, "huge-batches", *claimed, t0); err != nil {
			t.Fatalf("FinishBatch: %v", err)
		}
	}
	batches, err := s.Batches(ctx, "huge-batches")
	if err != nil || len(batches) != 3 {
		t.Fatalf("batches: got %d, %v; want 3", len(batches), err)
	}
	for _, b := range batches {
		checkCut(t, fmt.Sprintf("batch %d errors", b.Index), b.Summary.Errors, 1000)
		whole.Add(*b.Summary)
	}
	checkCut(t, "the run's errors", boundSummary(&whole).Errors, 3000)
}

// checkCut checks that a stored list is within its bounds and that its
// lines and the count of those left out make up the total.
func checkCut(t *testing.T, name string, l []string, total int) {
	t.Helper()
	if total == 0 {
		return
	}
	size, listed, more := 0, 0, 0
	for _, line := range l {
		size += len(line)
		if len(line) > maxText {
			t.Errorf("%s: a line of %d bytes; want at most %d", name, len(line), maxText)
		}
		if n, ok := moreCount(line); ok {
			more += n
		} else {
			listed++
		}
	}
	if size > maxUnreachedSize || len(l) > maxUnreached {
		t.Errorf("%s: got %d lines, %d bytes; want them bounded", name, len(l), size)
	}
	if listed+more != total || more == 0 {
		t.Errorf("%s: got %d lines listed and %d counted; want %d in all, some counted", name, listed, more, total)
	}
}

func TestBoundList(t *testing.T) {
	tests := []struct {
		name     string
		in       []string
		maxLines int
		want     []string
	}{
		{name: "within bounds", in: []string{"a", "b"}, maxLines: 3, want: []string{"a", "b"}},
		{name: "one too many", in: []string{"a", "b", "c", "d"}, maxLines: 3, want: []string{"a", "b", "... and 2 more"}},
		{name: "counts of an earlier cut", in: []string{"a", "... and 1,000 more", "b", "c"}, maxLines: 3, want: []string{"a", "b", "... and 1,001 more"}},
		{name: "a lone marker is read", in: []string{"a", "... and 7 more"}, maxLines: 3, want: []string{"a", "... and 7 more"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := boundList(tt.in, tt.maxLines, 1<<20, 100)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}

// Finish's record of what it sent for the batches that never finished may
// name every account of a large organization: it is stored in items under
// DynamoDB's 400 KB, and read back whole. A record that grows keeps what
// it held.
func TestSentRecordOfThousandsOfAccounts(t *testing.T) {
	client, table := newTable(t)
	s := New(client, table, 24*time.Hour)
	ctx := context.Background()
	sent := map[string]string{}
	for i := range 30000 {
		sent[fmt.Sprintf("%012d", i)] = fmt.Sprintf("%016x", i)
	}
	for _, part := range []int{-1, 7} {
		if err := s.RecordSent(ctx, "sent-run", part, sent, t0); err != nil {
			t.Fatalf("part %d: RecordSent of %d accounts: %v", part, len(sent), err)
		}
		sent["999999999999"] = "ffffffffffffffff"
		if err := s.RecordSent(ctx, "sent-run", part, sent, t0); err != nil {
			t.Fatalf("part %d: RecordSent grown: %v", part, err)
		}
		got, err := s.SentAlerts(ctx, "sent-run", part)
		if err != nil || len(got) != len(sent) {
			t.Fatalf("part %d: SentAlerts: got %d accounts, %v; want %d", part, len(got), err, len(sent))
		}
		for account, fp := range sent {
			if got[account] != fp {
				t.Fatalf("part %d: account %s: got %q; want %q", part, account, got[account], fp)
			}
		}
		delete(sent, "999999999999")
	}
	if got, err := s.SentAlerts(ctx, "sent-run", 8); err != nil || len(got) != 0 {
		t.Errorf("a batch that sent nothing: got %d accounts, %v; want none", len(got), err)
	}
}
