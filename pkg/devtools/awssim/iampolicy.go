package awssim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file is the simulator's IAM policy evaluator, for
// SimulatePrincipalPolicy (docs/simulator-iam.md). It follows the IAM user
// guide's "Policy evaluation logic" for a request inside one account
// (ledger: IAM-eval-order): an explicit Deny in any policy wins; then every
// SCP level on the path from the root to the account must allow (ledger:
// IAM-scp-every-level); then the identity policies must allow and, when the
// principal has one, the permissions boundary too (ledger:
// IAM-boundary-intersection). Conditions use the String, Arn, Numeric, Date,
// Bool and Null operators, each with ...IfExists and the ForAnyValue: and
// ForAllValues: qualifiers (ledger: IAM-operators). It leaves out
// resource-based policies, RCPs, session policies, IpAddress and Binary
// operators and policy variables; a scenario cannot express them.
//
// A policy is parsed once, when the scenario loads, and anything the
// evaluator does not implement is refused there with the field named
// (ledger: IAM-refuse-unknown): unknown JSON keys, operators, policy
// variables, Principal/NotPrincipal.
//
// The API the IAM handler (iam.go) uses: parsePolicy(doc, kind) at load,
// then evaluatePolicies(evalInput) -> evalResult per action and resource:
// the decision, the layer that denied (identity, boundary, scp), the
// OrganizationsDecisionDetail and PermissionsBoundaryDecisionDetail flags,
// the matched statements and the MissingContextValues.

// Decisions as SimulatePrincipalPolicy spells them (PolicyEvaluationDecisionType).
const (
	decisionAllowed      = "allowed"
	decisionExplicitDeny = "explicitDeny"
	decisionImplicitDeny = "implicitDeny"
)

// policyKind is the kind of policy a document is attached as; it decides
// which elements the document may have.
type policyKind int

const (
	identityPolicy policyKind = iota // an inline or managed identity-based policy
	boundaryPolicy                   // a managed policy used as a permissions boundary
	scpPolicy                        // a service control policy
)

func (k policyKind) String() string {
	return [...]string{"an identity policy", "a permissions boundary", "an SCP"}[k]
}

// policyLayer names the policy type that decided a request (or whose
// statement matched), for the SCP/boundary attribution SimulatePrincipalPolicy
// gives through OrganizationsDecisionDetail and PermissionsBoundaryDecisionDetail.
type policyLayer string

const (
	layerIdentity policyLayer = "identity"
	layerBoundary policyLayer = "boundary"
	layerSCP      policyLayer = "scp"
)

// namedPolicy is a parsed policy with the name a result reports it by.
type namedPolicy struct {
	name string
	doc  *policy
}

// scpLevel is one node on the path from the organization's root to the
// account (the root, each OU, the account) with the SCPs attached to it.
// An empty policies list is a level without any SCP, which denies
// everything (ledger: IAM-scp-every-level); the scenario puts FullAWSAccess
// on every level it does not say otherwise about.
type scpLevel struct {
	target   string
	policies []namedPolicy
}

// evalInput is one request with every policy that applies to it.
type evalInput struct {
	// identity are the principal's identity-based policies.
	identity []namedPolicy
	// boundary is the permissions boundary; nil when there is none.
	boundary *namedPolicy
	// scps are the SCP levels, the root first and the account last; nil
	// when no SCP applies (the management account, or no organization).
	scps []scpLevel
	// action is "service:Action"; resource an ARN or "*".
	action, resource string
	// context is the request context (newEvalContext: keys case-insensitive).
	context evalContext
}

// evalContext is the request context: key (lower-cased, as IAM's condition
// keys are case-insensitive; ledger: IAM-key-case) -> values. A key with no
// values is absent.
type evalContext map[string][]string

// newEvalContext builds a context from keys written in any case.
func newEvalContext(entries map[string][]string) evalContext {
	c := evalContext{}
	for k, v := range entries {
		c[strings.ToLower(k)] = append(c[strings.ToLower(k)], v...)
	}
	return c
}

// matchedStatement is a statement that decided a result.
type matchedStatement struct {
	policy string
	layer  policyLayer
	index  int // in the policy's Statement list
	sid    string
}

