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
	if got := sum.Total(); got != 4 {
		t.Errorf("total: got %d; want 4", got)
	}
	if !(Tally{}).Empty() || sum.Empty() {
		t.Errorf("Empty: got %v for none, %v for four alerts", (Tally{}).Empty(), sum.Empty())
	}
}
