package config

import (
	"fmt"
)

// Accounts says which accounts are audited.
type Accounts struct {
	// Static lists account ids audited whether or not Organizations is used.
	Static        []string      `yaml:"static"`
	Organizations Organizations `yaml:"organizations"`
	// Exclude removes accounts from both sources.
	Exclude []string `yaml:"exclude"`
}

// Organizations configures account discovery through AWS Organizations.
type Organizations struct {
	Enabled bool `yaml:"enabled"`
	// OUs keeps only accounts below one of these OUs, nested OUs included.
	OUs []string `yaml:"ous"`
	// Tags keeps only accounts that carry every one of these tags.
	Tags map[string]string `yaml:"tags"`
}

// validateAccounts checks accounts: at least one source, the account ids
// listed once each, and the OU ids and tags of discovery.
func (c *Config) validateAccounts(bad badFunc) {
	if len(c.Accounts.Static) == 0 && !c.Accounts.Organizations.Enabled {
		bad("accounts", "no accounts: list accounts.static or set accounts.organizations.enabled")
	}
	checkAccountIDs(bad, "accounts.static", c.Accounts.Static)
	checkAccountIDs(bad, "accounts.exclude", c.Accounts.Exclude)
	org := c.Accounts.Organizations
	if !org.Enabled && (len(org.OUs) > 0 || len(org.Tags) > 0) {
		bad("accounts.organizations", "ous or tags are set but enabled is false")
	}
	for i, ou := range org.OUs {
		if !ouIDPattern.MatchString(ou) {
			bad(fmt.Sprintf("accounts.organizations.ous[%d]", i), "%q is not an OU id like ou-ab12-cd34ef56", ou)
		}
	}
	for k := range org.Tags {
		if k == "" {
			bad("accounts.organizations.tags", "empty tag key")
		}
	}
}

// checkAccountIDs checks a list of account ids: 12 digits each, none twice.
func checkAccountIDs(bad badFunc, field string, ids []string) {
	seen := map[string]bool{}
	for i, id := range ids {
		switch {
		case !accountIDPattern.MatchString(id):
			bad(fmt.Sprintf("%s[%d]", field, i), "account id %q is not 12 digits", id)
		case seen[id]:
			bad(fmt.Sprintf("%s[%d]", field, i), "account id %q is listed twice", id)
		}
		seen[id] = true
	}
}

// ValidAccountID reports whether id is an AWS account id: 12 digits.
func ValidAccountID(id string) bool { return accountIDPattern.MatchString(id) }
