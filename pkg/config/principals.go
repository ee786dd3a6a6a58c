package config

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Principals names the roles that call Bedrock: everywhere, below an OU, or
// in one account. The sets add up, as required models do.
type Principals struct {
	PrincipalSet `yaml:",inline"`
	ByOU         map[string]PrincipalSet `yaml:"by_ou"`
	ByAccount    map[string]PrincipalSet `yaml:"by_account"`
}

// PrincipalSet is one way or more of naming roles, and how they call Bedrock.
type PrincipalSet struct {
	// Roles are role names, looked up in each account.
	Roles []string `yaml:"roles"`
	// ARNTemplates are role ARNs with {account} where the account id goes.
	ARNTemplates []string `yaml:"arn_templates"`
	// Tag is "key=value": every role of the account carrying it is evaluated.
	Tag string `yaml:"tag"`
	// Actions are the calls the roles make: "invoke" (InvokeModel and
	// Converse, the default) and "stream" (InvokeModelWithResponseStream and
	// ConverseStream).
	Actions []string `yaml:"actions"`
	// Auth is how the roles' applications authenticate: "iam" (SigV4, the
	// default) and "api_key" (a Bedrock API key, which also needs
	// bedrock:CallWithBearerToken).
	Auth []string `yaml:"auth"`
	// Context are condition keys only the callers' requests carry (such as
	// aws:SourceVpce), passed to every simulation of these roles.
	Context []ContextEntry `yaml:"context"`
	// Parts are the sets For merged, each with its own actions, auth and
	// context; empty for a set read from the configuration.
	Parts []PrincipalSet `yaml:"-"`
}

// The values of PrincipalSet.Actions and PrincipalSet.Auth.
const (
	ActionInvoke = "invoke"
	ActionStream = "stream"
	AuthIAM      = "iam"
	AuthAPIKey   = "api_key"
)

// ContextEntry is one condition key and its values, as
// SimulatePrincipalPolicy's ContextEntries take them.
type ContextEntry struct {
	Name string `yaml:"name"`
	// Type is the ContextKeyType: string, stringList, numeric, numericList,
	// boolean, booleanList, ip, ipList, binary, binaryList, date, dateList.
	Type   string   `yaml:"type"`
	Values []string `yaml:"values"`
}

// contextKeyTypes are the ContextKeyTypeEnum values of the IAM API
// reference (ContextEntry).
var contextKeyTypes = []string{"string", "stringList", "numeric", "numericList", "boolean", "booleanList", "ip", "ipList", "binary", "binaryList", "date", "dateList"}

// ReservedContextKeys are the keys grantwatch sets itself for every
// simulation; a configured entry may not override them.
var ReservedContextKeys = []string{"aws:RequestedRegion", "aws:PrincipalArn", "aws:PrincipalAccount", "bedrock:InferenceProfileArn", "aws-marketplace:ProductId"}

var contextKeyPattern = regexp.MustCompile(`^[a-zA-Z0-9-]+:[a-zA-Z0-9_./${}*-]+$`)

// Configured reports whether any principal is named anywhere.
func (p Principals) Configured() bool {
	if !p.PrincipalSet.Empty() {
		return true
	}
	for _, s := range p.ByOU {
		if !s.Empty() {
			return true
		}
	}
	for _, s := range p.ByAccount {
		if !s.Empty() {
			return true
		}
	}
	return false
}

// UsesTags reports whether any set discovers roles by tag.
func (p Principals) UsesTags() bool {
	if p.Tag != "" {
		return true
	}
	for _, s := range p.ByOU {
		if s.Tag != "" {
			return true
		}
	}
	for _, s := range p.ByAccount {
		if s.Tag != "" {
			return true
		}
	}
	return false
}

// Empty reports whether the set names no role.
func (s PrincipalSet) Empty() bool {
	return len(s.Roles) == 0 && len(s.ARNTemplates) == 0 && s.Tag == ""
}

// For is the union of the sets that apply to an account below ous; Parts
// keeps each non-empty set, the top level first and the account's last, so
// that each role keeps the actions, auth and context of the sets naming it.
func (p Principals) For(account string, ous []string) PrincipalSet {
	out := p.PrincipalSet
	out.Roles, out.ARNTemplates = slices.Clone(out.Roles), slices.Clone(out.ARNTemplates)
	out.Parts = nil
	if !p.PrincipalSet.Empty() {
		out.Parts = append(out.Parts, p.PrincipalSet)
	}
	add := func(s PrincipalSet) {
		if !s.Empty() {
			out.Parts = append(out.Parts, s)
		}
		out.Roles = append(out.Roles, s.Roles...)
		out.ARNTemplates = append(out.ARNTemplates, s.ARNTemplates...)
		if out.Tag == "" {
			out.Tag = s.Tag
		}
	}
	for _, ou := range ous {
		add(p.ByOU[ou])
	}
	add(p.ByAccount[account])
	slices.Sort(out.Roles)
	out.Roles = slices.Compact(out.Roles)
	slices.Sort(out.ARNTemplates)
	out.ARNTemplates = slices.Compact(out.ARNTemplates)
	return out
}

