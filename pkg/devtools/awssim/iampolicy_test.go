package awssim

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// The values the published policies' placeholders stand for (see
// testdata/policies/README.md).
const (
	fixtureAccount = "111122223333"
	fixtureModel   = "anthropic.claude-sonnet-4-5-20250929-v1:0"
)

var (
	usProfile     = "arn:aws:bedrock:us-east-1:" + fixtureAccount + ":inference-profile/us." + fixtureModel
	globalProfile = "arn:aws:bedrock:us-east-1:" + fixtureAccount + ":inference-profile/global." + fixtureModel
	regionless    = "arn:aws:bedrock:::foundation-model/" + fixtureModel
)

func modelIn(region string) string {
	return "arn:aws:bedrock:" + region + "::foundation-model/" + fixtureModel
}

// fixture reads a published policy from testdata/policies, fills its
// placeholders and parses it as the given kind.
func fixture(t *testing.T, file string, kind policyKind) namedPolicy {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "policies", file))
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.NewReplacer("<ACCOUNT_ID>", fixtureAccount, "<ACCOUNT>", fixtureAccount,
		"<REQUESTING REGION>", "us-east-1", "<MODEL NAME>", fixtureModel, "<model-unique-identifier>", "amazon.*").Replace(string(b))
	p, err := parsePolicy(doc, kind)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return namedPolicy{name: file, doc: p}
}

func inline(t *testing.T, name, doc string, kind policyKind) namedPolicy {
	t.Helper()
	p, err := parsePolicy(doc, kind)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return namedPolicy{name: name, doc: p}
}

// rootLevels puts scps at the root, beside FullAWSAccess, with FullAWSAccess
// alone on the OU and the account: the default AWS attaches.
func rootLevels(scps ...namedPolicy) []scpLevel {
	full := namedPolicy{name: "FullAWSAccess", doc: fullAWSAccess}
	return []scpLevel{
		{target: "r-root", policies: append([]namedPolicy{full}, scps...)},
		{target: "ou-prod", policies: []namedPolicy{full}},
		{target: fixtureAccount, policies: []namedPolicy{full}},
	}
}

func ctx(kv ...string) evalContext {
	m := map[string][]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = append(m[kv[i]], kv[i+1])
	}
	return newEvalContext(m)
}

