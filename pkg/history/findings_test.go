package history

import (
	"context"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/result"
)

// The findings grantwatch keeps: read back by account (every region) and
// all at once from gsi1; entries archived a retention ago dropped; a set
// left empty deleted; a set rewritten before it would expire.
func TestFindingsKeptPerAccountRegion(t *testing.T) {
	ctx := context.Background()
	client, table := newTable(t)
	retention := 30 * 24 * time.Hour
	s := New(client, table, retention)

	open := Finding{Model: "amazon.nova-pro-v1:0", Status: result.NotAuthorized, CreatedAt: t0, Workflow: "SUPPRESSED"}
	old := Finding{Model: "m-old", Status: result.NotEntitled, CreatedAt: t0, Workflow: "RESOLVED", ArchivedAt: t0}
	recent := Finding{Model: "m-recent", Principal: "ChatApp", Status: result.SCPDenied, CreatedAt: t0, Workflow: "RESOLVED", ArchivedAt: t0.Add(20 * 24 * time.Hour)}
	sets := []*Findings{
		{AccountRegion: AccountRegion{"111111111111", "us-east-1"}, ByID: map[string]Finding{"a": open, "b": old, "c": recent}},
		{AccountRegion: AccountRegion{"111111111111", "eu-west-1"}, ByID: map[string]Finding{"d": open}},
		{AccountRegion: AccountRegion{"222222222222", "us-east-1"}, ByID: map[string]Finding{"e": open}},
	}
	at := t0.Add(31 * 24 * time.Hour)
	if err := s.SaveFindings(ctx, sets, at); err != nil {
		t.Fatal(err)
	}
	mine, err := s.FindingsOf(ctx, []string{"111111111111"})
	if err != nil {
		t.Fatal(err)
	}
	if len(mine) != 2 {
		t.Fatalf("findings of 111111111111: got %d account-regions; want 2", len(mine))
	}
	got := mine[AccountRegion{"111111111111", "us-east-1"}]
	if _, ok := got.ByID["b"]; ok || len(got.ByID) != 2 {
		t.Errorf("us-east-1: got %v; want a and c (b was archived more than a retention ago)", got.ByID)
	}
	if a := got.ByID["a"]; !a.CreatedAt.Equal(t0) || a.Workflow != "SUPPRESSED" || !a.Open() {
		t.Errorf("a: got %+v; want it as saved", a)
	}
	if c := got.ByID["c"]; c.Open() || c.Principal != "ChatApp" {
		t.Errorf("c: got %+v; want archived, with its principal", c)
	}
	if s.StaleFindings(got, at) || !s.StaleFindings(got, at.Add(retention/2+time.Hour)) {
		t.Errorf("stale: want fresh right after the write, stale half a retention later")
	}

	all, err := s.AllFindings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Errorf("all findings: got %d account-regions; want 3", len(all))
	}

	// Nothing left to remember: the set is deleted.
	empty := &Findings{AccountRegion: AccountRegion{"222222222222", "us-east-1"}, ByID: map[string]Finding{}}
	if err := s.SaveFindings(ctx, []*Findings{empty}, at); err != nil {
		t.Fatal(err)
	}
	if theirs, err := s.FindingsOf(ctx, []string{"222222222222"}); err != nil || len(theirs) != 0 {
		t.Errorf("findings of 222222222222 after emptying: got %v, %v; want none", theirs, err)
	}
}