// TagPair splits a tag given as "key=value".
func TagPair(tag string) (key, value string) {
	key, value, _ = strings.Cut(tag, "=")
	return key, value
}

// validatePrincipals checks the top-level set and those of each OU and account.
func (c *Config) validatePrincipals(bad badFunc) {
	checkSet := func(field string, s PrincipalSet) { checkPrincipalSet(bad, field, s) }
	checkSet("principals", c.Principals.PrincipalSet)
	scoped(bad, "principals", c.Principals.ByOU, c.Principals.ByAccount, checkSet)
}

// checkPrincipalSet checks one set's role names, ARN templates and tag, and
// the actions, auth and context of its roles.
func checkPrincipalSet(bad badFunc, field string, s PrincipalSet) {
	for i, name := range s.Roles {
		if !roleNamePattern.MatchString(name) || strings.Contains(name, "/") {
			bad(fmt.Sprintf("%s.roles[%d]", field, i), "%q is not a role name such as BedrockAppRole", name)
		}
	}
	for i, t := range s.ARNTemplates {
		f := fmt.Sprintf("%s.arn_templates[%d]", field, i)
		switch {
		case !strings.Contains(t, "{account}"):
			bad(f, "%q has no {account} placeholder", t)
		case !strings.HasPrefix(t, "arn:") || !strings.Contains(t, ":iam::{account}:role/"):
			bad(f, "%q is not a role ARN such as arn:aws:iam::{account}:role/apps/BedrockAppRole", t)
		}
	}
	if k, v := TagPair(s.Tag); s.Tag != "" && (k == "" || v == "" || !strings.Contains(s.Tag, "=")) {
		bad(field+".tag", "%q is not key=value, such as grantwatch:bedrock-caller=true", s.Tag)
	}
	if s.Empty() && (len(s.Actions) > 0 || len(s.Auth) > 0 || len(s.Context) > 0) {
		bad(field, "actions, auth and context apply to the roles of the same set, and it names none (give roles, arn_templates or tag)")
	}
	oneOf(bad, field+".actions", s.Actions, ActionInvoke, ActionStream)
	oneOf(bad, field+".auth", s.Auth, AuthIAM, AuthAPIKey)
	checkContext(bad, field+".context", s.Context)
}

// checkContext checks configured context entries as SimulatePrincipalPolicy
// would read them: a key name, a ContextKeyType, and values of that type
// (one for a single-valued type).
func checkContext(bad badFunc, field string, entries []ContextEntry) {
	seen := map[string]bool{}
	for i, e := range entries {
		f := fmt.Sprintf("%s[%d]", field, i)
		lower := strings.ToLower(e.Name)
		switch {
		case !contextKeyPattern.MatchString(e.Name):
			bad(f+".name", "%q is not a condition key such as aws:SourceVpce", e.Name)
		case slices.ContainsFunc(ReservedContextKeys, func(k string) bool { return strings.EqualFold(k, e.Name) }):
			bad(f+".name", "%s is set by grantwatch for every simulation; leave it out", e.Name)
		case seen[lower]:
			bad(f+".name", "%s is listed twice (condition keys are case-insensitive)", e.Name)
		}
		seen[lower] = true
		if !slices.Contains(contextKeyTypes, e.Type) {
			bad(f+".type", "%q is not one of %s", e.Type, strings.Join(contextKeyTypes, ", "))
			continue
		}
		switch {
		case len(e.Values) == 0:
			bad(f+".values", "empty: give the value the callers' requests carry")
		case !strings.HasSuffix(e.Type, "List") && len(e.Values) > 1:
			bad(f+".values", "%d values for the single-valued type %s; use %sList", len(e.Values), e.Type, e.Type)
		}
		for j, v := range e.Values {
			if err := contextValue(strings.TrimSuffix(e.Type, "List"), v); err != nil {
				bad(fmt.Sprintf("%s.values[%d]", f, j), "%q: %v", v, err)
			}
		}
	}
}

// contextValue checks one value of a context key type.
func contextValue(typ, v string) error {
	switch typ {
	case "numeric":
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return errors.New("not a number")
		}
	case "boolean":
		if v != "true" && v != "false" {
			return errors.New("not true or false")
		}
	case "ip":
		if _, err := netip.ParsePrefix(v); err != nil {
			if _, err := netip.ParseAddr(v); err != nil {
				return errors.New("not an IP address or CIDR block")
			}
		}
	case "date":
		if _, err := time.Parse(time.RFC3339, v); err != nil {
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				return errors.New("not a date such as 2026-11-30T00:00:00Z (or epoch seconds)")
			}
		}
	case "string", "binary":
		if v == "" {
			return errors.New("empty")
		}
	}
	return nil
}