// TestPublishedPolicies evaluates the policies AWS publishes (testdata/policies).
func TestPublishedPolicies(t *testing.T) {
	geo := fixture(t, "geographic-cris.json", identityPolicy)
	global := fixture(t, "global-cris.json", identityPolicy)
	withUnspecified := fixture(t, "scp-region-deny-with-unspecified.json", scpPolicy)
	euOnly := fixture(t, "scp-region-deny-eu.json", scpPolicy)
	noGlobal := fixture(t, "scp-disable-global-cris.json", scpPolicy)
	noAPIKeys := fixture(t, "scp-deny-bedrock-api-keys.json", scpPolicy)
	noClaudeSubscribe := fixture(t, "marketplace-deny-subscribe-product.json", identityPolicy)
	noKeysHere := fixture(t, "deny-api-keys-identity.json", identityPolicy)
	amazonModelsOnly := fixture(t, "scp-permitted-models.json", scpPolicy)
	nova := "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0"
	// The Marketplace grant the model access page requires; AWS publishes
	// the actions, not a policy, so this one statement is ours.
	marketplace := inline(t, "marketplace", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["aws-marketplace:Subscribe","aws-marketplace:Unsubscribe","aws-marketplace:ViewSubscriptions"],"Resource":"*"}]}`, identityPolicy)
	everything := inline(t, "everything", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, identityPolicy)

	tests := []struct {
		name         string
		identity     []namedPolicy
		scps         []scpLevel
		action       string
		resource     string
		context      evalContext
		want         string
		wantDeniedBy policyLayer
		wantMissing  []string
	}{
		// Geographic cross-region inference: the profile, then the model in
		// each destination reached through it.
		{name: "geographic: the profile", identity: []namedPolicy{geo}, action: "bedrock:InvokeModel", resource: usProfile,
			context: ctx("aws:RequestedRegion", "us-east-1"), want: decisionAllowed, wantMissing: []string{"bedrock:InferenceProfileArn"}},
		{name: "geographic: a destination through the profile", identity: []namedPolicy{geo}, action: "bedrock:InvokeModel", resource: modelIn("us-east-2"),
			context: ctx("aws:RequestedRegion", "us-east-2", "bedrock:InferenceProfileArn", usProfile), want: decisionAllowed},
		{name: "geographic: a destination without the profile key is undetermined", identity: []namedPolicy{geo}, action: "bedrock:InvokeModel", resource: modelIn("us-east-2"),
			context: ctx("aws:RequestedRegion", "us-east-2"), want: decisionImplicitDeny, wantDeniedBy: layerIdentity, wantMissing: []string{"bedrock:InferenceProfileArn"}},
		{name: "geographic: through another profile", identity: []namedPolicy{geo}, action: "bedrock:InvokeModel", resource: modelIn("us-east-2"),
			context: ctx("bedrock:InferenceProfileArn", globalProfile), want: decisionImplicitDeny, wantDeniedBy: layerIdentity},
		{name: "geographic: a region the policy does not list", identity: []namedPolicy{geo}, action: "bedrock:InvokeModel", resource: modelIn("eu-west-1"),
			context: ctx("bedrock:InferenceProfileArn", usProfile), want: decisionImplicitDeny, wantDeniedBy: layerIdentity},
		{name: "geographic: streaming is another action", identity: []namedPolicy{geo}, action: "bedrock:InvokeModelWithResponseStream", resource: usProfile,
			want: decisionImplicitDeny, wantDeniedBy: layerIdentity, wantMissing: []string{"bedrock:InferenceProfileArn"}},
		{name: "actions match case-insensitively", identity: []namedPolicy{geo}, action: "Bedrock:invokemodel", resource: usProfile, want: decisionAllowed, wantMissing: []string{"bedrock:InferenceProfileArn"}},
		{name: "ARNs match case-sensitively", identity: []namedPolicy{geo}, action: "bedrock:InvokeModel", resource: strings.Replace(usProfile, "/us.", "/US.", 1),
			want: decisionImplicitDeny, wantDeniedBy: layerIdentity, wantMissing: []string{"bedrock:InferenceProfileArn"}},

		// Global cross-region inference: the profile, the source region's
		// model and the region-less model, with aws:RequestedRegion=unspecified.
		{name: "global: the profile", identity: []namedPolicy{global}, action: "bedrock:InvokeModel", resource: globalProfile,
			context: ctx("aws:RequestedRegion", "us-east-1"), want: decisionAllowed, wantMissing: []string{"bedrock:InferenceProfileArn"}},
		{name: "global: the source region's model", identity: []namedPolicy{global}, action: "bedrock:InvokeModel", resource: modelIn("us-east-1"),
			context: ctx("aws:RequestedRegion", "us-east-1", "bedrock:InferenceProfileArn", globalProfile), want: decisionAllowed},
		{name: "global: the hop", identity: []namedPolicy{global}, action: "bedrock:InvokeModel", resource: regionless,
			context: ctx("aws:RequestedRegion", "unspecified", "bedrock:InferenceProfileArn", globalProfile), want: decisionAllowed},
		{name: "global: the hop without the profile key", identity: []namedPolicy{global}, action: "bedrock:InvokeModel", resource: regionless,
			context: ctx("aws:RequestedRegion", "unspecified"), want: decisionImplicitDeny, wantDeniedBy: layerIdentity, wantMissing: []string{"bedrock:InferenceProfileArn"}},
		{name: "global: the hop without any context", identity: []namedPolicy{global}, action: "bedrock:InvokeModel", resource: regionless,
			want: decisionImplicitDeny, wantDeniedBy: layerIdentity, wantMissing: []string{"aws:RequestedRegion", "bedrock:InferenceProfileArn"}},
		{name: "global: the hop named with a region still lists the profile key", identity: []namedPolicy{global}, action: "bedrock:InvokeModel", resource: regionless,
			context: ctx("aws:RequestedRegion", "us-west-2"), want: decisionImplicitDeny, wantDeniedBy: layerIdentity, wantMissing: []string{"bedrock:InferenceProfileArn"}},

		// Region-deny SCPs with and without the documented exemption.
		{name: "SCP exempting unspecified lets the hop through", identity: []namedPolicy{global}, scps: rootLevels(withUnspecified), action: "bedrock:InvokeModel", resource: regionless,
			context: ctx("aws:RequestedRegion", "unspecified", "bedrock:InferenceProfileArn", globalProfile), want: decisionAllowed},
		{name: "SCP exempting unspecified still denies another region", identity: []namedPolicy{everything}, scps: rootLevels(withUnspecified), action: "bedrock:InvokeModel", resource: modelIn("eu-west-1"),
			context: ctx("aws:RequestedRegion", "eu-west-1"), want: decisionExplicitDeny, wantDeniedBy: layerSCP},
		{name: "SCP without the exemption denies the hop", identity: []namedPolicy{global}, scps: rootLevels(euOnly), action: "bedrock:InvokeModel", resource: regionless,
			context: ctx("aws:RequestedRegion", "unspecified", "bedrock:InferenceProfileArn", globalProfile), want: decisionExplicitDeny, wantDeniedBy: layerSCP},
		{name: "SCP without the exemption: NotAction leaves IAM alone", identity: []namedPolicy{everything}, scps: rootLevels(euOnly), action: "iam:SimulatePrincipalPolicy", resource: "*",
			context: ctx("aws:RequestedRegion", "us-east-1"), want: decisionAllowed},
		{name: "SCP without the exemption, and no region in the context: denied, the SCP's key not listed", identity: []namedPolicy{everything}, scps: rootLevels(euOnly), action: "bedrock:InvokeModel", resource: modelIn("eu-west-1"),
			want: decisionExplicitDeny, wantDeniedBy: layerSCP},
		{name: "SCP disabling global inference denies the hop", identity: []namedPolicy{global}, scps: rootLevels(noGlobal), action: "bedrock:InvokeModel", resource: regionless,
			context: ctx("aws:RequestedRegion", "unspecified", "bedrock:InferenceProfileArn", globalProfile), want: decisionExplicitDeny, wantDeniedBy: layerSCP},
		{name: "SCP disabling global inference leaves geographic profiles", identity: []namedPolicy{geo}, scps: rootLevels(noGlobal), action: "bedrock:InvokeModel", resource: modelIn("us-west-2"),
			context: ctx("aws:RequestedRegion", "us-west-2", "bedrock:InferenceProfileArn", usProfile), want: decisionAllowed},
		{name: "SCP disabling global inference, hop without the profile key", identity: []namedPolicy{global}, scps: rootLevels(noGlobal), action: "bedrock:InvokeModel", resource: regionless,
			context: ctx("aws:RequestedRegion", "unspecified"), want: decisionImplicitDeny, wantDeniedBy: layerIdentity, wantMissing: []string{"bedrock:InferenceProfileArn"}},

		// Bedrock API keys.
		{name: "SCP denies bearer tokens", identity: []namedPolicy{everything}, scps: rootLevels(noAPIKeys), action: "bedrock:CallWithBearerToken", resource: "*",
			want: decisionExplicitDeny, wantDeniedBy: layerSCP},
		{name: "SCP denies Mantle bearer tokens", identity: []namedPolicy{everything}, scps: rootLevels(noAPIKeys), action: "bedrock-mantle:CallWithBearerToken", resource: "*",
			want: decisionExplicitDeny, wantDeniedBy: layerSCP},
		{name: "SCP denying bearer tokens leaves SigV4 calls", identity: []namedPolicy{everything}, scps: rootLevels(noAPIKeys), action: "bedrock:InvokeModel", resource: modelIn("us-east-1"),
			want: decisionAllowed},
		{name: "SCP denies Bedrock API key credentials", identity: []namedPolicy{everything}, scps: rootLevels(noAPIKeys), action: "iam:CreateServiceSpecificCredential", resource: "*",
			context: ctx("iam:ServiceSpecificCredentialServiceName", "bedrock.amazonaws.com"), want: decisionExplicitDeny, wantDeniedBy: layerSCP},
		{name: "SCP leaves other service credentials", identity: []namedPolicy{everything}, scps: rootLevels(noAPIKeys), action: "iam:CreateServiceSpecificCredential", resource: "*",
			context: ctx("iam:ServiceSpecificCredentialServiceName", "codecommit.amazonaws.com"), want: decisionAllowed},

		{name: "identity policy denies bearer tokens", identity: []namedPolicy{everything, noKeysHere}, action: "bedrock:CallWithBearerToken", resource: "*",
			want: decisionExplicitDeny, wantDeniedBy: layerIdentity},

		// An SCP allowing some models through a Deny with NotResource.
		{name: "permitted models: a listed model", identity: []namedPolicy{everything}, scps: rootLevels(amazonModelsOnly), action: "bedrock:InvokeModel", resource: nova,
			want: decisionAllowed},
		{name: "permitted models: another model", identity: []namedPolicy{everything}, scps: rootLevels(amazonModelsOnly), action: "bedrock:InvokeModel", resource: modelIn("us-east-1"),
			want: decisionExplicitDeny, wantDeniedBy: layerSCP},
		{name: "permitted models: the region-less ARN of a listed model", identity: []namedPolicy{everything}, scps: rootLevels(amazonModelsOnly), action: "bedrock:InvokeModel", resource: "arn:aws:bedrock:::foundation-model/amazon.nova-pro-v1:0",
			want: decisionAllowed},
		{name: "permitted models: an inference profile is not a foundation model", identity: []namedPolicy{everything}, scps: rootLevels(amazonModelsOnly), action: "bedrock:InvokeModel", resource: "arn:aws:bedrock:us-east-1:" + fixtureAccount + ":inference-profile/us.amazon.nova-pro-v1:0",
			want: decisionExplicitDeny, wantDeniedBy: layerSCP},

		// Marketplace product ids.
		{name: "marketplace: the denied product", identity: []namedPolicy{marketplace, noClaudeSubscribe}, action: "aws-marketplace:Subscribe", resource: "*",
			context: ctx("aws-marketplace:ProductId", "prod-m5ilt4siql27k"), want: decisionExplicitDeny, wantDeniedBy: layerIdentity},
		{name: "marketplace: another product", identity: []namedPolicy{marketplace, noClaudeSubscribe}, action: "aws-marketplace:Subscribe", resource: "*",
			context: ctx("aws-marketplace:ProductId", "prod-ozonys2hmmpeu"), want: decisionAllowed},
		{name: "marketplace: no product id, the deny could decide", identity: []namedPolicy{marketplace, noClaudeSubscribe}, action: "aws-marketplace:Subscribe", resource: "*",
			want: decisionAllowed, wantMissing: []string{"aws-marketplace:ProductId"}},
		{name: "marketplace: the deny does not cover ViewSubscriptions", identity: []namedPolicy{marketplace, noClaudeSubscribe}, action: "aws-marketplace:ViewSubscriptions", resource: "*",
			want: decisionAllowed, wantMissing: []string{"aws-marketplace:ProductId"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.context
			if c == nil {
				c = evalContext{}
			}
			got := evaluatePolicies(evalInput{identity: tt.identity, scps: tt.scps, action: tt.action, resource: tt.resource, context: c})
			if got.decision != tt.want || got.deniedBy != tt.wantDeniedBy {
				t.Errorf("decision: got %s (denied by %q); want %s (denied by %q)", got.decision, got.deniedBy, tt.want, tt.wantDeniedBy)
			}
			if !slices.Equal(got.missing, tt.wantMissing) {
				t.Errorf("missing context keys: got %v; want %v", got.missing, tt.wantMissing)
			}
			if wantOrgs := tt.wantDeniedBy != layerSCP; got.allowedByOrgs != wantOrgs {
				t.Errorf("allowedByOrgs: got %v; want %v", got.allowedByOrgs, wantOrgs)
			}
		})
	}
}

// TestConditionOperators checks each operator, its IfExists form and the
// set qualifiers on one Allow statement: allowed when the condition holds.
func TestConditionOperators(t *testing.T) {
	tests := []struct {
		name      string
		condition string              // the Condition element
		context   map[string][]string // nil: the key is absent
		wantHolds bool
		// wantMissing: the key is reported missing (absent and needed).
		wantMissing bool
	}{
		{"StringEquals matches", `{"StringEquals":{"k":"ml"}}`, map[string][]string{"k": {"ml"}}, true, false},
		{"StringEquals is case-sensitive", `{"StringEquals":{"k":"ml"}}`, map[string][]string{"k": {"ML"}}, false, false},
		{"StringEquals, one of several values (OR)", `{"StringEquals":{"k":["a","ml"]}}`, map[string][]string{"k": {"ml"}}, true, false},
		{"StringEquals on an absent key is false", `{"StringEquals":{"k":"ml"}}`, nil, false, true},
		{"condition key names are case-insensitive", `{"StringEquals":{"K":"ml"}}`, map[string][]string{"k": {"ml"}}, true, false},
		{"StringNotEquals", `{"StringNotEquals":{"k":"ml"}}`, map[string][]string{"k": {"ops"}}, true, false},
		{"StringNotEquals on an absent key is true", `{"StringNotEquals":{"k":"ml"}}`, nil, true, true},
		{"StringNotEquals with several values (NOR)", `{"StringNotEquals":{"k":["a","ml"]}}`, map[string][]string{"k": {"ml"}}, false, false},
		{"StringEqualsIgnoreCase", `{"StringEqualsIgnoreCase":{"k":"ml"}}`, map[string][]string{"k": {"ML"}}, true, false},
		{"StringNotEqualsIgnoreCase", `{"StringNotEqualsIgnoreCase":{"k":"ml"}}`, map[string][]string{"k": {"ML"}}, false, false},
		{"StringLike with *", `{"StringLike":{"k":"m*"}}`, map[string][]string{"k": {"ml-east"}}, true, false},
		{"StringLike with ?", `{"StringLike":{"k":"m?"}}`, map[string][]string{"k": {"mlx"}}, false, false},
		{"StringNotLike", `{"StringNotLike":{"k":"m*"}}`, map[string][]string{"k": {"ops"}}, true, false},
		{"ArnLike by component", `{"ArnLike":{"k":"arn:aws:bedrock:*:*:inference-profile/global.*"}}`, map[string][]string{"k": {globalProfile}}, true, false},
		{"ArnLike: * does not cross a colon", `{"ArnLike":{"k":"arn:aws:bedrock:*:inference-profile/global.*"}}`, map[string][]string{"k": {globalProfile}}, false, false},
		{"ArnLike is case-sensitive", `{"ArnLike":{"k":"arn:aws:bedrock:*:*:inference-profile/GLOBAL.*"}}`, map[string][]string{"k": {globalProfile}}, false, false},
		{"ArnLike: a value that is not an ARN", `{"ArnLike":{"k":"arn:aws:bedrock:*:*:*"}}`, map[string][]string{"k": {"global"}}, false, false},
		{"ArnEquals behaves as ArnLike", `{"ArnEquals":{"k":"arn:aws:bedrock:*:*:inference-profile/us.*"}}`, map[string][]string{"k": {usProfile}}, true, false},
		{"ArnNotLike", `{"ArnNotLike":{"k":"arn:aws:bedrock:*:*:inference-profile/global.*"}}`, map[string][]string{"k": {usProfile}}, true, false},
		{"ArnNotLike on an absent key is true", `{"ArnNotLike":{"k":"arn:aws:bedrock:*:*:*"}}`, nil, true, true},
		{"ArnNotEquals", `{"ArnNotEquals":{"k":"` + usProfile + `"}}`, map[string][]string{"k": {usProfile}}, false, false},
		{"Bool true", `{"Bool":{"k":"true"}}`, map[string][]string{"k": {"true"}}, true, false},
		{"Bool as a JSON boolean", `{"Bool":{"k":false}}`, map[string][]string{"k": {"true"}}, false, false},
		{"Null true on an absent key", `{"Null":{"k":"true"}}`, nil, true, false},
		{"Null false on an absent key", `{"Null":{"k":"false"}}`, nil, false, false},
		{"Null false on a present key", `{"Null":{"k":"false"}}`, map[string][]string{"k": {"x"}}, true, false},
		{"NumericLessThan", `{"NumericLessThan":{"k":"10"}}`, map[string][]string{"k": {"9.5"}}, true, false},
		{"NumericGreaterThanEquals with a JSON number", `{"NumericGreaterThanEquals":{"k":10}}`, map[string][]string{"k": {"9"}}, false, false},
		{"NumericEquals on a value that is not a number", `{"NumericEquals":{"k":"1"}}`, map[string][]string{"k": {"one"}}, false, false},
		{"DateGreaterThan", `{"DateGreaterThan":{"k":"2020-04-01T00:00:00Z"}}`, map[string][]string{"k": {"2026-11-30T01:00:00Z"}}, true, false},
		{"DateLessThan with epoch seconds", `{"DateLessThan":{"k":"1585699200"}}`, map[string][]string{"k": {"2026-11-30T01:00:00Z"}}, false, false},
		{"IfExists on an absent key is true", `{"StringEqualsIfExists":{"k":"ml"}}`, nil, true, false},
		{"IfExists on a present key evaluates it", `{"StringEqualsIfExists":{"k":"ml"}}`, map[string][]string{"k": {"ops"}}, false, false},
		{"ArnLikeIfExists", `{"ArnLikeIfExists":{"k":"arn:aws:bedrock:*:*:inference-profile/us.*"}}`, nil, true, false},
		{"ForAnyValue: one value matches", `{"ForAnyValue:StringEquals":{"k":["a","b"]}}`, map[string][]string{"k": {"c", "b"}}, true, false},
		{"ForAnyValue: none matches", `{"ForAnyValue:StringEquals":{"k":["a","b"]}}`, map[string][]string{"k": {"c"}}, false, false},
		{"ForAnyValue on an absent key is false", `{"ForAnyValue:StringEquals":{"k":"a"}}`, nil, false, true},
		{"ForAllValues on an empty string is true (a null data set)", `{"ForAllValues:StringEquals":{"k":"a"}}`, map[string][]string{"k": {""}}, true, false},
		{"ForAnyValue on an empty string is false (a null data set)", `{"ForAnyValue:StringEquals":{"k":""}}`, map[string][]string{"k": {""}}, false, false},
		{"StringEquals on an empty string compares it", `{"StringEquals":{"k":""}}`, map[string][]string{"k": {""}}, true, false},
		{"ForAllValues: every value matches", `{"ForAllValues:StringLike":{"k":["a*","b"]}}`, map[string][]string{"k": {"ab", "b"}}, true, false},
		{"ForAllValues: one value does not", `{"ForAllValues:StringEquals":{"k":["a","b"]}}`, map[string][]string{"k": {"a", "c"}}, false, false},
		{"ForAllValues on an absent key is true", `{"ForAllValues:StringEquals":{"k":"a"}}`, nil, true, true},
		{"ForAllValues with a negated operator", `{"ForAllValues:StringNotEquals":{"k":["a","b"]}}`, map[string][]string{"k": {"c", "d"}}, true, false},
		{"ForAnyValue with IfExists on an absent key", `{"ForAnyValue:StringEqualsIfExists":{"k":"a"}}`, nil, true, false},
		{"several keys under one operator (AND)", `{"StringEquals":{"k":"a","j":"b"}}`, map[string][]string{"k": {"a"}, "j": {"c"}}, false, false},
		{"several operators (AND)", `{"StringEquals":{"k":"a"},"StringLike":{"j":"b*"}}`, map[string][]string{"k": {"a"}, "j": {"bc"}}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := inline(t, "p", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"*","Condition":`+tt.condition+`}]}`, identityPolicy)
			got := evaluatePolicies(evalInput{identity: []namedPolicy{p}, action: "bedrock:InvokeModel", resource: modelIn("us-east-1"), context: newEvalContext(tt.context)})
			if holds := got.decision == decisionAllowed; holds != tt.wantHolds {
				t.Errorf("condition holds: got %v; want %v", holds, tt.wantHolds)
			}
			if gotMissing := len(got.missing) > 0; gotMissing != tt.wantMissing {
				t.Errorf("missing keys: got %v; want some: %v", got.missing, tt.wantMissing)
			}
		})
	}
}

