package config

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
)

// badFunc records one problem of the field.
type badFunc = func(field, format string, args ...any)

// Validate reports every problem found, each naming the field and the value.
// It runs one validator per section, each in the file of its section.
func (c *Config) Validate() error {
	var errs []error
	problems := 0 // all of them; errs keeps the first maxProblemsListed
	bad := func(field string, format string, args ...any) {
		if problems++; problems <= maxProblemsListed {
			errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
		}
	}

	c.validateSizes(bad)
	c.validateAccounts(bad)
	c.validateRegions(bad)
	c.validateModels(bad)
	c.validateRole(bad)
	c.validateLimits(bad)
	within(bad, "pending_grace", c.PendingGrace, 0, 30*24*time.Hour)
	c.validateHistory(bad)
	c.validateNotify(bad)
	c.validateSuppressions(bad)
	c.validatePrincipals(bad)
	c.validateAlerts(bad)
	c.validateRemediation(bad)
	if problems > maxProblemsListed {
		errs = append(errs, fmt.Errorf("and %d more problems", problems-maxProblemsListed))
	}
	return errors.Join(errs...)
}

// maxProblemsListed is how many problems Validate names; the rest are counted.
const maxProblemsListed = 50

var (
	accountIDPattern   = regexp.MustCompile(`^[0-9]{12}$`)
	ouIDPattern        = regexp.MustCompile(`^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$`)
	roleNamePattern    = regexp.MustCompile(`^[\w+=,.@/-]{1,64}$`)
	sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	tableNamePattern   = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)
	topicARNPattern    = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[a-zA-Z0-9_-]{1,256}$`)
	modelIDPattern     = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._:/-]{0,255}$`)
)

// scoped checks the per-OU and per-account settings of section (models,
// principals): each key must be an OU id or an account id, and each value
// passes check, with fields named section.by_ou[<id>] and
// section.by_account[<id>], in key order.
func scoped[T any](bad badFunc, section string, byOU, byAccount map[string]T, check func(field string, v T)) {
	for _, ou := range slices.Sorted(maps.Keys(byOU)) {
		field := fmt.Sprintf("%s.by_ou[%s]", section, ou)
		if !ouIDPattern.MatchString(ou) {
			bad(field, "%q is not an OU id like ou-ab12-cd34ef56", ou)
		}
		check(field, byOU[ou])
	}
	for _, id := range slices.Sorted(maps.Keys(byAccount)) {
		field := fmt.Sprintf("%s.by_account[%s]", section, id)
		if !accountIDPattern.MatchString(id) {
			bad(field, "account id %q is not 12 digits", id)
		}
		check(field, byAccount[id])
	}
}

// within checks that d lies between lo and hi, both included.
func within(bad badFunc, field string, d Duration, lo, hi time.Duration) {
	if d.Std() < lo || d.Std() > hi {
		bad(field, "%s is outside %s to %s", d.Std(), lo, hi)
	}
}

// oneOf checks a list of keywords: each one of allowed, none twice.
func oneOf(bad badFunc, field string, values []string, allowed ...string) {
	for i, v := range values {
		switch {
		case !slices.Contains(allowed, v):
			bad(fmt.Sprintf("%s[%d]", field, i), "%q is not one of %s", v, strings.Join(allowed, ", "))
		case slices.Index(values, v) < i:
			bad(fmt.Sprintf("%s[%d]", field, i), "%q is listed twice", v)
		}
	}
}
