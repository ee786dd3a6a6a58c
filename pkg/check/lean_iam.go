// SimulatePrincipalPolicy on the direct path (lean.go).

package check

import (
	"context"
	"net/url"
	"strconv"

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
	form, ok := simulationForm(in)
	if len(optFns) > 0 || !ok {
		return c.Client.SimulatePrincipalPolicy(ctx, in, optFns...)
	}
	t, learn := c.d.template(opSimulate)
	if t == nil {
		if !learn {
			return c.Client.SimulatePrincipalPolicy(ctx, in)
		}
		return c.Client.SimulatePrincipalPolicy(ctx, in, func(o *iam.Options) {
			o.HTTPClient = &learner{next: o.HTTPClient, d: c.d, op: opSimulate, suffix: "/"}
		})
	}
	x := c.d.send(ctx, t, "/", "", form)
	if x.body != nil {
		if out, err := decodeSimulation(x.body); err == nil {
			x.release()
			return out, nil
		}
	}
	return c.Client.SimulatePrincipalPolicy(ctx, in, func(o *iam.Options) {
		o.HTTPClient = c.d.replay(x, o.HTTPClient)
	})
}

// simulationForm is the query-protocol body the SDK sends for in
// (ledger: PROTO-iam-query-form): Action and Version, each set member
// under its name, list members as Name.member.N from 1, the form's keys
// sorted (url.Values.Encode). It covers the members grantwatch sets; an
// input with any other member, or an empty list, is the SDK's to send.
func simulationForm(in *iam.SimulatePrincipalPolicyInput) ([]byte, bool) {
	if in == nil || in.PolicySourceArn == nil || len(in.ActionNames) == 0 ||
		in.CallerArn != nil || in.PermissionsBoundaryPolicyInputList != nil || in.PolicyInputList != nil ||
		in.ResourceHandlingOption != nil || in.ResourceOwner != nil || in.ResourcePolicy != nil ||
		(in.ResourceArns != nil && len(in.ResourceArns) == 0) || (in.ContextEntries != nil && len(in.ContextEntries) == 0) {
		return nil, false
	}
	v := url.Values{
		"Action":          {"SimulatePrincipalPolicy"},
		"Version":         {"2010-05-08"},
		"PolicySourceArn": {*in.PolicySourceArn},
	}
	list := func(name string, items []string) {
		for i, s := range items {
			v[name+".member."+strconv.Itoa(i+1)] = []string{s}
		}
	}
	list("ActionNames", in.ActionNames)
	list("ResourceArns", in.ResourceArns)
	for i, e := range in.ContextEntries {
		if e.ContextKeyName == nil || e.ContextKeyType == "" || len(e.ContextKeyValues) == 0 {
			return nil, false
		}
		p := "ContextEntries.member." + strconv.Itoa(i+1) + "."
		v[p+"ContextKeyName"] = []string{*e.ContextKeyName}
		v[p+"ContextKeyType"] = []string{string(e.ContextKeyType)}
		list(p+"ContextKeyValues", e.ContextKeyValues)
	}
	if in.Marker != nil {
		v["Marker"] = []string{*in.Marker}
	}
	if in.MaxItems != nil {
		v["MaxItems"] = []string{strconv.Itoa(int(*in.MaxItems))}
	}
	return []byte(v.Encode()), true
}