// TestEvaluationLayers covers the layers of the IAM user guide's evaluation
// logic: allow-list SCP levels, the boundary as an intersection,
// NotAction/NotResource, and the missing keys listed beside each decision.
func TestEvaluationLayers(t *testing.T) {
	full := namedPolicy{name: "FullAWSAccess", doc: fullAWSAccess}
	bedrockOnly := inline(t, "bedrock-only", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:*","Resource":"*"}}`, scpPolicy)
	everything := inline(t, "everything", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, identityPolicy)
	invokeOnly := inline(t, "boundary", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"*"}]}`, boundaryPolicy)
	boundaryDeny := inline(t, "boundary", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"bedrock:*","NotResource":"arn:aws:bedrock:*::foundation-model/amazon.*"}]}`, boundaryPolicy)
	notAnthropic := inline(t, "not-anthropic", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"bedrock:*","NotResource":["arn:aws:bedrock:*::foundation-model/anthropic.*"]}]}`, identityPolicy)
	denyAllButList := inline(t, "deny-writes", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","NotAction":"bedrock:List*","Resource":"*"}]}`, identityPolicy)
	scoped := inline(t, "scoped", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"*","Condition":{"StringEquals":{"bedrock:InferenceProfileArn":"`+usProfile+`"}}}]}`, identityPolicy)
	denyAll := inline(t, "deny-all", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"bedrock:*","Resource":"*"}]}`, identityPolicy)
	nova := "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0"

	tests := []struct {
		name         string
		in           evalInput
		want         string
		wantDeniedBy policyLayer
		wantOrgs     bool
		wantBoundary bool
		wantMissing  []string
	}{
		{name: "allow-list SCP on an OU allows its actions",
			in:   evalInput{identity: []namedPolicy{everything}, scps: []scpLevel{{"r", []namedPolicy{full}}, {"ou", []namedPolicy{bedrockOnly}}, {"acct", []namedPolicy{full}}}, action: "bedrock:InvokeModel", resource: nova},
			want: decisionAllowed, wantOrgs: true, wantBoundary: true},
		{name: "allow-list SCP on an OU: other actions have no allow at that level",
			in:   evalInput{identity: []namedPolicy{everything}, scps: []scpLevel{{"r", []namedPolicy{full}}, {"ou", []namedPolicy{bedrockOnly}}, {"acct", []namedPolicy{full}}}, action: "s3:GetObject", resource: "*"},
			want: decisionImplicitDeny, wantDeniedBy: layerSCP, wantOrgs: false, wantBoundary: true},
		{name: "a level without any SCP denies everything",
			in:   evalInput{identity: []namedPolicy{everything}, scps: []scpLevel{{"r", []namedPolicy{full}}, {"acct", nil}}, action: "bedrock:InvokeModel", resource: nova},
			want: decisionImplicitDeny, wantDeniedBy: layerSCP, wantOrgs: false, wantBoundary: true},
		{name: "the boundary caps the identity policies",
			in:   evalInput{identity: []namedPolicy{everything}, boundary: &invokeOnly, action: "bedrock:InvokeModelWithResponseStream", resource: nova},
			want: decisionImplicitDeny, wantDeniedBy: layerBoundary, wantOrgs: true, wantBoundary: false},
		{name: "the boundary and the identity policies both allow",
			in:   evalInput{identity: []namedPolicy{everything}, boundary: &invokeOnly, action: "bedrock:InvokeModel", resource: nova},
			want: decisionAllowed, wantOrgs: true, wantBoundary: true},
		{name: "the boundary alone grants nothing",
			in:   evalInput{boundary: &invokeOnly, action: "bedrock:InvokeModel", resource: nova},
			want: decisionImplicitDeny, wantDeniedBy: layerIdentity, wantOrgs: true, wantBoundary: true},
		{name: "a Deny with NotResource in the boundary",
			in:   evalInput{identity: []namedPolicy{everything}, boundary: &boundaryDeny, action: "bedrock:InvokeModel", resource: modelIn("us-east-1")},
			want: decisionExplicitDeny, wantDeniedBy: layerBoundary, wantOrgs: true, wantBoundary: false},
		{name: "NotResource allows what it does not list",
			in:   evalInput{identity: []namedPolicy{notAnthropic}, action: "bedrock:InvokeModel", resource: nova},
			want: decisionAllowed, wantOrgs: true, wantBoundary: true},
		{name: "NotResource does not allow what it lists",
			in:   evalInput{identity: []namedPolicy{notAnthropic}, action: "bedrock:InvokeModel", resource: modelIn("us-east-1")},
			want: decisionImplicitDeny, wantDeniedBy: layerIdentity, wantOrgs: true, wantBoundary: true},
		{name: "a Deny with NotAction denies what it does not list",
			in:   evalInput{identity: []namedPolicy{denyAllButList}, action: "bedrock:InvokeModel", resource: nova},
			want: decisionExplicitDeny, wantDeniedBy: layerIdentity, wantOrgs: true, wantBoundary: true},
		{name: "a Deny with NotAction leaves what it lists",
			in:   evalInput{identity: []namedPolicy{denyAllButList}, action: "bedrock:ListFoundationModels", resource: "*"},
			want: decisionAllowed, wantOrgs: true, wantBoundary: true},
		{name: "a certain Deny: the key is still listed",
			in:   evalInput{identity: []namedPolicy{scoped, denyAll}, action: "bedrock:InvokeModel", resource: nova},
			want: decisionExplicitDeny, wantDeniedBy: layerIdentity, wantOrgs: true, wantBoundary: true, wantMissing: []string{"bedrock:InferenceProfileArn"}},
		{name: "an SCP level without an allow: the identity key is still listed",
			in:   evalInput{identity: []namedPolicy{scoped}, scps: []scpLevel{{"r", []namedPolicy{bedrockOnly}}, {"acct", nil}}, action: "bedrock:InvokeModel", resource: nova},
			want: decisionImplicitDeny, wantDeniedBy: layerSCP, wantOrgs: false, wantBoundary: true, wantMissing: []string{"bedrock:InferenceProfileArn"}},
		{name: "a missing key that could allow is reported",
			in:   evalInput{identity: []namedPolicy{scoped}, scps: []scpLevel{{"r", []namedPolicy{bedrockOnly}}}, action: "bedrock:InvokeModel", resource: nova},
			want: decisionImplicitDeny, wantDeniedBy: layerIdentity, wantOrgs: true, wantBoundary: true, wantMissing: []string{"bedrock:InferenceProfileArn"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.in.context == nil {
				tt.in.context = evalContext{}
			}
			got := evaluatePolicies(tt.in)
			if got.decision != tt.want || got.deniedBy != tt.wantDeniedBy {
				t.Errorf("decision: got %s (denied by %q); want %s (denied by %q)", got.decision, got.deniedBy, tt.want, tt.wantDeniedBy)
			}
			if got.allowedByOrgs != tt.wantOrgs || got.allowedByBoundary != tt.wantBoundary {
				t.Errorf("allowed by orgs/boundary: got %v/%v; want %v/%v", got.allowedByOrgs, got.allowedByBoundary, tt.wantOrgs, tt.wantBoundary)
			}
			if !slices.Equal(got.missing, tt.wantMissing) {
				t.Errorf("missing context keys: got %v; want %v", got.missing, tt.wantMissing)
			}
		})
	}
}

