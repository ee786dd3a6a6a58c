package changes

import (
	"reflect"
	"testing"

	"github.com/grantwatch/grantwatch/pkg/result"
)

// The tallies of a run's batches add up to the tally of all its alerts.
func TestTallyAdd(t *testing.T) {
	alert := func(account, region string, k Kind, sev result.Severity) Alert {
		return Alert{Kind: k, Severity: sev, Result: result.Result{Account: account, Region: region}}
	}
	first := []Alert{alert("111111111111", "us-west-2", New, result.Warning), alert("111111111111", "us-east-1", Resolved, result.Info)}
	second := []Alert{alert("222222222222", "eu-west-1", New, result.Critical), alert("222222222222", "us-east-1", Reminder, result.Warning)}
	onPrincipal := alert("333333333333", "us-east-1", New, result.Warning)
	onPrincipal.Result.Principal = "app"
	second = append(second, onPrincipal)
	var sum Tally
	sum.Add(TallyOf(first))
	sum.Add(TallyOf(second))
	want := TallyOf(append(first, second...))
	if !reflect.DeepEqual(sum, want) {
		t.Errorf("got %+v; want %+v", sum, want)
	}
	if want.Severity != result.Critical || !reflect.DeepEqual(want.Regions, []string{"eu-west-1", "us-east-1", "us-west-2"}) {
		t.Errorf("tally of all: got severity %s regions %v; want critical, three sorted regions", want.Severity, want.Regions)
	}
	if got, checks, principals := sum.Total(), sum.ChecksTotal(), sum.PrincipalsTotal(); got != 5 || checks != 4 || principals != 1 {
		t.Errorf("total: got %d (%d on account checks, %d on principal results); want 5 (4, 1)", got, checks, principals)
	}
	if got := sum.AccountIDs(); !reflect.DeepEqual(got, []string{"111111111111", "222222222222", "333333333333"}) {
		t.Errorf("accounts: got %v; want the three, sorted", got)
	}
	if !(Tally{}).Empty() || sum.Empty() {
		t.Errorf("Empty: got %v for none, %v for five alerts", (Tally{}).Empty(), sum.Empty())
	}
}