// evalResult is the answer for one action on one resource.
type evalResult struct {
	decision string // decisionAllowed, decisionExplicitDeny, decisionImplicitDeny
	// deniedBy is the outermost layer that denies ("" when allowed): an
	// explicit Deny in an identity policy is layerIdentity; otherwise an
	// SCP deny or a level without an allow is layerSCP; then the boundary;
	// then identity policies without an allow.
	deniedBy policyLayer
	// allowedByOrgs is OrganizationsDecisionDetail.AllowedByOrganizations:
	// no SCP denies and every level allows. True when no SCP applies.
	allowedByOrgs bool
	// allowedByBoundary is PermissionsBoundaryDecisionDetail: true when
	// there is no boundary.
	allowedByBoundary bool
	// matched are the statements that decided: the Deny statements of an
	// explicit deny, or the identity Allow statements of an allow.
	matched []matchedStatement
	// missing are the context keys, as the policies spell them, that a
	// condition of the role's policies or boundary requires and the context
	// lacks, from any statement (MissingContextValues; ledger:
	// IAM-missing-context).
	missing []string
}

// evaluatePolicies decides one request (ledger: IAM-eval-order).
func evaluatePolicies(in evalInput) evalResult {
	r := evalResult{decision: decisionImplicitDeny, allowedByOrgs: true, allowedByBoundary: true}
	req := evalRequest{action: in.action, resource: in.resource, context: in.context}

	// Each layer that must allow (every SCP level, the boundary, the
	// identity policies) gets its statements judged once.
	type layerJudgement struct {
		layer  policyLayer
		allows []judged
		denies []judged
	}
	judge := func(layer policyLayer, policies []namedPolicy) layerJudgement {
		j := layerJudgement{layer: layer}
		for _, p := range policies {
			for i, st := range p.doc.Statement {
				if !st.appliesTo(req) {
					continue
				}
				one := judged{matchedStatement{policy: p.name, layer: layer, index: i, sid: st.Sid}, st.conditionsHold(req.context)}
				if st.Effect == "Deny" {
					j.denies = append(j.denies, one)
				} else {
					j.allows = append(j.allows, one)
				}
			}
		}
		return j
	}
	var layers []layerJudgement
	for _, level := range in.scps {
		layers = append(layers, judge(layerSCP, level.policies)) // ledger: IAM-scp-every-level
	}
	if in.boundary != nil {
		layers = append(layers, judge(layerBoundary, []namedPolicy{*in.boundary})) // ledger: IAM-boundary-intersection
	}
	layers = append(layers, judge(layerIdentity, in.identity))

	var identityDenies, otherDenies, identityAllows []matchedStatement
	for _, j := range layers {
		denied, allowed := false, false
		for _, d := range j.denies {
			if d.holds {
				denied = true
				if j.layer == layerIdentity {
					identityDenies = append(identityDenies, d.matchedStatement)
				} else {
					otherDenies = append(otherDenies, d.matchedStatement)
				}
			}
		}
		for _, a := range j.allows {
			if a.holds {
				allowed = true
				if j.layer == layerIdentity {
					identityAllows = append(identityAllows, a.matchedStatement)
				}
			}
		}
		switch j.layer {
		case layerSCP:
			r.allowedByOrgs = r.allowedByOrgs && allowed && !denied
		case layerBoundary:
			r.allowedByBoundary = allowed && !denied
		}
	}

	denies := slices.Concat(identityDenies, otherDenies)
	switch {
	case len(denies) > 0: // ledger: IAM-eval-order (an explicit deny wins)
		r.decision, r.matched, r.deniedBy = decisionExplicitDeny, denies, denies[0].layer
	case !r.allowedByOrgs:
		r.deniedBy = layerSCP
	case !r.allowedByBoundary:
		r.deniedBy = layerBoundary
	case len(identityAllows) == 0:
		r.deniedBy = layerIdentity
	default:
		r.decision, r.matched = decisionAllowed, identityAllows
	}

	// MissingContextValues (ledger: IAM-missing-context), as IAM answers:
	// every key a condition of the role's policies or boundary requires
	// (not ...IfExists, not Null) and the request lacks, from every
	// statement whatever action and resource it names and whether or not it
	// could change the decision; the keys of SCP conditions are not listed.
	var missing []string
	policies := slices.Clone(in.identity)
	if in.boundary != nil {
		policies = append(policies, *in.boundary)
	}
	for _, p := range policies {
		for _, st := range p.doc.Statement {
			for _, c := range st.Condition {
				if c.needsKey() && len(in.context[strings.ToLower(c.key)]) == 0 {
					missing = append(missing, c.key)
				}
			}
		}
	}
	r.missing = uniqueFold(missing)
	return r
}

// judged is one applicable statement and whether its conditions hold on
// the context as given.
type judged struct {
	matchedStatement
	holds bool
}