// TestSCPFullPolicyLanguage checks SCP Allow statements with what AWS has
// accepted in SCPs since September 2025 (ledger: IAM-scp-syntax):
// individual resource ARNs, conditions, NotAction and NotResource. On a level
// whose FullAWSAccess is detached, such an Allow is that level's allow list.
func TestSCPFullPolicyLanguage(t *testing.T) {
	full := namedPolicy{name: "FullAWSAccess", doc: fullAWSAccess}
	everything := inline(t, "everything", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, identityPolicy)
	// Ours, not published: an allow list that lets the OU invoke Amazon
	// models, only in us-east-1, and everything that is not Bedrock.
	amazonInEast := `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"arn:aws:bedrock:*::foundation-model/amazon.*","Condition":{"StringEquals":{"aws:RequestedRegion":"us-east-1"}}},
		{"Effect":"Allow","NotAction":"bedrock:*","Resource":"*"}]}`
	notAnthropic := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:*","NotResource":"arn:aws:bedrock:*::foundation-model/anthropic.*"}}`
	nova := "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0"

	tests := []struct {
		name         string
		scp          string
		resource     string
		action       string
		context      evalContext
		want         string
		wantDeniedBy policyLayer
		wantMissing  []string
	}{
		{name: "a resource ARN and a condition in an Allow: allowed", scp: amazonInEast, action: "bedrock:InvokeModel", resource: nova,
			context: ctx("aws:RequestedRegion", "us-east-1"), want: decisionAllowed},
		{name: "a resource ARN in an Allow: another model has no allow at the level", scp: amazonInEast, action: "bedrock:InvokeModel", resource: modelIn("us-east-1"),
			context: ctx("aws:RequestedRegion", "us-east-1"), want: decisionImplicitDeny, wantDeniedBy: layerSCP},
		{name: "a condition in an Allow: another region has no allow at the level", scp: amazonInEast, action: "bedrock:InvokeModel", resource: nova,
			context: ctx("aws:RequestedRegion", "eu-west-1"), want: decisionImplicitDeny, wantDeniedBy: layerSCP},
		{name: "a condition in an Allow on a missing key: no allow at the level, the SCP's key not listed", scp: amazonInEast, action: "bedrock:InvokeModel", resource: nova,
			want: decisionImplicitDeny, wantDeniedBy: layerSCP},
		{name: "NotAction in an Allow allows what it does not list", scp: amazonInEast, action: "s3:GetObject", resource: "*", want: decisionAllowed},
		{name: "NotResource in an Allow allows what it does not list", scp: notAnthropic, action: "bedrock:InvokeModel", resource: nova, want: decisionAllowed},
		{name: "NotResource in an Allow does not allow what it lists", scp: notAnthropic, action: "bedrock:InvokeModel", resource: modelIn("us-east-1"),
			want: decisionImplicitDeny, wantDeniedBy: layerSCP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scp := inline(t, "allow-list", tt.scp, scpPolicy)
			c := tt.context
			if c == nil {
				c = evalContext{}
			}
			got := evaluatePolicies(evalInput{identity: []namedPolicy{everything},
				scps:   []scpLevel{{"r", []namedPolicy{full}}, {"ou", []namedPolicy{scp}}, {"acct", []namedPolicy{full}}},
				action: tt.action, resource: tt.resource, context: c})
			if got.decision != tt.want || got.deniedBy != tt.wantDeniedBy {
				t.Errorf("decision: got %s (denied by %q); want %s (denied by %q)", got.decision, got.deniedBy, tt.want, tt.wantDeniedBy)
			}
			if !slices.Equal(got.missing, tt.wantMissing) {
				t.Errorf("missing context keys: got %v; want %v", got.missing, tt.wantMissing)
			}
		})
	}
}

