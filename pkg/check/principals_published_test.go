package check

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/devtools/awssim"
	"github.com/grantwatch/grantwatch/pkg/result"
)

const sonnet45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"

// published reads one of the policies AWS publishes
// (pkg/devtools/awssim/testdata/policies, whose README gives each one's source),
// with its placeholders filled for account 111111111111 calling from
// us-east-1.
func published(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../devtools/awssim/testdata/policies/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.NewReplacer("<ACCOUNT_ID>", "111111111111", "<ACCOUNT>", "111111111111",
		"<REQUESTING REGION>", "us-east-1", "<MODEL NAME>", sonnet45).Replace(string(b))
}

// TestPrincipalsAgainstPublishedPolicies audits one role of account
// 111111111111 per case, with the policies and SCPs AWS publishes, and
// checks the verdict real IAM would give.
func TestPrincipalsAgainstPublishedPolicies(t *testing.T) {
	invokeOnly := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"*"}}`
	invokeAndKey := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["bedrock:InvokeModel","bedrock:CallWithBearerToken"],"Resource":"*"}}`
	vpceOnly := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"*","Condition":{"StringEquals":{"aws:SourceVpce":"vpce-0a1b2c3d4e5f60718"}}}}`
	// The global page's SCP, and the same SCP without its "unspecified"
	// exemption (the mistake the page warns about).
	withUnspecified := published(t, "scp-region-deny-with-unspecified.json")
	withoutUnspecified := strings.Replace(withUnspecified, `,
                        "unspecified"`, "", 1)
	if withoutUnspecified == withUnspecified {
		t.Fatal("could not take the exemption out of scp-region-deny-with-unspecified.json")
	}
	// Region-deny SCPs exempt administrators by aws:PrincipalArn, as AWS's
	// SCP examples do ("ArnNotLike": {"aws:PrincipalARN": ...}).
	exempting := func(scp, role string) string {
		return strings.Replace(scp, `"Condition": {`, `"Condition": {"ArnNotLike": {"aws:PrincipalARN": "arn:aws:iam::*:role/`+role+`"},`, 1)
	}
	us, global := "us."+sonnet45, "global."+sonnet45
	embed := "amazon.titan-embed-text-v2:0"
	// Allows only calls that carry bedrock:InferenceProfileArn: the
	// profile's own evaluation carries no such key, so it is denied.
	onlyWithProfileKey := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"*","Condition":{"ArnLike":{"bedrock:InferenceProfileArn":"arn:aws:bedrock:*:*:inference-profile/*"}}}}`
	// re:Post's SCP denying the models in us-east-2 and us-west-2 except
	// through an inference profile.
	exceptThroughProfiles := strings.NewReplacer(`"aa-example-1",`, `"us-east-2",`, `"aa-example-2",`, `"us-west-2"`, `"aa-example-3"`, "").
		Replace(published(t, "scp-deny-models-except-through-profiles.json"))

	tests := []struct {
		name   string
		policy string
		scp    string
		set    config.PrincipalSet
		// key is region/model of 111111111111.
		key                   string
		want                  result.Status
		wantCause, wantRemedy string
	}{
		{name: "an InvokeModel-only role is usable (InvokeModel and Converse need no more)", policy: invokeOnly,
			key: "us-east-1/" + claude35, want: result.Enabled, wantCause: "bedrock:InvokeModel allowed on every resource"},
		{name: "a streaming application also needs InvokeModelWithResponseStream", policy: invokeOnly, set: config.PrincipalSet{Actions: []string{"invoke", "stream"}},
			key: "us-east-1/" + claude35, want: result.IAMDenied, wantCause: "bedrock:InvokeModelWithResponseStream on", wantRemedy: "bedrock:InvokeModelWithResponseStream"},
		{name: "a model without streaming is not checked for it", policy: invokeOnly, set: config.PrincipalSet{Actions: []string{"invoke", "stream"}},
			key: "us-east-1/" + embed, want: result.Enabled, wantCause: "responseStreamingSupported=false"},
		{name: "the geographic cross-region policy AWS recommends is usable", policy: published(t, "geographic-cris.json"),
			key: "us-east-1/" + us, want: result.Enabled, wantCause: "allowed on every resource the call touches (4)"},
		{name: "the global cross-region policy AWS recommends is usable", policy: published(t, "global-cris.json"),
			key: "us-east-1/" + global, want: result.Enabled, wantCause: "allowed on every resource the call touches (3)"},
		{name: "without the profile the recommended policy is a real denial, not undetermined", policy: published(t, "geographic-cris.json"),
			key: "us-east-1/" + claude35, want: result.IAMDenied, wantCause: "implicitDeny"},
		{name: "a region SCP exempting unspecified lets the global profile through", policy: published(t, "global-cris.json"), scp: withUnspecified,
			key: "us-east-1/" + global, want: result.Enabled},
		{name: "a region SCP without the exemption denies the global hop", policy: published(t, "global-cris.json"), scp: withoutUnspecified,
			key: "us-east-1/" + global, want: result.SCPDenied,
			wantCause:  "on arn:aws:bedrock:::foundation-model/" + sonnet45 + " (aws:RequestedRegion=unspecified, the global hop of " + global,
			wantRemedy: `exempt calls through inference profiles with an ArnNotLike condition on bedrock:InferenceProfileArn`},
		{name: "a region SCP denying a destination of a geographic profile names the profile exemption", policy: invokeOnly, scp: strings.Replace(withUnspecified, `"us-east-2",`, "", 1),
			key: "us-east-1/" + us, want: result.SCPDenied, wantCause: "aws:RequestedRegion=us-east-2, a destination region",
			wantRemedy: "exempt calls through inference profiles from it with an ArnNotLike condition on bedrock:InferenceProfileArn"},
		{name: "an SCP exempting administrators by aws:PrincipalArn still denies the application's hop", policy: published(t, "global-cris.json"), scp: exempting(withoutUnspecified, "Admin"),
			key: "us-east-1/" + global, want: result.SCPDenied, wantCause: "aws:RequestedRegion=unspecified"},
		{name: "an SCP exempting this role by aws:PrincipalArn lets it through", policy: published(t, "global-cris.json"), scp: exempting(withoutUnspecified, "App"),
			key: "us-east-1/" + global, want: result.Enabled},
		{name: "the profile's own evaluation carries no bedrock:InferenceProfileArn", policy: onlyWithProfileKey,
			key: "us-east-1/" + us, want: result.IAMDenied, wantCause: "bedrock:InvokeModel on arn:aws:bedrock:us-east-1:111111111111:inference-profile/" + us + " (aws:RequestedRegion=us-east-1): implicitDeny"},
		{name: "an SCP exempting calls through a profile by bedrock:InferenceProfileArn lets the destinations through", policy: invokeOnly, scp: exceptThroughProfiles,
			key: "us-east-1/" + us, want: result.Enabled},
		{name: "the same SCP denies a base model id called in a denied region", policy: invokeOnly, scp: exceptThroughProfiles,
			key: "us-west-2/" + claude35, want: result.SCPDenied, wantCause: "AllowedByOrganizations=false"},
		{name: "AWS's SCP disabling global cross-region inference denies the global hop", policy: published(t, "global-cris.json"), scp: published(t, "scp-disable-global-cris.json"),
			key: "us-east-1/" + global, want: result.SCPDenied, wantCause: "aws:RequestedRegion=unspecified, the global hop of " + global},
		{name: "AWS's SCP disabling global cross-region inference denies the hop of a role without conditions", policy: invokeOnly, scp: published(t, "scp-disable-global-cris.json"),
			key: "us-east-1/" + global, want: result.SCPDenied, wantCause: "aws:RequestedRegion=unspecified, the global hop of " + global},
		{name: "AWS's SCP disabling global cross-region inference leaves geographic profiles alone", policy: published(t, "geographic-cris.json"), scp: published(t, "scp-disable-global-cris.json"),
			key: "us-east-1/" + us, want: result.Enabled},
		{name: "a key only the request carries is undetermined, not denied", policy: vpceOnly,
			key: "us-east-1/" + claude35, want: result.IAMUndetermined, wantCause: "MissingContextValues: aws:SourceVpce",
			wantRemedy: "context: [{name: aws:SourceVpce"},
		{name: "an SCP denial stays one whatever keys the role's policies lack", policy: vpceOnly, scp: published(t, "scp-region-deny-eu.json"),
			key: "us-east-1/" + claude35, want: result.SCPDenied, wantCause: "AllowedByOrganizations=false"},
		{name: "the key given in the configuration decides", policy: vpceOnly,
			set: config.PrincipalSet{Context: []config.ContextEntry{{Name: "aws:SourceVpce", Type: "string", Values: []string{"vpce-0a1b2c3d4e5f60718"}}}},
			key: "us-east-1/" + claude35, want: result.Enabled},
		{name: "a wrong value given in the configuration is a denial", policy: vpceOnly,
			set: config.PrincipalSet{Context: []config.ContextEntry{{Name: "aws:SourceVpce", Type: "string", Values: []string{"vpce-other"}}}},
			key: "us-east-1/" + claude35, want: result.IAMDenied},
		{name: "an API key denied by AWS's published SCP", policy: invokeAndKey, scp: published(t, "scp-deny-bedrock-api-keys.json"), set: config.PrincipalSet{Auth: []string{"iam", "api_key"}},
			key: "us-east-1/" + claude35, want: result.SCPDenied, wantCause: "bedrock:CallWithBearerToken on", wantRemedy: "Bedrock API key"},
		{name: "the same SCP leaves SigV4 callers alone", policy: invokeAndKey, scp: published(t, "scp-deny-bedrock-api-keys.json"),
			key: "us-east-1/" + claude35, want: result.Enabled},
		{name: "an API key caller needs CallWithBearerToken", policy: invokeOnly, set: config.PrincipalSet{Auth: []string{"api_key"}},
			key: "us-east-1/" + claude35, want: result.IAMDenied, wantRemedy: `"Action": "bedrock:CallWithBearerToken"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := fixture(t, func(sc *awssim.Scenario) {
				sc.Catalog = append(sc.Catalog,
					awssim.CatalogModel{ID: sonnet45, Name: "Claude Sonnet 4.5", Provider: "Anthropic", Regions: []string{"us-east-1", "us-east-2", "us-west-2"}, InferenceTypes: []string{"INFERENCE_PROFILE"}},
					awssim.CatalogModel{ID: embed, Name: "Titan Text Embeddings V2", Provider: "Amazon", Regions: []string{"us-east-1"}, NoStreaming: true})
				sc.Profiles = []awssim.Profile{
					{ID: us, Model: sonnet45, Sources: []string{"us-east-1"}, Destinations: []string{"us-east-1", "us-east-2", "us-west-2"}},
					{ID: global, Model: sonnet45, Sources: []string{"us-east-1"}},
				}
				if tt.scp != "" {
					sc.SCPs = []awssim.SCP{{Name: "published", Targets: []string{"111111111111"}, Document: tt.scp}}
				}
				sc.Account("111111111111").Roles = []awssim.IAMRole{{Name: "App", Policies: map[string]string{"bedrock": tt.policy}}}
			}, func(c *config.Config) {
				set := tt.set
				set.Roles = []string{"App"}
				c.Principals = config.Principals{ByAccount: map[string]config.PrincipalSet{"111111111111": set}}
				c.Models.ByAccount["111111111111"] = []string{us, global, embed}
			})
			rep := a.Run(context.Background(), "published")
			for _, r := range rep.Results {
				if r.Account != "111111111111" || r.Region+"/"+r.Model != tt.key || r.Principal != "App" {
					continue
				}
				if r.Status != tt.want || !strings.Contains(r.Cause, tt.wantCause) || !strings.Contains(r.Remediation, tt.wantRemedy) {
					t.Errorf("got %s\ncause %q\nremediation %q;\nwant %s, cause with %q, remediation with %q", r.Status, r.Cause, r.Remediation, tt.want, tt.wantCause, tt.wantRemedy)
				}
				return
			}
			t.Fatalf("no result for App on %s", tt.key)
		})
	}
}

// TestPrincipalSimulationCalls: a role is simulated once per requested
// region, the global hop's "unspecified" being one more; the second round
// with bedrock:InferenceProfileArn happens only for a policy that uses it,
// once per (region, profile).
func TestPrincipalSimulationCalls(t *testing.T) {
	us, global := "us."+sonnet45, "global."+sonnet45
	tests := []struct {
		name   string
		policy string
		want   int64
		scp    string
		auth   []string
	}{
		// us-east-1, us-east-2 (a destination of us.), us-west-2,
		// eu-central-1, and the global hop.
		{"no condition: one call per requested region", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"*"}}`, 5, "", nil},
		// And again, with the profile's ARN, for each (region, profile):
		// IAM lists a key the role's policies use as missing whatever the
		// resource (ledger: IAM-missing-context), so the us. profile's three
		// regions and the global profile's source region (its hop carries
		// the profile's ARN from the start).
		{"the recommended policy: again once per region and profile", published(t, "geographic-cris.json"), 5 + 4, "", nil},
		// The API-key SCP denies bedrock:CallWithBearerToken everywhere:
		// no profile's ARN lifts that, so no second round; and since it
		// denies the call on the global profile itself, whatever the hop
		// says cannot change the verdict, so the hop is not asked either
		// (settledProfiles): us-east-1, us-east-2, us-west-2, eu-central-1.
		{"an SCP denying API keys: no second round, no global hop", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["bedrock:InvokeModel","bedrock:CallWithBearerToken"],"Resource":"*"}}`, 4,
			published(t, "scp-deny-bedrock-api-keys.json"), []string{"api_key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, sim := fixture(t, func(sc *awssim.Scenario) {
				sc.Catalog = append(sc.Catalog, awssim.CatalogModel{ID: sonnet45, Name: "Claude Sonnet 4.5", Provider: "Anthropic", Regions: []string{"us-east-1", "us-east-2", "us-west-2"}, InferenceTypes: []string{"INFERENCE_PROFILE"}})
				sc.Profiles = []awssim.Profile{
					{ID: us, Model: sonnet45, Sources: []string{"us-east-1"}, Destinations: []string{"us-east-1", "us-east-2", "us-west-2"}},
					{ID: global, Model: sonnet45, Sources: []string{"us-east-1"}},
				}
				sc.Account("111111111111").Roles = []awssim.IAMRole{{Name: "App", Policies: map[string]string{"bedrock": tt.policy}}}
				if tt.scp != "" {
					sc.SCPs = []awssim.SCP{{Name: "published", Targets: []string{"111111111111"}, Document: tt.scp}}
				}
			}, func(c *config.Config) {
				c.Principals = config.Principals{ByAccount: map[string]config.PrincipalSet{"111111111111": {Roles: []string{"App"}, Auth: tt.auth}}}
				c.Models.ByAccount["111111111111"] = []string{us, global}
			})
			a.Run(context.Background(), "calls")
			if got := sim.Calls(awssim.OpSimulatePrincipalPolicy); got != tt.want {
				t.Errorf("SimulatePrincipalPolicy calls: got %d; want %d", got, tt.want)
			}
		})
	}
}

// TestPrincipalMarketplace: the three Marketplace actions, the model's
// product id where a policy asks for it (AWS's published example denies
// Subscribe for Claude 3.5 Sonnet's), no Marketplace check for a provider
// AWS does not sell through it, and escalation only when configured.
func TestPrincipalMarketplace(t *testing.T) {
	const palmyra = "writer.palmyra-x5-v1:0" // sold through Marketplace, not in the product id table
	invoke := `{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"*"}`
	all := `{"Effect":"Allow","Action":["aws-marketplace:Subscribe","aws-marketplace:Unsubscribe","aws-marketplace:ViewSubscriptions"],"Resource":"*"}`
	two := `{"Effect":"Allow","Action":["aws-marketplace:Subscribe","aws-marketplace:ViewSubscriptions"],"Resource":"*"}`
	onlyCohere := `{"Effect":"Allow","Action":"aws-marketplace:Subscribe","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws-marketplace:ProductId":["prod-nb4wqmplze2pm"]}}},{"Effect":"Allow","Action":["aws-marketplace:Unsubscribe","aws-marketplace:ViewSubscriptions"],"Resource":"*"}`
	// ViewSubscriptions scoped by the product id, which only Subscribe's
	// request carries: denied.
	viewByProduct := `{"Effect":"Allow","Action":["aws-marketplace:Subscribe","aws-marketplace:Unsubscribe"],"Resource":"*"},{"Effect":"Allow","Action":"aws-marketplace:ViewSubscriptions","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws-marketplace:ProductId":["prod-m5ilt4siql27k"]}}}`
	doc := func(statements ...string) string {
		return `{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`
	}
	tests := []struct {
		name      string
		policies  map[string]string
		model     string
		critical  bool
		want      result.Status
		wantCause string
		wantAcct  bool // the account's AGREEMENT_MISSING is made critical
	}{
		{"all three actions: it may subscribe", map[string]string{"b": doc(invoke, all)}, claude35, false, result.AgreementMissing, "is AGREEMENT_MISSING in the account", false},
		{"Unsubscribe missing", map[string]string{"b": doc(invoke, two)}, claude35, false, result.MarketplaceDenied, "aws-marketplace:Unsubscribe is implicitDeny", false},
		{"AWS's example denying the model's product id", map[string]string{"b": doc(invoke, all), "deny": published(t, "marketplace-deny-subscribe-product.json")}, claude35, false,
			result.MarketplaceDenied, "aws-marketplace:Subscribe is explicitDeny (aws:RequestedRegion=us-east-1, aws-marketplace:ProductId=prod-m5ilt4siql27k)", false},
		{"Subscribe allowed for another product only", map[string]string{"b": doc(invoke, onlyCohere)}, claude35, false, result.MarketplaceDenied, "aws-marketplace:ProductId=prod-m5ilt4siql27k", false},
		{"Subscribe allowed for this product", map[string]string{"b": doc(invoke, onlyCohere)}, cohere, false, result.AgreementMissing, "is AGREEMENT_MISSING", false},
		{"not sold through Marketplace: no Marketplace check", map[string]string{"b": doc(invoke)}, llama31, false, result.AgreementMissing, "is AGREEMENT_MISSING", false},
		{"a product id grantwatch does not know: undetermined", map[string]string{"b": doc(invoke, onlyCohere)}, palmyra, false, result.IAMUndetermined, "without the context keys aws-marketplace:ProductId", false},
		{"a product id condition on ViewSubscriptions never holds: only Subscribe carries the key", map[string]string{"b": doc(invoke, viewByProduct)}, claude35, false, result.MarketplaceDenied, "aws-marketplace:ViewSubscriptions is implicitDeny", false},
		{"escalated only when configured", map[string]string{"b": doc(invoke, two)}, claude35, true, result.MarketplaceDenied, "Unsubscribe", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := fixture(t, func(sc *awssim.Scenario) {
				acct := sc.Account("111111111111")
				acct.Models = map[string]awssim.ModelState{tt.model: {Agreement: "NOT_AVAILABLE"}}
				acct.Roles = []awssim.IAMRole{{Name: "App", Policies: tt.policies}}
				sc.Catalog = append(sc.Catalog, awssim.CatalogModel{ID: palmyra, Name: "Palmyra X5", Provider: "Writer", Regions: []string{"us-east-1"}})
			}, func(c *config.Config) {
				c.Principals = config.Principals{ByAccount: map[string]config.PrincipalSet{"111111111111": {Roles: []string{"App"}}}}
				c.Models.ByAccount["111111111111"] = []string{cohere, llama31, palmyra}
				c.Alerts.MarketplaceDeniedCritical = tt.critical
			})
			rep := a.Run(context.Background(), "marketplace")
			var app, acct *result.Result
			for i, r := range rep.Results {
				if r.Account == "111111111111" && r.Region == "us-east-1" && r.Model == tt.model {
					switch r.Principal {
					case "App":
						app = &rep.Results[i]
					case "":
						acct = &rep.Results[i]
					}
				}
			}
			if app == nil || acct == nil {
				t.Fatalf("no result for %s in 111111111111/us-east-1", tt.model)
			}
			if acct.Status != result.AgreementMissing {
				t.Fatalf("account: got %s (%s); want AGREEMENT_MISSING", acct.Status, acct.Cause)
			}
			if app.Status != tt.want || !strings.Contains(app.Cause, tt.wantCause) {
				t.Errorf("App: got %s (%q); want %s with %q", app.Status, app.Cause, tt.want, tt.wantCause)
			}
			if acct.IsCritical() != tt.wantAcct {
				t.Errorf("account critical: got %v; want %v", acct.IsCritical(), tt.wantAcct)
			}
		})
	}
}

// The embedded Marketplace data loads, with its source, and has the
// entries the code relies on.
func TestMarketplaceData(t *testing.T) {
	providers, ids := loadMarketplace(marketplaceData)
	if len(providers) == 0 || len(ids) == 0 {
		t.Fatalf("data/marketplace.json: got %d providers, %d product ids; want both", len(providers), len(ids))
	}
	for _, p := range []string{"Amazon", "Meta", "Mistral AI", "DeepSeek", "Qwen", "OpenAI"} {
		if !notSoldThroughMarketplace(p) {
			t.Errorf("%s: want not sold through AWS Marketplace", p)
		}
	}
	if notSoldThroughMarketplace("Anthropic") || productIDs[claude35] != "prod-m5ilt4siql27k" {
		t.Errorf("Anthropic: sold through Marketplace, Claude 3.5 Sonnet's product id prod-m5ilt4siql27k; got %v, %q", notSoldThroughMarketplace("Anthropic"), productIDs[claude35])
	}
	// Listed by the page's later version (Claude Opus 4.5).
	if got := productIDs["anthropic.claude-opus-4-5-20251101-v1:0"]; got != "prod-jhuafngbly644" {
		t.Errorf("Claude Opus 4.5's product id: got %q; want prod-jhuafngbly644", got)
	}
	if p, _ := loadMarketplace([]byte(`{"product_ids": {}}`)); p != nil {
		t.Errorf("a file without its source loads: got %v", p)
	}
}
