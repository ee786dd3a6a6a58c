package check

import (
	"fmt"
	"time"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/result"
	"github.com/grantwatch/grantwatch/pkg/targets"
)

// Suppress puts every result that an active suppression selects under it
// (the first that selects it, in configuration order), and returns a
// warning for each suppression that selects no check at all. An expired
// suppression suppresses nothing: its checks alert again.
func Suppress(results []result.Result, suppressions []config.Suppression, ous map[string][]string, now time.Time) []string {
	if len(suppressions) == 0 {
		return nil
	}
	records := make([]*result.Suppressed, len(suppressions))
	for i, s := range suppressions {
		records[i] = s.Record() // one copy each, shared by its results
	}
	matched := make([]bool, len(suppressions))
	for i := range results {
		for j, s := range suppressions {
			if !s.Matches(results[i], ous[results[i].Account]) {
				continue
			}
			matched[j] = true
			if s.Active(now) {
				results[i].Suppress(records[j])
				break
			}
		}
	}
	var warnings []string
	for j, m := range matched {
		if !m {
			warnings = append(warnings, fmt.Sprintf("suppressions[%d] (%s, owner %s) matches no check: remove it, or fix its selectors", j, suppressions[j].Reason, suppressions[j].Owner))
		}
	}
	return warnings
}

// ousOf maps the plan's accounts to the OUs above them.
func ousOf(units []targets.Unit) map[string][]string {
	ous := map[string][]string{}
	for _, u := range units {
		ous[u.Account] = u.OUs
	}
	return ous
}