// TestResourceWildcards checks the Resource element's wildcards as the IAM
// user guide describes them (ledger: IAM-resource-match): * and ? work
// within the colon-separated segments of an ARN, and only a * that ends a
// segment may expand beyond the colons.
func TestResourceWildcards(t *testing.T) {
	sonnet := modelIn("us-east-1") // ...foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0
	tests := []struct {
		name     string
		pattern  string
		resource string
		want     bool
	}{
		{"* alone is every resource", "*", sonnet, true},
		{"a * ending the region segment matches any region", "arn:aws:bedrock:*::foundation-model/*", sonnet, true},
		{"a * ending the region segment matches no region", "arn:aws:bedrock:*::foundation-model/*", regionless, true},
		{"a * ending the ARN spans the colon in a model version", "arn:aws:bedrock:*:*:foundation-model/anthropic.*", sonnet, true},
		{"a * ending a segment expands beyond the colons", "arn:aws:bedrock:*", sonnet, true},
		{"a * before a colon in the resource spans its segment", "arn:aws:bedrock:us-east-1::foundation-model/anthropic.*:0", sonnet, true},
		{"a * inside a segment does not cross a colon", "arn:aws:bedrock:us-east-1::foundation-model/anthropic.*0", sonnet, false},
		{"? does not match a colon", "arn:aws:bedrock:us-east-1?:foundation-model/" + fixtureModel, sonnet, false},
		{"? matches one character of a segment", "arn:aws:bedrock:us-east-?::foundation-model/" + fixtureModel, sonnet, true},
		{"matching is case-sensitive", "arn:aws:bedrock:*::foundation-model/Anthropic.*", sonnet, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, element := range []string{"Resource", "NotResource"} {
				p := inline(t, "p", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:InvokeModel","`+element+`":"`+tt.pattern+`"}}`, identityPolicy)
				got := evaluatePolicies(evalInput{identity: []namedPolicy{p}, action: "bedrock:InvokeModel", resource: tt.resource, context: evalContext{}})
				if want := tt.want == (element == "Resource"); (got.decision == decisionAllowed) != want {
					t.Errorf("%s %q on %s: got %s; want allowed %v", element, tt.pattern, tt.resource, got.decision, want)
				}
			}
		})
	}
}

