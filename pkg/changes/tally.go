package changes

import (
	"maps"
	"slices"

	"github.com/grantwatch/grantwatch/pkg/result"
)

// Tally counts a run's alerts by account and kind (the kind shown, see
// Alert.Shown): what the run's digest
// says. Alerts on account checks and alerts on principal results are
// counted apart, as the run's summary counts them. The parts of a run that
// alert for their own accounts (the batches of a sharded run) each keep
// one; the run adds them up for its digest.
type Tally struct {
	// Accounts counts the alerts on account checks, by account and kind.
	Accounts map[string]map[Kind]int `json:"accounts,omitempty"`
	// Principals counts the alerts on principal results, by account and kind.
	Principals map[string]map[Kind]int `json:"principals,omitempty"`
	// Severity is the loudest alert's; Regions are the alerts' regions, sorted.
	Severity result.Severity `json:"severity,omitempty"`
	Regions  []string        `json:"regions,omitempty"`
}

// TallyOf counts alerts.
func TallyOf(alerts []Alert) Tally {
	var t Tally
	for _, a := range alerts {
		t.add(a.Result.Principal != "", a.Result.Account, a.Shown(), 1, a.Severity, a.Result.Region)
	}
	return t
}

// Add adds o's counts to t.
func (t *Tally) Add(o Tally) {
	for _, principal := range []bool{false, true} {
		counts := o.Accounts
		if principal {
			counts = o.Principals
		}
		for account, kinds := range counts {
			for k, n := range kinds {
				t.add(principal, account, k, n, o.Severity, "")
			}
		}
	}
	for _, r := range o.Regions {
		t.addRegion(r)
	}
}

// Total is how many alerts t counts: ChecksTotal plus PrincipalsTotal.
func (t Tally) Total() int { return t.ChecksTotal() + t.PrincipalsTotal() }

// ChecksTotal is how many alerts on account checks t counts.
func (t Tally) ChecksTotal() int { return total(t.Accounts) }

// PrincipalsTotal is how many alerts on principal results t counts.
func (t Tally) PrincipalsTotal() int { return total(t.Principals) }

// AccountIDs are the accounts with any alert, sorted.
func (t Tally) AccountIDs() []string {
	ids := slices.Collect(maps.Keys(t.Accounts))
	for a := range t.Principals {
		if t.Accounts[a] == nil {
			ids = append(ids, a)
		}
	}
	slices.Sort(ids)
	return ids
}

func total(counts map[string]map[Kind]int) int {
	n := 0
	for _, kinds := range counts {
		for _, c := range kinds {
			n += c
		}
	}
	return n
}

// Empty reports whether t counts no alert.
func (t Tally) Empty() bool { return len(t.Accounts) == 0 && len(t.Principals) == 0 }

func (t *Tally) add(principal bool, account string, k Kind, n int, sev result.Severity, region string) {
	counts := &t.Accounts
	if principal {
		counts = &t.Principals
	}
	if *counts == nil {
		*counts = map[string]map[Kind]int{}
	}
	if (*counts)[account] == nil {
		(*counts)[account] = map[Kind]int{}
	}
	(*counts)[account][k] += n
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
