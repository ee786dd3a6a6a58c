package targets

import (
	"hash/fnv"
	"slices"
)

// Rotate starts the run's account order at an offset drawn from its run id,
// so that a run cut short by its deadline does not leave the same accounts
// last every day; the units of an account stay together. first, the
// accounts the previous run did not reach, go before all others: a run cut
// short never skips the same accounts twice in a row.
func Rotate(units []Unit, runID string, first []string) []Unit {
	var accounts []string
	for _, u := range units {
		if len(accounts) == 0 || accounts[len(accounts)-1] != u.Account {
			accounts = append(accounts, u.Account)
		}
	}
	if len(accounts) < 2 {
		return units
	}
	h := fnv.New64a()
	h.Write([]byte(runID))
	offset := int(h.Sum64() % uint64(len(accounts)))
	order := append(slices.Clone(accounts[offset:]), accounts[:offset]...)
	if len(first) > 0 {
		wanted := make(map[string]bool, len(first))
		for _, a := range first {
			wanted[a] = true
		}
		// Stable: the unreached keep their rotated order, as do the others.
		slices.SortStableFunc(order, func(a, b string) int {
			switch {
			case wanted[a] && !wanted[b]:
				return -1
			case wanted[b] && !wanted[a]:
				return 1
			}
			return 0
		})
	}
	byAccount := make(map[string][]Unit, len(accounts))
	for _, u := range units {
		byAccount[u.Account] = append(byAccount[u.Account], u)
	}
	out := make([]Unit, 0, len(units))
	for _, a := range order {
		out = append(out, byAccount[a]...)
	}
	return out
}