// TestMissingContextValuesAsIAMReports checks which keys MissingContextValues
// lists, as captures of IAM's answers show (ledger: IAM-missing-context): every
// key a condition of the role's policies or boundary requires and the request
// lacks, whatever action or resource its statement names and whether or not it
// could change the decision; no key of an SCP's conditions.
func TestMissingContextValuesAsIAMReports(t *testing.T) {
	// The shape of boto/boto3#3111: a key in a statement for another action.
	otherAction := inline(t, "other-action", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::example-bucket","Condition":{"StringLike":{"aws:PrincipalTag/allowed_service":"s3"}}},
		{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"*"}]}`, identityPolicy)
	ifExists := inline(t, "if-exists", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"*","Condition":{"StringEqualsIfExists":{"aws:SourceVpc":"vpc-1"},"Null":{"aws:SourceVpce":"true"}}}]}`, identityPolicy)
	boundary := inline(t, "boundary", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":"us-east-1"}}}]}`, boundaryPolicy)
	euOnly := fixture(t, "scp-region-deny-eu.json", scpPolicy)
	everything := inline(t, "everything", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, identityPolicy)
	geo := fixture(t, "geographic-cris.json", identityPolicy)

	tests := []struct {
		name        string
		in          evalInput
		want        string
		wantMissing []string
	}{
		{name: "a key of a statement for another action is reported",
			in:   evalInput{identity: []namedPolicy{otherAction}, action: "bedrock:InvokeModel", resource: modelIn("us-east-1")},
			want: decisionAllowed, wantMissing: []string{"aws:PrincipalTag/allowed_service"}},
		{name: "a key the request carries is not reported",
			in:   evalInput{identity: []namedPolicy{otherAction}, action: "bedrock:InvokeModel", resource: modelIn("us-east-1"), context: ctx("aws:PrincipalTag/allowed_service", "ml")},
			want: decisionAllowed},
		{name: "a key of a statement for another resource is reported",
			in:   evalInput{identity: []namedPolicy{geo}, action: "bedrock:InvokeModel", resource: usProfile, context: ctx("aws:RequestedRegion", "us-east-1")},
			want: decisionAllowed, wantMissing: []string{"bedrock:InferenceProfileArn"}},
		{name: "IfExists and Null do not require their keys",
			in:   evalInput{identity: []namedPolicy{ifExists}, action: "bedrock:InvokeModel", resource: modelIn("us-east-1")},
			want: decisionAllowed},
		{name: "the boundary's keys are reported",
			in:   evalInput{identity: []namedPolicy{everything}, boundary: &boundary, action: "bedrock:InvokeModel", resource: modelIn("us-east-1")},
			want: decisionImplicitDeny, wantMissing: []string{"aws:RequestedRegion"}},
		{name: "an SCP's keys are not reported",
			in:   evalInput{identity: []namedPolicy{everything}, scps: rootLevels(euOnly), action: "bedrock:InvokeModel", resource: modelIn("us-east-1")},
			want: decisionExplicitDeny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.in.context == nil {
				tt.in.context = evalContext{}
			}
			got := evaluatePolicies(tt.in)
			if got.decision != tt.want {
				t.Errorf("decision: got %s; want %s", got.decision, tt.want)
			}
			if !slices.Equal(got.missing, tt.wantMissing) {
				t.Errorf("missing context keys: got %v; want %v", got.missing, tt.wantMissing)
			}
		})
	}
}