// uniqueFold drops repeated keys (keys are case-insensitive), keeping the
// first spelling.
func uniqueFold(keys []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, k := range keys {
		if !seen[strings.ToLower(k)] {
			seen[strings.ToLower(k)] = true
			out = append(out, k)
		}
	}
	return out
}

// evalRequest is what one evaluation asks: an action on a resource, with context keys.
type evalRequest struct {
	action, resource string
	context          evalContext
}

// policy is an IAM policy document.
type policy struct {
	Version   string
	Id        string
	Statement []statement
}

type statement struct {
	Sid         string
	Effect      string
	Action      []string
	NotAction   []string
	Resource    []string
	NotResource []string
	Condition   []condition // every one must hold (AND)
}

// condition is one operator on one key with its values: within a key the
// values are ORed (ledger: IAM-condition-and-or).
type condition struct {
	op        conditionOp
	qualifier string // "", "ForAnyValue", "ForAllValues"
	ifExists  bool
	key       string
	values    []string
}

// appliesTo says whether the statement covers the action and resource,
// before its conditions.
func (s statement) appliesTo(r evalRequest) bool {
	// ledger: IAM-action-match (actions case-insensitive)
	action := anyMatch(s.Action, r.action, true)
	if s.NotAction != nil {
		action = !anyMatch(s.NotAction, r.action, true)
	}
	// ledger: IAM-resource-match (ARNs case-sensitive, wildcards per segment)
	resource := slices.ContainsFunc(s.Resource, func(p string) bool { return resourceMatch(p, r.resource) })
	if s.NotResource != nil {
		resource = !slices.ContainsFunc(s.NotResource, func(p string) bool { return resourceMatch(p, r.resource) })
	}
	return action && resource
}

// conditionsHold evaluates the statement's conditions, all of which must
// hold (ledger: IAM-condition-and-or).
func (s statement) conditionsHold(ctx evalContext) bool {
	for _, c := range s.Condition {
		got := ctx[strings.ToLower(c.key)]
		present := len(got) > 0
		if c.qualifier != "" && !slices.ContainsFunc(got, func(v string) bool { return v != "" }) {
			// A set of empty strings is a "null data set" to the set
			// qualifiers (ledger: IAM-set-operators).
			present = false
		}
		if !c.holds(got, present) {
			return false
		}
	}
	return true
}

// needsKey says whether the condition requires its key: Null and
// ...IfExists are defined on an absent key, so they do not (ledger:
// IAM-missing-context).
func (c condition) needsKey() bool {
	return c.op.name != "Null" && !c.ifExists
}

// holds evaluates the condition on the context's values of its key.
func (c condition) holds(got []string, present bool) bool {
	if c.op.name == "Null" { // ledger: IAM-op-null
		want := strings.EqualFold(c.values[0], "true")
		return present != want
	}
	if !present {
		// ledger: IAM-ifexists, IAM-absent-key, IAM-set-operators
		switch {
		case c.ifExists:
			return true
		case c.qualifier == "ForAllValues":
			return true
		case c.qualifier == "ForAnyValue":
			return false
		}
		return c.op.negated
	}
	// Each context value either matches one of the policy values (OR) or
	// not; a negated operator is true for a value that matches none.
	valueHolds := func(g string) bool {
		matched := false
		for _, w := range c.values {
			if c.op.match(w, g) {
				matched = true
				break
			}
		}
		return matched != c.op.negated
	}
	switch c.qualifier {
	case "ForAllValues": // ledger: IAM-set-operators
		for _, g := range got {
			if !valueHolds(g) {
				return false
			}
		}
		return true
	case "ForAnyValue":
		return slices.ContainsFunc(got, valueHolds)
	}
	// Without a qualifier a positive operator holds when any value
	// matches; a negated one when none does (ledger: IAM-absent-key).
	anyMatch := false
	for _, g := range got {
		for _, w := range c.values {
			if c.op.match(w, g) {
				anyMatch = true
			}
		}
	}
	return anyMatch != c.op.negated
}

// conditionOp is a condition operator, without IfExists and qualifiers.
type conditionOp struct {
	name    string
	negated bool
	// match compares a policy value with one context value.
	match func(want, got string) bool
}

// conditionOperators are the operators evaluated, by the name the IAM JSON
// policy reference gives them (ledger: IAM-operators).
var conditionOperators = map[string]conditionOp{}

