package check

import (
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/result"
)

func TestSuppress(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	results := []result.Result{
		{Account: "111111111111", Region: "us-east-1", Model: "m", Status: result.AgreementMissing},
		{Account: "111111111111", Region: "us-east-1", Model: "m", Principal: "ChatApp", Status: result.MarketplaceDenied},
		{Account: "222222222222", Region: "us-east-1", Model: "m", Status: result.AgreementFailed},
		{Account: "333333333333", Region: "eu-west-1", Model: "m", Status: result.NotInRegion},
	}
	suppressions := []config.Suppression{
		{Account: "111111111111", Model: "m", Principal: "ChatApp", Reason: "by principal", Owner: "a", Until: "2027-01-01"},
		{OU: "ou-ab12-sand0000", Reason: "by OU", Owner: "b", Until: "2027-01-01"},
		{Account: "222222222222", Reason: "expired", Owner: "c", Until: "2026-11-26"},
		{Model: "never.required", Reason: "stale", Owner: "d", Until: "2027-01-01"},
	}
	ous := map[string][]string{"333333333333": {"ou-ab12-sand0000"}}
	warnings := Suppress(results, suppressions, ous, now)
	want := []string{"", "by principal", "", "by OU"}
	for i, r := range results {
		got := ""
		if sp := r.SuppressedBy(); sp != nil {
			got = sp.Reason
		}
		if got != want[i] {
			t.Errorf("%s/%s/%s: suppressed by %q; want %q", r.Account, r.Model, r.Principal, got, want[i])
		}
		if r.Status == "" {
			t.Errorf("status lost")
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "suppressions[3] (stale, owner d) matches no check") {
		t.Errorf("warnings: got %v; want one for suppressions[3]", warnings)
	}
}
