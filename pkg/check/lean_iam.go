// SimulatePrincipalPolicy on the direct path (lean.go).

package check

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// directIAM is an *iam.Client whose SimulatePrincipalPolicy takes the
// direct path; every other operation is the SDK's.
type directIAM struct {
	*iam.Client
	d *direct
}

var _ IAMAPI = (*directIAM)(nil)

const opSimulate = "SimulatePrincipalPolicy"

func (c *directIAM) SimulatePrincipalPolicy(ctx context.Context, in *iam.SimulatePrincipalPolicyInput, optFns ...func(*iam.Options)) (*iam.SimulatePrincipalPolicyOutput, error) {
	if len(optFns) > 0 || c.d.state.off.Load() {
		return c.Client.SimulatePrincipalPolicy(ctx, in, optFns...)
	}
	form, ok := simulationForm(in)
	if !ok {
		return c.Client.SimulatePrincipalPolicy(ctx, in)
	}
	decode := func(b []byte) (*iam.SimulatePrincipalPolicyOutput, error) { return decodeSimulation(b, c.d.state.strs) }
	return directCall(ctx, c.d, opSimulate, "/", "", form, decode,
		func(opts ...func(*iam.Options)) (*iam.SimulatePrincipalPolicyOutput, error) {
			return c.Client.SimulatePrincipalPolicy(ctx, in, opts...)
		}, func(o *iam.Options, wrap func(aws.HTTPClient) aws.HTTPClient) { o.HTTPClient = wrap(o.HTTPClient) })
}

// simulationForm is the query-protocol body the SDK sends for in
// (ledger: PROTO-iam-query-form): Action and Version, each set member
// under its name, list members as Name.member.N from 1, the form's keys
// sorted and escaped as url.Values.Encode does them. It covers the members
// grantwatch sets; an input with any other member, or an empty list, is
// the SDK's to send.
func simulationForm(in *iam.SimulatePrincipalPolicyInput) ([]byte, bool) {
	if in == nil || in.PolicySourceArn == nil || len(in.ActionNames) == 0 ||
		in.CallerArn != nil || in.PermissionsBoundaryPolicyInputList != nil || in.PolicyInputList != nil || in.PolicyExclusionList != nil ||
		in.ResourceHandlingOption != nil || in.ResourceOwner != nil || in.ResourcePolicy != nil ||
		(in.ResourceArns != nil && len(in.ResourceArns) == 0) || (in.ContextEntries != nil && len(in.ContextEntries) == 0) {
		return nil, false
	}
	f := form{pairs: make([]formPair, 0, 8+len(in.ActionNames)+len(in.ResourceArns)+4*len(in.ContextEntries))}
	f.add("Action", "SimulatePrincipalPolicy")
	f.add("Version", "2010-05-08")
	f.add("PolicySourceArn", *in.PolicySourceArn)
	f.list("ActionNames", in.ActionNames)
	f.list("ResourceArns", in.ResourceArns)
	for i, e := range in.ContextEntries {
		if e.ContextKeyName == nil || e.ContextKeyType == "" || len(e.ContextKeyValues) == 0 {
			return nil, false
		}
		p := "ContextEntries.member." + strconv.Itoa(i+1) + "."
		f.add(p+"ContextKeyName", *e.ContextKeyName)
		f.add(p+"ContextKeyType", string(e.ContextKeyType))
		f.list(p+"ContextKeyValues", e.ContextKeyValues)
	}
	if in.Marker != nil {
		f.add("Marker", *in.Marker)
	}
	if in.MaxItems != nil {
		f.add("MaxItems", strconv.Itoa(int(*in.MaxItems)))
	}
	return f.encode(), true
}

// form is a url.Values without the map: each key here is set once, so
// sorting the pairs by key and escaping each as url.QueryEscape does
// writes what url.Values.Encode writes.
type form struct{ pairs []formPair }

type formPair struct{ key, value string }

func (f *form) add(key, value string) { f.pairs = append(f.pairs, formPair{key, value}) }

func (f *form) list(name string, items []string) {
	for i, s := range items {
		f.add(name+".member."+strconv.Itoa(i+1), s)
	}
}

func (f *form) encode() []byte {
	slices.SortFunc(f.pairs, func(a, b formPair) int { return strings.Compare(a.key, b.key) })
	n := 0
	for _, p := range f.pairs {
		n += len(p.key) + len(p.value) + 2
	}
	b := make([]byte, 0, n+n/2)
	for i, p := range f.pairs {
		if i > 0 {
			b = append(b, '&')
		}
		b = appendQueryEscape(b, p.key)
		b = append(b, '=')
		b = appendQueryEscape(b, p.value)
	}
	return b
}

// appendQueryEscape appends s escaped as url.QueryEscape escapes it (the
// unreserved bytes A-Z a-z 0-9 - _ . ~ as they are, a space as +, every
// other byte as %XX in upper case), without a string for each value.
func appendQueryEscape(b []byte, s string) []byte {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b = append(b, c)
		case c == ' ':
			b = append(b, '+')
		default:
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return b
}