func init() {
	add := func(name string, negated bool, match func(want, got string) bool) {
		conditionOperators[name] = conditionOp{name: name, negated: negated, match: match}
	}
	exact := func(w, g string) bool { return w == g }
	fold := strings.EqualFold
	like := func(w, g string) bool { return globMatch(w, g) }
	add("StringEquals", false, exact)
	add("StringNotEquals", true, exact)
	add("StringEqualsIgnoreCase", false, fold)
	add("StringNotEqualsIgnoreCase", true, fold)
	add("StringLike", false, like)
	add("StringNotLike", true, like)
	add("ArnEquals", false, arnLike)
	add("ArnLike", false, arnLike)
	add("ArnNotEquals", true, arnLike)
	add("ArnNotLike", true, arnLike)
	add("Bool", false, fold)
	add("Null", false, nil)
	numeric := func(cmp func(a, b float64) bool) func(w, g string) bool {
		return func(w, g string) bool {
			a, err1 := strconv.ParseFloat(g, 64)
			b, err2 := strconv.ParseFloat(w, 64)
			return err1 == nil && err2 == nil && !math.IsNaN(a) && cmp(a, b)
		}
	}
	date := func(cmp func(a, b float64) bool) func(w, g string) bool {
		return func(w, g string) bool {
			a, ok1 := parseDate(g)
			b, ok2 := parseDate(w)
			return ok1 && ok2 && cmp(a, b)
		}
	}
	for _, c := range []struct {
		suffix  string
		negated bool
		cmp     func(a, b float64) bool
	}{
		{"Equals", false, func(a, b float64) bool { return a == b }},
		{"NotEquals", true, func(a, b float64) bool { return a == b }},
		{"LessThan", false, func(a, b float64) bool { return a < b }},
		{"LessThanEquals", false, func(a, b float64) bool { return a <= b }},
		{"GreaterThan", false, func(a, b float64) bool { return a > b }},
		{"GreaterThanEquals", false, func(a, b float64) bool { return a >= b }},
	} {
		add("Numeric"+c.suffix, c.negated, numeric(c.cmp))
		add("Date"+c.suffix, c.negated, date(c.cmp))
	}
}

// parseDate reads a date condition value: ISO 8601 or epoch seconds
// (ledger: IAM-operators).
func parseDate(s string) (float64, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return float64(t.UnixNano()) / 1e9, true
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f, true
	}
	return 0, false
}

// arnLike compares an ARN with a pattern component by component: six
// colon-separated parts, each matched case-sensitively with * and ?
// (ledger: IAM-op-arn). ArnEquals behaves the same as ArnLike.
func arnLike(pattern, arn string) bool {
	p := strings.SplitN(pattern, ":", 6)
	a := strings.SplitN(arn, ":", 6)
	if len(p) != 6 || len(a) != 6 {
		return false
	}
	for i := range p {
		if !globMatch(p[i], a[i]) {
			return false
		}
	}
	return true
}

// resourceMatch matches a Resource/NotResource pattern with an ARN as the
// IAM user guide's Resource element page says (ledger: IAM-resource-match):
// * and ? work "within the individual segments of an ARN (the parts
// separated by colons)", and "If the * wildcard is the last character of a
// resource ARN segment, it can expand to match beyond the colon boundaries."
// So a * before a colon or at the end crosses colons; any other * and every
// ? stay within a segment. Case-sensitive.
func resourceMatch(p, v string) bool { return match(p, v, true) }

func anyMatch(patterns []string, value string, foldCase bool) bool {
	for _, p := range patterns {
		if wildcard(p, value, foldCase) {
			return true
		}
	}
	return false
}

// wildcard matches IAM's * and ? (actions case-insensitively).
// ledger: IAM-action-match, IAM-resource-match
func wildcard(pattern, value string, foldCase bool) bool {
	if foldCase {
		pattern, value = strings.ToLower(pattern), strings.ToLower(value)
	}
	// Not path.Match: IAM's "*" crosses "/" and "[" is an ordinary character.
	return globMatch(pattern, value)
}

// globMatch matches * (any run of characters) and ? (one) across the
// whole value, as action names and String*Like conditions do.
func globMatch(p, v string) bool { return match(p, v, false) }

// match is the one matcher of * and ?: within colon-separated segments when
// segments is set (resourceMatch), across the whole value otherwise.
func match(p, v string, segments bool) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			endsSegment := !segments || len(p) == 1 || p[1] == ':'
			for i := 0; i <= len(v); i++ {
				if match(p[1:], v[i:], segments) {
					return true
				}
				if i < len(v) && v[i] == ':' && !endsSegment {
					return false
				}
			}
			return false
		case '?':
			if len(v) == 0 || (segments && v[0] == ':') {
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

// ---- parsing -------------------------------------------------------------

// policyError names the field of a policy document that is refused.
func policyError(field, format string, args ...any) error {
	return fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...))
}

