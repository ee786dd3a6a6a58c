package history

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/grantwatch/grantwatch/pkg/changes"
	"github.com/grantwatch/grantwatch/pkg/result"
)

// A batch item holds the batch's accounts, bounded summary, tally and the
// missing agreements for Finish: however large each is, the whole item
// stays under DynamoDB's 400 KB (ledger: DDB-item-size-400kb), so that
// FinishBatch succeeds and the batch's audited accounts are not recorded
// as audit errors; the agreements that had no room are counted.
func TestMaximalBatchItemIsWritten(t *testing.T) {
	client, table := newTable(t)
	s := New(client, table, 400*24*time.Hour)
	ctx := context.Background()

	// 1,000 accounts, each five OUs deep (the most AWS Organizations
	// nests), with ids of the usual length, and several kinds of alerts on
	// each account and its principals.
	accounts := make([]BatchAccount, 1000)
	tally := changes.Tally{Accounts: map[string]map[changes.Kind]int{}, Principals: map[string]map[changes.Kind]int{}}
	var unreached []string
	for i := range accounts {
		id := fmt.Sprintf("%012d", 100000000000+i)
		accounts[i] = BatchAccount{ID: id, OUs: []string{"r-ab12"}}
		for d := range 5 {
			accounts[i].OUs = append(accounts[i].OUs, fmt.Sprintf("ou-ab12-%02d%06d", d, i))
		}
		tally.Accounts[id] = map[changes.Kind]int{changes.New: 3, changes.Reminder: 4, changes.AuditFailed: 5}
		tally.Principals[id] = map[changes.Kind]int{changes.New: 3, changes.Resolved: 2}
		unreached = append(unreached, id)
	}
	// Lines of HTML error pages: each < > & is stored as 6 bytes.
	page := strings.Repeat("<html>&", 150)
	lines := func(n int, format string) []string {
		l := make([]string, n)
		for i := range l {
			l[i] = fmt.Sprintf(format, i)
		}
		return l
	}
	summary := &result.Summary{Errors: lines(2000, page+" error %d"), Warnings: lines(2000, page+" warning %d"), Unreached: unreached}
	var remediable []RemediableAgreement
	for i := range 20000 {
		a := accounts[i%len(accounts)].ID
		remediable = append(remediable, RemediableAgreement{Account: a, Region: "ap-southeast-7", Model: fmt.Sprintf("anthropic.claude-model-%05d-v1:0", i),
			Checks: []string{"anthropic.claude-3-5-sonnet-20240620-v1:0"}, Covers: []RemediableRegion{{Region: "eu-central-2", Checks: []string{"eu.anthropic.claude-3-5-sonnet-20240620-v1:0"}}}})
	}

	tests := []struct {
		name string
		b    Batch
		// wantKept says whether some agreements must fit.
		wantKept bool
	}{
		{name: "everything at its bound", b: Batch{Accounts: accounts, Summary: summary, Tally: tally, Remediable: remediable, RemediableCut: 7}, wantKept: true},
		{name: "few accounts, many agreements", b: Batch{Accounts: accounts[:10], Summary: &result.Summary{Checked: 10}, Remediable: remediable, RemediableCut: 7}, wantKept: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runID := fmt.Sprintf("maximal-%d", i)
			b := tt.b
			b.Index = i
			if err := s.PutBatches(ctx, runID, []Batch{{Index: i, Accounts: b.Accounts}}, t0); err != nil {
				t.Fatalf("PutBatches: %v", err)
			}
			_, claimed, err := s.ClaimBatch(ctx, runID, i, "invocation", t0, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			b.owner, b.HeldUntil = claimed.owner, claimed.HeldUntil
			if err := s.FinishBatch(ctx, runID, b, t0); err != nil {
				t.Fatalf("FinishBatch: %v; want the item written", err)
			}
			out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: batchKey(runID, i)})
			if err != nil || out.Item == nil {
				t.Fatalf("GetItem: %v, %v", out, err)
			}
			if size := itemSize(out.Item); size > maxBatchItem {
				t.Errorf("batch item: got %d bytes; want at most %d", size, maxBatchItem)
			}
			got, err := s.GetBatch(ctx, runID, i)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Done || len(got.Accounts) != len(b.Accounts) {
				t.Errorf("batch read back: got done %v, %d accounts; want done, %d", got.Done, len(got.Accounts), len(b.Accounts))
			}
			if n := len(got.Remediable) + got.RemediableCut; n != len(remediable)+7 {
				t.Errorf("agreements kept and cut: got %d + %d; want %d in all", len(got.Remediable), got.RemediableCut, len(remediable)+7)
			}
			if tt.wantKept && (len(got.Remediable) == 0 || got.Remediable[0].Model != remediable[0].Model) {
				t.Errorf("agreements kept: got %d; want the first ones, in order", len(got.Remediable))
			}
		})
	}
}
