package targets

import (
	"slices"
	"strings"
	"testing"
)

func accountOrder(units []Unit) string {
	var out []string
	for _, u := range units {
		if len(out) == 0 || out[len(out)-1] != u.Account {
			out = append(out, u.Account)
		}
	}
	return strings.Join(out, ",")
}

func TestRotate(t *testing.T) {
	c := testConfig()
	var accounts []Account
	for _, id := range []string{"111111111111", "222222222222", "333333333333", "444444444444", "555555555555"} {
		accounts = append(accounts, Account{ID: id})
	}
	units := Units(c, accounts)
	a, again := Rotate(units, "run-20261126T060000Z", nil), Rotate(units, "run-20261126T060000Z", nil)
	if accountOrder(a) != accountOrder(again) {
		t.Errorf("same run id, two orders: %s and %s", accountOrder(a), accountOrder(again))
	}
	starts := map[string]bool{}
	for _, day := range []string{"20261124", "20261125", "20261126", "20261127", "20261128", "20261129"} {
		starts[accountOrder(Rotate(units, "run-"+day+"T060000Z", nil))[:12]] = true
	}
	if len(starts) < 3 {
		t.Errorf("six daily runs start at %d accounts; want the start to move", len(starts))
	}
	if len(a) != len(units) || Checks(a) != Checks(units) {
		t.Errorf("rotation lost units: %d of %d", len(a), len(units))
	}
	// Each account's units stay together: one run of each in the order.
	if got := strings.Count(accountOrder(a), ",") + 1; got != len(accounts) {
		t.Errorf("accounts split apart: %s", accountOrder(a))
	}

	first := Rotate(units, "run-20261126T060000Z", []string{"444444444444", "222222222222"})
	order := strings.Split(accountOrder(first), ",")
	if !slices.Contains(order[:2], "444444444444") || !slices.Contains(order[:2], "222222222222") {
		t.Errorf("the previous run's unreached accounts first: got %v", order)
	}
}