// parsePolicy reads a policy document of the given kind and refuses
// anything the evaluator does not implement, naming the field
// (ledger: IAM-refuse-unknown).
func parsePolicy(doc string, kind policyKind) (*policy, error) {
	var raw map[string]json.RawMessage
	if err := strictObject([]byte(doc), &raw); err != nil {
		return nil, fmt.Errorf("not a policy document: %w", err)
	}
	p := &policy{}
	for k, v := range raw {
		var err error
		switch k {
		case "Version":
			err = json.Unmarshal(v, &p.Version)
			if err == nil && p.Version != "2012-10-17" && p.Version != "2008-10-17" {
				err = fmt.Errorf("%q is not 2012-10-17 or 2008-10-17", p.Version)
			}
		case "Id":
			err = json.Unmarshal(v, &p.Id)
		case "Statement":
		default:
			err = fmt.Errorf("not a policy element the simulator knows (Version, Id, Statement)")
		}
		if err != nil {
			return nil, policyError(k, "%v", err)
		}
	}
	st, ok := raw["Statement"]
	if !ok {
		return nil, policyError("Statement", "missing")
	}
	var list []json.RawMessage
	if s := bytes.TrimSpace(st); len(s) > 0 && s[0] == '{' {
		list = []json.RawMessage{st}
	} else if err := json.Unmarshal(st, &list); err != nil {
		return nil, policyError("Statement", "want an object or a list of objects: %v", err)
	}
	for i, one := range list {
		s, err := parseStatement(one, kind, fmt.Sprintf("Statement[%d]", i))
		if err != nil {
			return nil, err
		}
		p.Statement = append(p.Statement, s)
	}
	return p, nil
}

// strictObject decodes a JSON object (not null, not another type).
func strictObject(b []byte, into *map[string]json.RawMessage) error {
	if err := json.Unmarshal(b, into); err != nil {
		return err
	}
	if *into == nil {
		return fmt.Errorf("want a JSON object")
	}
	return nil
}

func parseStatement(b json.RawMessage, kind policyKind, field string) (statement, error) {
	var s statement
	var raw map[string]json.RawMessage
	if err := strictObject(b, &raw); err != nil {
		return s, policyError(field, "want an object: %v", err)
	}
	for _, k := range sortedKeys(raw) {
		v := raw[k]
		f := field + "." + k
		var err error
		switch k {
		case "Sid":
			err = json.Unmarshal(v, &s.Sid)
		case "Effect":
			err = json.Unmarshal(v, &s.Effect)
			if err == nil && s.Effect != "Allow" && s.Effect != "Deny" {
				err = fmt.Errorf("%q is not Allow or Deny", s.Effect)
			}
		case "Action":
			s.Action, err = stringList(v)
		case "NotAction":
			s.NotAction, err = stringList(v)
		case "Resource":
			s.Resource, err = stringList(v)
		case "NotResource":
			s.NotResource, err = stringList(v)
		case "Condition":
			s.Condition, err = parseConditions(v, f)
			if err != nil {
				return s, err
			}
		case "Principal", "NotPrincipal":
			// ledger: IAM-refuse-unknown (identity policies and SCPs have no Principal)
			err = fmt.Errorf("%s cannot have %s (only resource-based policies name principals)", kind, k)
		default:
			err = fmt.Errorf("not a statement element the simulator knows (Sid, Effect, Action, NotAction, Resource, NotResource, Condition)")
		}
		if err != nil {
			return s, policyError(f, "%v", err)
		}
	}
	switch {
	case s.Effect == "":
		return s, policyError(field+".Effect", "missing")
	case (s.Action == nil) == (s.NotAction == nil):
		return s, policyError(field, "needs exactly one of Action and NotAction")
	case (s.Resource == nil) == (s.NotResource == nil):
		return s, policyError(field, "needs exactly one of Resource and NotResource")
	}
	// An SCP's Allow may name resources, have conditions and use NotAction
	// and NotResource, as identity policies do (ledger: IAM-scp-syntax).
	for _, name := range []string{"Action", "NotAction", "Resource", "NotResource"} {
		list := map[string][]string{"Action": s.Action, "NotAction": s.NotAction, "Resource": s.Resource, "NotResource": s.NotResource}[name]
		for j, v := range list {
			if strings.Contains(v, "${") {
				return s, policyError(fmt.Sprintf("%s.%s[%d]", field, name, j), "policy variable in %q: the simulator does not substitute policy variables", v)
			}
			if (name == "Action" || name == "NotAction") && v != "*" && !strings.Contains(v, ":") {
				return s, policyError(fmt.Sprintf("%s.%s[%d]", field, name, j), "%q is not service:action", v)
			}
		}
	}
	return s, nil
}

