package changes

import (
	"slices"

	"github.com/grantwatch/grantwatch/pkg/result"
)

// Tally counts a run's alerts by account and kind: what the run's digest
// says. The parts of a run that alert for their own accounts (the batches
// of a sharded run) each keep one; the run adds them up for its digest.
type Tally struct {
	Accounts map[string]map[Kind]int `json:"accounts,omitempty"`
	// Severity is the loudest alert's; Regions are the alerts' regions, sorted.
	Severity result.Severity `json:"severity,omitempty"`
	Regions  []string        `json:"regions,omitempty"`
}

// TallyOf counts alerts.
func TallyOf(alerts []Alert) Tally {
	var t Tally
	for _, a := range alerts {
		t.add(a.Result.Account, a.Kind, 1, a.Severity, a.Result.Region)
	}
	return t
}

// Add adds o's counts to t.
func (t *Tally) Add(o Tally) {
	for account, kinds := range o.Accounts {
		for k, n := range kinds {
			t.add(account, k, n, o.Severity, "")
		}
	}
	for _, r := range o.Regions {
		t.addRegion(r)
	}
}

// Total is how many alerts t counts.
func (t Tally) Total() int {
	n := 0
	for _, kinds := range t.Accounts {
		for _, c := range kinds {
			n += c
		}
	}
	return n
}

// Empty reports whether t counts no alert.
func (t Tally) Empty() bool { return len(t.Accounts) == 0 }

func (t *Tally) add(account string, k Kind, n int, sev result.Severity, region string) {
	if t.Accounts == nil {
		t.Accounts = map[string]map[Kind]int{}
	}
	if t.Accounts[account] == nil {
		t.Accounts[account] = map[Kind]int{}
	}
	t.Accounts[account][k] += n
	if t.Severity == "" || sev.Rank() > t.Severity.Rank() {
		t.Severity = sev
	}
	if region != "" {
		t.addRegion(region)
	}
}

func (t *Tally) addRegion(r string) {
	if i, found := slices.BinarySearch(t.Regions, r); !found {
		t.Regions = slices.Insert(t.Regions, i, r)
	}
}
