package config

import (
	"fmt"
	"maps"
	"slices"
)

// Size limits, so that a hostile or mistaken configuration fails in
// validation, naming the limit, instead of running the auditor out of memory.
// Each is far above what an organization configures (docs/limits.md).
const (
	// MaxModelsPerList bounds one list of required models (models.required,
	// models.by_ou[...], models.by_account[...]); Bedrock offers a few hundred
	// models in a region.
	MaxModelsPerList = 500
	// MaxModelIDs bounds the distinct model ids of the whole configuration.
	// Application inference profiles are ARNs of one account each, so an
	// organization of 10,000 accounts (MaxMappingKeys) with two of them in
	// every account's list has 20,000.
	MaxModelIDs = 20_000
	// MaxPrincipalsPerSet bounds the roles and ARN templates of one principal
	// set (principals, principals.by_ou[...], principals.by_account[...]).
	MaxPrincipalsPerSet = 100
	// MaxPrincipalNames bounds the roles and ARN templates of all sets: five
	// roles in each of 10,000 accounts' principals.by_account.
	MaxPrincipalNames = 50_000
	// MaxSuppressions bounds suppressions: each result is matched against
	// each, so their product is the cost.
	MaxSuppressions = 1_000
	// MaxSuppressionText bounds a suppression's reason and owner, which every
	// suppressed result carries into history and messages.
	MaxSuppressionText = 1_024
	// MaxResults bounds the results one run (or one batch of a sharded run)
	// holds: its checks (accounts x regions x required models) and their
	// principal results. A result takes about 500 bytes with its share of
	// texts, so the limit fits the auditor's 512 MB function.
	MaxResults = 500_000
)

// validateSizes checks the limits above; bad is Validate's.
func (c *Config) validateSizes(bad func(field, format string, args ...any)) {
	distinct := map[string]bool{}
	models := func(field string, ids []string) {
		if len(ids) > MaxModelsPerList {
			bad(field, "%d model ids, more than %d (config.MaxModelsPerList)", len(ids), MaxModelsPerList)
		}
		for _, id := range ids {
			distinct[id] = true
		}
	}
	models("models.required", c.Models.Required)
	for _, ou := range slices.Sorted(maps.Keys(c.Models.ByOU)) {
		models(fmt.Sprintf("models.by_ou[%s]", ou), c.Models.ByOU[ou])
	}
	for _, id := range slices.Sorted(maps.Keys(c.Models.ByAccount)) {
		models(fmt.Sprintf("models.by_account[%s]", id), c.Models.ByAccount[id])
	}
	if len(distinct) > MaxModelIDs {
		bad("models", "%d distinct model ids, more than %d (config.MaxModelIDs)", len(distinct), MaxModelIDs)
	}

	total := 0
	principals := func(field string, s PrincipalSet) {
		n := len(s.Roles) + len(s.ARNTemplates)
		total += n
		if n > MaxPrincipalsPerSet {
			bad(field, "%d roles and ARN templates, more than %d (config.MaxPrincipalsPerSet)", n, MaxPrincipalsPerSet)
		}
	}
	principals("principals", c.Principals.PrincipalSet)
	for _, ou := range slices.Sorted(maps.Keys(c.Principals.ByOU)) {
		principals(fmt.Sprintf("principals.by_ou[%s]", ou), c.Principals.ByOU[ou])
	}
	for _, id := range slices.Sorted(maps.Keys(c.Principals.ByAccount)) {
		principals(fmt.Sprintf("principals.by_account[%s]", id), c.Principals.ByAccount[id])
	}
	if total > MaxPrincipalNames {
		bad("principals", "%d roles and ARN templates in all, more than %d (config.MaxPrincipalNames)", total, MaxPrincipalNames)
	}

	if n := len(c.Suppressions); n > MaxSuppressions {
		bad("suppressions", "%d suppressions, more than %d (config.MaxSuppressions): suppress by OU, region or status instead of one check at a time", n, MaxSuppressions)
	}
	for i, sp := range c.Suppressions {
		if len(sp.Reason) > MaxSuppressionText {
			bad(fmt.Sprintf("suppressions[%d].reason", i), "%d bytes, more than %d (config.MaxSuppressionText)", len(sp.Reason), MaxSuppressionText)
		}
		if len(sp.Owner) > MaxSuppressionText {
			bad(fmt.Sprintf("suppressions[%d].owner", i), "%d bytes, more than %d (config.MaxSuppressionText)", len(sp.Owner), MaxSuppressionText)
		}
	}

	// One account's checks are the least a run or a batch of a sharded run
	// holds, so an account whose checks alone pass MaxResults can never run.
	// The sum over the accounts is not bounded here: the sharded run audits
	// a large static list in batches, each planned and bounded on its own
	// when it runs (check.Checker refuses a run or batch too large to hold).
	excluded := map[string]bool{}
	for _, id := range c.Accounts.Exclude {
		excluded[id] = true
	}
	for i, id := range c.Accounts.Static {
		if excluded[id] {
			continue
		}
		set := c.Principals.For(id, nil)
		k := 1 + len(set.Roles) + len(set.ARNTemplates)
		if set.Tag != "" {
			k++
		}
		ms := len(c.Models.Required) + len(c.Models.ByAccount[id])
		if n := len(c.Regions) * ms * k; n > MaxResults {
			bad(fmt.Sprintf("accounts.static[%d]", i), "account %s alone has %d results (%d regions x %d required models x one plus its %d principals), more than %d, the most one run or batch holds (config.MaxResults): require fewer models or principals",
				id, n, len(c.Regions), ms, k-1, MaxResults)
			break
		}
	}
}
