// Package targets finds the work of a run: the accounts (the static list and
// AWS Organizations), and every account in every region with the models it
// must have.
package targets

import (
	"slices"
	"strings"

	"github.com/grantwatch/grantwatch/pkg/config"
)

// Unit is one account in one region, checked with one client and one model list.
type Unit struct {
	Account string
	Region  string
	// Models are the required model ids, sorted. Units of one account share the slice.
	Models []string
	// Principals are the roles whose permissions are evaluated in the
	// account; nil when none. Units of one account share them.
	Principals *config.PrincipalSet
	// OUs are the OUs above the account, for suppressions by OU.
	OUs []string
}

// Checks counts the (account, region, model) checks in units.
func Checks(units []Unit) int {
	n := 0
	for _, u := range units {
		n += len(u.Models)
	}
	return n
}

// Accounts merges the static accounts with the discovered ones and removes the
// excluded, sorted by id. A static account that discovery also found keeps
// its OUs, so that per-OU models apply to it.
func Accounts(c *config.Config, discovered []Account) []Account {
	byID := map[string]Account{}
	for _, id := range c.Accounts.Static {
		byID[id] = Account{ID: id}
	}
	for _, a := range discovered {
		byID[a.ID] = a
	}
	for _, id := range c.Accounts.Exclude {
		delete(byID, id)
	}
	accounts := make([]Account, 0, len(byID))
	for _, a := range byID {
		accounts = append(accounts, a)
	}
	slices.SortFunc(accounts, func(a, b Account) int { return strings.Compare(a.ID, b.ID) })
	return accounts
}

// RequiredModels is the union of the global models, those of every OU above
// the account and the account's own, sorted and without repeats.
func RequiredModels(c *config.Config, a Account) []string {
	models := slices.Clone(c.Models.Required)
	for _, ou := range a.OUs {
		models = append(models, c.Models.ByOU[ou]...)
	}
	models = append(models, c.Models.ByAccount[a.ID]...)
	slices.Sort(models)
	return slices.Compact(models)
}

// Units lists the units of a run, account by account so that a run cut short
// by its deadline has whole accounts rather than a little of each. Accounts
// that require no model get no units. An inference profile ARN is checked
// only in its own account and region, where it exists.
func Units(c *config.Config, accounts []Account) []Unit {
	regions := slices.Clone(c.Regions)
	slices.Sort(regions)
	units := make([]Unit, 0, len(accounts)*len(regions))
	for _, a := range accounts {
		models := RequiredModels(c, a)
		var principals *config.PrincipalSet
		if set := c.Principals.For(a.ID, a.OUs); !set.Empty() {
			principals = &set
		}
		pinned := slices.ContainsFunc(models, func(m string) bool { return strings.HasPrefix(m, "arn:") })
		for _, r := range regions {
			ms := models
			if pinned {
				ms = slices.DeleteFunc(slices.Clone(models), func(m string) bool {
					ref, err := config.ParseModel(m)
					return err == nil && !ref.AppliesTo(a.ID, r)
				})
			}
			if len(ms) > 0 {
				units = append(units, Unit{Account: a.ID, Region: r, Models: ms, Principals: principals, OUs: a.OUs})
			}
		}
	}
	return units
}
