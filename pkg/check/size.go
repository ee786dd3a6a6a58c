package check

import (
	"fmt"
	"time"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/result"
	"github.com/grantwatch/grantwatch/pkg/targets"
)

// plannedResults is how many results the units can give: one per check and
// one per check and principal (a principal tag counts as one role here; the
// roles it finds are only known in the account).
func plannedResults(units []targets.Unit) int {
	n := 0
	for _, u := range units {
		k := 1
		if p := u.Principals; p != nil {
			k += len(p.Roles) + len(p.ARNTemplates)
			if p.Tag != "" {
				k++
			}
		}
		n += len(u.Models) * k
	}
	return n
}

// tooLarge returns the summary of a run refused because its plan has more
// results than config.MaxResults, or nil. Validation bounds the static
// accounts; accounts found in Organizations are only counted here.
func tooLarge(p *targets.Plan, now func() time.Time) *result.Summary {
	n := plannedResults(p.Units)
	if n <= config.MaxResults {
		return nil
	}
	s := p.Summary
	s.ConfigError = fmt.Sprintf("the run has %d results to hold (%d accounts x %d regions x their required models, each times one plus its principals), more than the %d one run or batch holds in memory (config.MaxResults): audit the organization with the sharded run (a batch of it: lower grantwatch:batchAccounts), or require fewer models or principals",
		n, s.Accounts, s.Regions, config.MaxResults)
	s.Incomplete = true
	s.FinishedAt = now().UTC()
	s.DurationMS = s.FinishedAt.Sub(s.StartedAt).Milliseconds()
	return &s
}
