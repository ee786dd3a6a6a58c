package awssim

import (
	"encoding/json"
	"fmt"
	"strings"
)

// This file is the simulator's own, deliberately small, IAM policy
// evaluation, for SimulatePrincipalPolicy. It follows the IAM user guide's
// "Policy evaluation logic" for one account: an explicit deny in any policy
// wins; otherwise the SCPs, the permissions boundary (when the role has one)
// and the identity policies must each allow. It leaves out, and a scenario
// cannot express: resource-based policies, session policies, allow-list SCPs
// (every level is taken to have FullAWSAccess, so only SCP denies count),
// NotResource, Principal elements, policy variables, condition operators
// other than StringEquals, StringNotEquals, StringLike and StringNotLike,
// ...IfExists and ForAllValues/ForAnyValue, and multivalued context keys.
// A condition on a key the request context lacks does not match, except for
// the negated operators, which do ("Condition element" in the IAM JSON
// policy reference).

// policy is an IAM policy document.
type policy struct {
	Version   string      `json:"Version"`
	Statement []statement `json:"Statement"`
}

type statement struct {
	Sid       string                           `json:"Sid"`
	Effect    string                           `json:"Effect"`
	Action    stringList                       `json:"Action"`
	NotAction stringList                       `json:"NotAction"`
	Resource  stringList                       `json:"Resource"`
	Condition map[string]map[string]stringList `json:"Condition"`
}

// stringList is a policy element that may be one string or a list.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("want a string or a list of strings: %w", err)
	}
	*l = many
	return nil
}

var conditionOperators = map[string]bool{"StringEquals": true, "StringNotEquals": true, "StringLike": true, "StringNotLike": true}

// parsePolicy reads a policy document; Statement may be one object or a list.
// ledger: IAM-eval-conditions
func parsePolicy(doc string) (*policy, error) {
	var raw struct {
		Version   string          `json:"Version"`
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(doc), &raw); err != nil {
		return nil, fmt.Errorf("not a policy document: %w", err)
	}
	p := &policy{Version: raw.Version}
	if len(raw.Statement) > 0 && raw.Statement[0] == '{' {
		var one statement
		if err := json.Unmarshal(raw.Statement, &one); err != nil {
			return nil, fmt.Errorf("Statement: %w", err)
		}
		p.Statement = []statement{one}
	} else if err := json.Unmarshal(raw.Statement, &p.Statement); err != nil {
		return nil, fmt.Errorf("Statement: %w", err)
	}
	for i, s := range p.Statement {
		if s.Effect != "Allow" && s.Effect != "Deny" {
			return nil, fmt.Errorf("Statement[%d].Effect: %q is not Allow or Deny", i, s.Effect)
		}
		if len(s.Action) == 0 && len(s.NotAction) == 0 {
			return nil, fmt.Errorf("Statement[%d]: no Action or NotAction", i)
		}
		for op := range s.Condition {
			if !conditionOperators[op] {
				return nil, fmt.Errorf("Statement[%d].Condition: operator %s is not one the simulator evaluates (StringEquals, StringNotEquals, StringLike, StringNotLike)", i, op)
			}
		}
	}
	return p, nil
}

// evalRequest is what one evaluation asks: an action on a resource, with context keys.
type evalRequest struct {
	action, resource string
	context          map[string][]string
}

// match returns the first statement of the given effect that applies to r, or -1.
func (p *policy) match(effect string, r evalRequest) int {
	for i, s := range p.Statement {
		if s.Effect == effect && s.applies(r) {
			return i
		}
	}
	return -1
}

func (s statement) applies(r evalRequest) bool {
	actionMatches := anyMatch(s.Action, r.action, true)
	if len(s.NotAction) > 0 {
		actionMatches = !anyMatch(s.NotAction, r.action, true)
	}
	if !actionMatches || !anyMatch(s.Resource, r.resource, false) {
		return false
	}
	for op, keys := range s.Condition {
		for key, want := range keys {
			if !condition(op, r.context[strings.ToLower(key)], want) {
				return false
			}
		}
	}
	return true
}

// condition evaluates one operator on the request's values of a key.
// ledger: IAM-eval-conditions
func condition(op string, got, want []string) bool {
	negated := strings.Contains(op, "Not")
	if len(got) == 0 {
		return negated
	}
	like := strings.HasSuffix(op, "Like")
	any := false
	for _, g := range got {
		for _, w := range want {
			if (like && wildcard(w, g, false)) || (!like && w == g) {
				any = true
			}
		}
	}
	return any != negated
}

func anyMatch(patterns []string, value string, foldCase bool) bool {
	for _, p := range patterns {
		if wildcard(p, value, foldCase) {
			return true
		}
	}
	return false
}

// wildcard matches IAM's * and ? (actions case-insensitively).
// ledger: IAM-eval-matching
func wildcard(pattern, value string, foldCase bool) bool {
	if foldCase {
		pattern, value = strings.ToLower(pattern), strings.ToLower(value)
	}
	// Not path.Match: IAM's "*" crosses "/" and "[" is an ordinary character.
	return globMatch(pattern, value)
}

func globMatch(p, v string) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for i := len(v); i >= 0; i-- {
				if globMatch(p[1:], v[i:]) {
					return true
				}
			}
			return false
		case '?':
			if len(v) == 0 {
				return false
			}
			p, v = p[1:], v[1:]
		default:
			if len(v) == 0 || p[0] != v[0] {
				return false
			}
			p, v = p[1:], v[1:]
		}
	}
	return len(v) == 0
}
