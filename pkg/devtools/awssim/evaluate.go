package awssim

// EvaluateIdentityPolicy decides one request against one identity-based
// policy document with the simulator's IAM evaluation, as
// SimulatePrincipalPolicy does for a role whose only policy it is, outside
// any SCP: "allowed", "explicitDeny" or "implicitDeny". context keys are
// case-insensitive. It lets a test check a policy it did not write, such as
// one a CDK stack synthesizes, against the condition keys AWS sends.
func EvaluateIdentityPolicy(doc, action, resource string, context map[string][]string) (string, error) {
	p, err := parsePolicy(doc, identityPolicy)
	if err != nil {
		return "", err
	}
	r := evaluatePolicies(evalInput{
		identity: []namedPolicy{{name: "policy", doc: p}},
		action:   action, resource: resource,
		context: newEvalContext(context),
	})
	return r.decision, nil
}
