package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grantwatch/grantwatch/pkg/result"
)

// Suppression mutes the checks it selects (every selector given must match)
// until the end of its Until day, UTC: they keep their real status, carry
// the suppression, and are neither alerted nor fail the command line.
type Suppression struct {
	Account   string        `yaml:"account"`
	OU        string        `yaml:"ou"` // the account is below this OU
	Region    string        `yaml:"region"`
	Model     string        `yaml:"model"`
	Principal string        `yaml:"principal"`
	Status    result.Status `yaml:"status"`
	Reason    string        `yaml:"reason"`
	Owner     string        `yaml:"owner"`
	Until     string        `yaml:"until"` // YYYY-MM-DD, at most MaxSuppressionAhead from today
	// Permanent suppresses with no end date, instead of Until; its reason
	// says why the finding is accepted for good.
	Permanent bool `yaml:"permanent"`
}

// MaxSuppressionAhead is how far ahead a suppression's until may be: a
// time-boxed suppression is reviewed at least once a year; one meant to
// last says permanent: true.
const MaxSuppressionAhead = 366 * 24 * time.Hour

// Matches reports whether the suppression selects r, in an account below ous.
func (s Suppression) Matches(r result.Result, ous []string) bool {
	return (s.Account == "" || s.Account == r.Account) &&
		(s.OU == "" || slices.Contains(ous, s.OU)) &&
		(s.Region == "" || s.Region == r.Region) &&
		(s.Model == "" || s.Model == r.Model) &&
		(s.Principal == "" || s.Principal == r.Principal) &&
		(s.Status == "" || s.Status == r.Status)
}

// Active reports whether the suppression still holds at now: through the
// whole of its Until day, UTC.
func (s Suppression) Active(now time.Time) bool {
	if s.Permanent {
		return true
	}
	until, err := time.Parse(time.DateOnly, s.Until)
	return err == nil && now.Before(until.AddDate(0, 0, 1))
}

// Record is what a suppressed result carries.
func (s Suppression) Record() *result.Suppressed {
	until := s.Until
	if s.Permanent {
		until = "permanent"
	}
	return &result.Suppressed{Reason: s.Reason, Owner: s.Owner, Until: until}
}

// validateSuppressions checks each suppression's selectors, its reason and
// owner, and its end.
func (c *Config) validateSuppressions(bad badFunc) {
	for i, sp := range c.Suppressions {
		field := fmt.Sprintf("suppressions[%d]", i)
		if sp.Account == "" && sp.OU == "" && sp.Region == "" && sp.Model == "" && sp.Principal == "" && sp.Status == "" {
			bad(field, "selects every check: give at least one of account, ou, region, model, principal, status")
		}
		if sp.Account != "" && !accountIDPattern.MatchString(sp.Account) {
			bad(field+".account", "%q is not 12 digits", sp.Account)
		}
		if sp.OU != "" && !ouIDPattern.MatchString(sp.OU) {
			bad(field+".ou", "%q is not an OU id like ou-ab12-cd34ef56", sp.OU)
		}
		if sp.Region != "" && !KnownRegion(sp.Region) {
			bad(field+".region", "unknown region %q", sp.Region)
		}
		if sp.Status != "" && !slices.Contains(result.Statuses, sp.Status) {
			bad(field+".status", "unknown status %q", sp.Status)
		}
		if strings.TrimSpace(sp.Reason) == "" {
			bad(field+".reason", "empty: say why the finding is accepted")
		}
		if strings.TrimSpace(sp.Owner) == "" {
			bad(field+".owner", "empty: name who answers for it")
		}
		// Validation reads the clock here: a date only comes nearer, so a
		// configuration accepted once stays accepted.
		until, err := time.Parse(time.DateOnly, sp.Until)
		switch {
		case sp.Permanent && sp.Until != "":
			bad(field+".until", "%q is set with permanent: true; give one of them", sp.Until)
		case sp.Permanent:
		case err != nil:
			bad(field+".until", "%q is not a date such as 2027-03-31 (or set permanent: true, with a reason)", sp.Until)
		case until.After(time.Now().Add(MaxSuppressionAhead)):
			bad(field+".until", "%s is more than a year ahead (config.MaxSuppressionAhead): renew a time-boxed suppression when it ends, or set permanent: true instead of until, with a reason", sp.Until)
		}
	}
}