// stringList reads a policy element that may be one string or a list.
func stringList(b json.RawMessage) ([]string, error) {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return nil, fmt.Errorf("want a string or a list of strings")
	}
	if many == nil {
		many = []string{}
	}
	return many, nil
}

// conditionValues reads a condition's value: a string, a bool or a number,
// or a list of them (the JSON policy grammar's condition_value).
func conditionValues(b json.RawMessage) ([]string, error) {
	var many []json.RawMessage
	if err := json.Unmarshal(b, &many); err != nil {
		many = []json.RawMessage{b}
	}
	var out []string
	for _, v := range many {
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			out = append(out, s)
			continue
		}
		var bo bool
		if err := json.Unmarshal(v, &bo); err == nil {
			out = append(out, strconv.FormatBool(bo))
			continue
		}
		var n json.Number
		if err := json.Unmarshal(v, &n); err == nil {
			out = append(out, n.String())
			continue
		}
		return nil, fmt.Errorf("want a string, a boolean or a number, or a list of them")
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no values")
	}
	return out, nil
}

// parseConditions reads a Condition block: operator -> key -> values.
func parseConditions(b json.RawMessage, field string) ([]condition, error) {
	var ops map[string]json.RawMessage
	if err := strictObject(b, &ops); err != nil {
		return nil, policyError(field, "want an object: %v", err)
	}
	var out []condition
	for _, name := range sortedKeys(ops) {
		f := field + "." + name
		c := condition{}
		op := name
		if q, rest, ok := strings.Cut(op, ":"); ok {
			if q != "ForAnyValue" && q != "ForAllValues" {
				return nil, policyError(f, "set qualifier %q is not ForAnyValue or ForAllValues", q)
			}
			c.qualifier, op = q, rest
		}
		if base, ok := strings.CutSuffix(op, "IfExists"); ok && base != "Null" {
			c.ifExists, op = true, base
		}
		cop, ok := conditionOperators[op]
		if !ok {
			return nil, policyError(f, "not a condition operator the simulator evaluates (%s, each with IfExists, ForAnyValue: and ForAllValues:)", strings.Join(sortedKeys(conditionOperators), ", "))
		}
		if c.qualifier != "" && op == "Null" {
			return nil, policyError(f, "a set qualifier with Null is not evaluated by the simulator")
		}
		c.op = cop
		var keys map[string]json.RawMessage
		if err := strictObject(ops[name], &keys); err != nil {
			return nil, policyError(f, "want an object of condition keys: %v", err)
		}
		if len(keys) == 0 {
			return nil, policyError(f, "no condition keys")
		}
		for _, key := range sortedKeys(keys) {
			kf := f + "." + key
			if strings.Contains(key, "${") {
				return nil, policyError(kf, "policy variable in a condition key")
			}
			values, err := conditionValues(keys[key])
			if err != nil {
				return nil, policyError(kf, "%v", err)
			}
			for j, v := range values {
				if strings.Contains(v, "${") {
					return nil, policyError(fmt.Sprintf("%s[%d]", kf, j), "policy variable in %q: the simulator does not substitute policy variables", v)
				}
			}
			if op == "Null" || op == "Bool" {
				for j, v := range values {
					if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
						return nil, policyError(fmt.Sprintf("%s[%d]", kf, j), "%q is not true or false", v)
					}
				}
			}
			if op == "Null" && len(values) != 1 {
				return nil, policyError(kf, "Null takes one value, true or false")
			}
			cc := c
			cc.key, cc.values = key, values
			out = append(out, cc)
		}
	}
	return out, nil
}

// fullAWSAccess is the AWS managed SCP AWS attaches to the root, every OU
// and every account (Organizations user guide, "Service control policies":
// FullAWSAccess; ledger: IAM-scp-every-level).
var fullAWSAccess = &policy{Version: "2012-10-17", Statement: []statement{{Effect: "Allow", Action: []string{"*"}, Resource: []string{"*"}}}}