// TestParsePolicyRefuses checks that what the evaluator does not implement
// is refused with the field named.
func TestParsePolicyRefuses(t *testing.T) {
	st := func(body string) string { return `{"Version":"2012-10-17","Statement":[` + body + `]}` }
	tests := []struct {
		name string
		doc  string
		kind policyKind
		want string
	}{
		{"unknown policy element", `{"Version":"2012-10-17","Statment":[]}`, identityPolicy, "Statment: not a policy element"},
		{"no Statement", `{"Version":"2012-10-17"}`, identityPolicy, "Statement: missing"},
		{"unknown version", `{"Version":"2012-10-18","Statement":[]}`, identityPolicy, `Version: "2012-10-18" is not`},
		{"unknown statement element", st(`{"Effect":"Allow","Action":"*","Resource":"*","Resources":"*"}`), identityPolicy, "Statement[0].Resources: not a statement element"},
		{"Principal in an identity policy", st(`{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}`), identityPolicy, "Statement[0].Principal: an identity policy cannot have Principal"},
		{"NotPrincipal in an SCP", st(`{"Effect":"Deny","NotPrincipal":{"AWS":"*"},"Action":"*","Resource":"*"}`), scpPolicy, "Statement[0].NotPrincipal: an SCP cannot have NotPrincipal"},
		{"Principal in a boundary", st(`{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}`), boundaryPolicy, "Statement[0].Principal: a permissions boundary cannot"},
		{"unknown operator", st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}`), identityPolicy, "Statement[0].Condition.IpAddress: not a condition operator"},
		{"misspelt operator", st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqual":{"k":"v"}}}`), identityPolicy, "Statement[0].Condition.StringEqual: not a condition operator"},
		{"unknown set qualifier", st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForSomeValues:StringEquals":{"k":"v"}}}`), identityPolicy, `Statement[0].Condition.ForSomeValues:StringEquals: set qualifier "ForSomeValues"`},
		{"NullIfExists", st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NullIfExists":{"k":"true"}}}`), identityPolicy, "Statement[0].Condition.NullIfExists: not a condition operator"},
		{"Null with a value that is not a boolean", st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Null":{"k":"yes"}}}`), identityPolicy, `Statement[0].Condition.Null.k[0]: "yes" is not true or false`},
		{"policy variable in Resource", st(`{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/${aws:username}/*"}`), identityPolicy, "Statement[0].Resource[0]: policy variable"},
		{"policy variable in a condition value", st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"${aws:username}"}}}`), identityPolicy, "Statement[0].Condition.StringEquals.aws:PrincipalTag/team[0]: policy variable"},
		{"no Effect", st(`{"Action":"*","Resource":"*"}`), identityPolicy, "Statement[0].Effect: missing"},
		{"Effect of another case", st(`{"Effect":"allow","Action":"*","Resource":"*"}`), identityPolicy, `Statement[0].Effect: "allow" is not Allow or Deny`},
		{"Action and NotAction", st(`{"Effect":"Allow","Action":"*","NotAction":"s3:*","Resource":"*"}`), identityPolicy, "Statement[0]: needs exactly one of Action and NotAction"},
		{"no Resource", st(`{"Effect":"Allow","Action":"*"}`), identityPolicy, "Statement[0]: needs exactly one of Resource and NotResource"},
		{"an action without a service", st(`{"Effect":"Allow","Action":"InvokeModel","Resource":"*"}`), identityPolicy, `Statement[0].Action[0]: "InvokeModel" is not service:action`},
		{"the second statement is named", st(`{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringLike":{"k":[]}}}`), identityPolicy, "Statement[1].Condition.StringLike.k: no values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parsePolicy(tt.doc, tt.kind)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestScenarioRefusesPolicies checks that a scenario with a policy the
// evaluator cannot evaluate does not load, and says where.
func TestScenarioRefusesPolicies(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"Principal in a role policy",
			`accounts: [{id: '111111111111', roles: [{name: R, policies: {p: '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}'}}]}]`,
			"accounts[0].roles[0].policies[p]: Statement[0].Principal: an identity policy cannot have Principal"},
		{"a policy variable in a boundary",
			`accounts: [{id: '111111111111', roles: [{name: R, boundary: '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::${aws:username}"}}'}]}]`,
			"accounts[0].roles[0].boundary: Statement[0].Resource[0]: policy variable"},
		{"an unknown key in an SCP",
			`scps: [{name: x, targets: ['111111111111'], document: '{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*","Conditions":{}}}'}]`,
			"scps[0].document: Statement[0].Conditions: not a statement element"},
		{"FullAWSAccess detached from nowhere",
			`organization: {full_aws_access_detached: [ou-nowhere]}`,
			`organization.full_aws_access_detached[0]: "ou-nowhere" is not the root, an OU or an account`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseScenario([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestSimulateAllowListSCP runs an allow-list SCP through
// SimulatePrincipalPolicy: the OU's FullAWSAccess is detached and its SCP
// allows Bedrock only.
func TestSimulateAllowListSCP(t *testing.T) {
	s := startSim(t, `
organization:
  management_account: "999999999999"
  root: r-iam0
  ous: [{id: ou-iam0-apps0001, name: Apps}]
  full_aws_access_detached: [ou-iam0-apps0001]
role: {name: GrantwatchAudit, external_id: ext-123}
scps:
  - name: bedrock-only
    targets: [ou-iam0-apps0001]
    document: '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:*","Resource":"*"}}'
accounts:
  - id: "111111111111"
    parent: ou-iam0-apps0001
    roles:
      - name: AppRole
        policies: {all: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'}
`, nil)
	client := iam.NewFromConfig(memberConfig(t, s, "111111111111", "ext-123"))
	out, err := client.SimulatePrincipalPolicy(context.Background(), &iam.SimulatePrincipalPolicyInput{
		PolicySourceArn: aws.String("arn:aws:iam::111111111111:role/AppRole"),
		ActionNames:     []string{"bedrock:InvokeModel", "s3:GetObject"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		decision iamtypes.PolicyEvaluationDecisionType
		orgs     bool
	}{"bedrock:InvokeModel": {"allowed", true}, "s3:GetObject": {"implicitDeny", false}}
	for _, r := range out.EvaluationResults {
		w := want[aws.ToString(r.EvalActionName)]
		if r.EvalDecision != w.decision || r.OrganizationsDecisionDetail == nil || r.OrganizationsDecisionDetail.AllowedByOrganizations != w.orgs {
			t.Errorf("%s: got %s, %+v; want %s, allowed by organizations %v", aws.ToString(r.EvalActionName), r.EvalDecision, r.OrganizationsDecisionDetail, w.decision, w.orgs)
		}
	}
}

// TestSCPLevels checks the levels an account's requests pass: the root,
// each OU, the account, each with FullAWSAccess unless detached, and none
// for the management account.
func TestSCPLevels(t *testing.T) {
	s := startSim(t, `
organization:
  management_account: "999999999999"
  root: r-iam0
  ous: [{id: ou-iam0-apps0001, name: Apps, ous: [{id: ou-iam0-team0001, name: Team}]}]
  full_aws_access_detached: [ou-iam0-apps0001]
scps:
  - name: bedrock-only
    targets: [ou-iam0-apps0001]
    document: '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:*","Resource":"*"}}'
accounts:
  - {id: "111111111111", parent: ou-iam0-team0001}
`, nil)
	var got []string
	for _, l := range s.scpsFor("111111111111") {
		var names []string
		for _, p := range l.policies {
			names = append(names, p.name)
		}
		got = append(got, l.target+"="+strings.Join(names, "+"))
	}
	want := []string{"r-iam0=FullAWSAccess", "ou-iam0-apps0001=bedrock-only", "ou-iam0-team0001=FullAWSAccess", "111111111111=FullAWSAccess"}
	if !slices.Equal(got, want) {
		t.Errorf("levels: got %v; want %v", got, want)
	}
	if levels := s.scpsFor("999999999999"); levels != nil {
		t.Errorf("management account: got %d SCP levels; want none", len(levels))
	}
}

func TestEvaluateIdentityPolicy(t *testing.T) {
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"aws-marketplace:Subscribe","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws-marketplace:ProductId":["prod-a"]}}}]}`
	for _, tt := range []struct {
		name    string
		product []string
		want    string
	}{
		{"the listed product", []string{"prod-a"}, decisionAllowed},
		{"another product", []string{"prod-b"}, decisionImplicitDeny},
		{"no product id", nil, decisionImplicitDeny},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EvaluateIdentityPolicy(doc, "aws-marketplace:Subscribe", "*", map[string][]string{"aws-marketplace:productid": tt.product})
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := EvaluateIdentityPolicy(`{"Statement":[{"Effect":"Maybe"}]}`, "s3:GetObject", "*", nil); err == nil {
		t.Error("a broken policy: got no error; want one")
	}
}
