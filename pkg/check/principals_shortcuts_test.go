package check

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/devtools/awssim"
	"github.com/grantwatch/grantwatch/pkg/result"
)

// TestSimulationShortcutsKeepVerdicts audits the same account with and
// without the principal simulations' shortcuts (Checker.exhaustive), over
// AWS's published identity policies and SCPs, and wants every result, the
// principals' and the accounts', to be the same, and the shortcuts to have
// saved calls somewhere (so the comparison is not empty). No call fails
// here; TestSkippedCallThatWouldFail shows what a failing one does.
//
// The shortcut: a global hop, and a second round with a profile's ARN, are
// not asked where an SCP already denies the call on the profile itself
// (settledProfiles).
func TestSimulationShortcutsKeepVerdicts(t *testing.T) {
	us, global := "us."+sonnet45, "global."+sonnet45
	withUnspecified := published(t, "scp-region-deny-with-unspecified.json")
	withoutUnspecified := strings.Replace(withUnspecified, `,
                        "unspecified"`, "", 1)
	exceptThroughProfiles := strings.NewReplacer(`"aa-example-1",`, `"us-east-2",`, `"aa-example-2",`, `"us-west-2"`, `"aa-example-3"`, "").
		Replace(published(t, "scp-deny-models-except-through-profiles.json"))
	invokeAnything := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["bedrock:InvokeModel*","bedrock:CallWithBearerToken"],"Resource":"*"}}`
	// A role's policies, by name.
	policies := map[string]map[string]string{
		"invoke anything":      {"bedrock": invokeAnything},
		"geographic-cris.json": {"bedrock": published(t, "geographic-cris.json")},
		"global-cris.json":     {"bedrock": published(t, "global-cris.json")},
		"invoke anything and deny-api-keys-identity.json": {"bedrock": invokeAnything, "deny": published(t, "deny-api-keys-identity.json")},
	}
	scps := map[string]string{
		"no SCP":                                "",
		"scp-region-deny-eu.json":               published(t, "scp-region-deny-eu.json"),
		"scp-region-deny-with-unspecified.json": withUnspecified,
		"the same without unspecified":          withoutUnspecified,
		"scp-region-deny-with-unspecified.json without us-east-1": strings.Replace(withUnspecified, `"us-east-1",`, "", 1),
		"scp-disable-global-cris.json":                            published(t, "scp-disable-global-cris.json"),
		"scp-deny-models-except-through-profiles.json":            exceptThroughProfiles,
		"scp-permitted-models.json":                               published(t, "scp-permitted-models.json"),
		"scp-deny-bedrock-api-keys.json":                          published(t, "scp-deny-bedrock-api-keys.json"),
	}
	sets := map[string]config.PrincipalSet{
		"invoke":                     {Roles: []string{"App"}},
		"invoke, stream and API key": {Roles: []string{"App"}, Actions: []string{"invoke", "stream"}, Auth: []string{"iam", "api_key"}},
	}
	// Verdicts both runs must give, by policy / SCP / set and key. In us-west-2 the
	// role's own policy does not allow the us-west-2 us. profile (an
	// implicit deny), while the SCP denies only the us-west-2 foundation
	// model; IAM's OrganizationsDecisionDetail is one per action over the
	// call's resources (ledger: IAM-orgs-decision-detail), so it must not
	// be read as the profile's.
	wantStatus := map[string]map[string]result.Status{
		"geographic-cris.json / scp-deny-models-except-through-profiles.json / invoke": {
			"111111111111/us-west-2/" + us + "/App": result.IAMDenied,
			"111111111111/us-east-1/" + us + "/App": result.Enabled,
		},
		"geographic-cris.json / scp-deny-models-except-through-profiles.json / invoke, stream and API key": {
			"111111111111/us-west-2/" + us + "/App": result.IAMDenied,
		},
	}
	saved := int64(0)
	for pname, policy := range policies {
		for sname, scp := range scps {
			for setName, set := range sets {
				name := pname + " / " + sname + " / " + setName
				saved += compareShortcuts(t, name, shortcutCase{policies: policy, scp: scp, set: set}, wantStatus[name])
			}
		}
	}
	// Cheaper cases for what the matrix leaves out: a permissions
	// boundary, a configured context key and one the simulation lacks
	// (IAM_UNDETERMINED), a model without streaming, and Marketplace.
	vpceOnly := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["bedrock:InvokeModel*"],"Resource":"*","Condition":{"StringEquals":{"aws:SourceVpce":"vpce-0a1b2c3d4e5f60718"}}}}`
	invokeOnly := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"*"}}`
	streaming := config.PrincipalSet{Roles: []string{"App"}, Actions: []string{"invoke", "stream"}}
	extra := []struct {
		name string
		c    shortcutCase
		want map[string]result.Status
	}{
		{name: "a boundary allowing only us-east-1 / region deny without unspecified", c: shortcutCase{policies: policies["invoke anything"]["bedrock"],
			boundary: `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:*","Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":["us-east-1","unspecified"]}}}}`,
			scp:      withoutUnspecified, set: sets["invoke"]},
			want: map[string]result.Status{"111111111111/us-west-2/" + us + "/App": result.BoundaryDenied}},
		{name: "a key the simulation lacks / region deny without unspecified", c: shortcutCase{policies: vpceOnly, scp: withoutUnspecified, set: sets["invoke"]},
			want: map[string]result.Status{"111111111111/us-west-2/" + us + "/App": result.IAMUndetermined}},
		{name: "the key configured / region deny without unspecified", c: shortcutCase{policies: vpceOnly, scp: withoutUnspecified,
			set: config.PrincipalSet{Roles: []string{"App"}, Context: []config.ContextEntry{{Name: "aws:SourceVpce", Type: "string", Values: []string{"vpce-0a1b2c3d4e5f60718"}}}}},
			want: map[string]result.Status{"111111111111/us-west-2/" + us + "/App": result.Enabled, "111111111111/us-east-1/" + global + "/App": result.SCPDenied}},
		{name: "a model without streaming, a role without stream / scp-deny-models-except-through-profiles.json", c: shortcutCase{policies: invokeOnly, scp: exceptThroughProfiles, set: streaming, noStream: true},
			want: map[string]result.Status{"111111111111/us-east-1/" + us + "/App": result.Enabled, "111111111111/us-west-2/" + us + "/App": result.Enabled}},
		{name: "Marketplace / region deny without unspecified", c: shortcutCase{policies: invokeAnything, scp: withoutUnspecified, set: sets["invoke"], marketplace: true},
			want: map[string]result.Status{"111111111111/us-east-1/" + us + "/App": result.MarketplaceDenied}},
	}
	for _, tc := range extra {
		saved += compareShortcuts(t, tc.name, tc.c, tc.want)
	}
	if saved == 0 {
		t.Error("the shortcuts saved no simulation in any case: the comparison shows nothing")
	}
}

// shortcutCase is one account's role and organization for
// compareShortcuts.
type shortcutCase struct {
	// policies: one identity policy, or a map of them by name.
	policies any
	boundary string
	scp      string
	set      config.PrincipalSet
	// noStream makes the model answer responseStreamingSupported=false;
	// marketplace leaves the account without an agreement for it.
	noStream, marketplace bool
}

// compareShortcuts audits the case with and without the shortcuts, wants
// the same results and, where given, the statuses want (by account, region,
// model and principal), and returns the calls the shortcuts saved.
func compareShortcuts(t *testing.T, name string, c shortcutCase, want map[string]result.Status) int64 {
	t.Helper()
	us, global := "us."+sonnet45, "global."+sonnet45
	policies, ok := c.policies.(map[string]string)
	if !ok {
		policies = map[string]string{"bedrock": c.policies.(string)}
	}
	audit := func(exhaustive bool) (map[string]string, int64) {
		a, sim := fixture(t, func(sc *awssim.Scenario) {
			sc.Catalog = append(sc.Catalog, awssim.CatalogModel{ID: sonnet45, Name: "Claude Sonnet 4.5", Provider: "Anthropic",
				Regions: []string{"us-east-1", "us-east-2", "us-west-2", "eu-central-1"}, InferenceTypes: []string{"INFERENCE_PROFILE"}, NoStreaming: c.noStream})
			sc.Profiles = []awssim.Profile{
				{ID: us, Model: sonnet45, Sources: []string{"us-east-1", "us-west-2"}, Destinations: []string{"us-east-1", "us-east-2", "us-west-2"}},
				{ID: global, Model: sonnet45, Sources: []string{"us-east-1", "us-west-2", "eu-central-1"}},
			}
			if c.scp != "" {
				sc.SCPs = []awssim.SCP{{Name: "published", Targets: []string{"111111111111"}, Document: c.scp}}
			}
			acct := sc.Account("111111111111")
			acct.Roles = []awssim.IAMRole{{Name: "App", Policies: policies, Boundary: c.boundary}}
			if c.marketplace {
				acct.Models = map[string]awssim.ModelState{sonnet45: {Agreement: "NOT_AVAILABLE"}}
			}
		}, func(cfg *config.Config) {
			cfg.Principals = config.Principals{ByAccount: map[string]config.PrincipalSet{"111111111111": c.set}}
			cfg.Models.ByAccount["111111111111"] = []string{us, global}
		})
		a.checker.exhaustive = exhaustive
		rep := a.Run(context.Background(), "shortcuts")
		return resultsByKey(t, rep), sim.Calls(awssim.OpSimulatePrincipalPolicy)
	}
	full, fullCalls := audit(true)
	short, shortCalls := audit(false)
	if shortCalls > fullCalls {
		t.Errorf("%s: got %d simulations with the shortcuts; want at most the %d without", name, shortCalls, fullCalls)
	}
	for _, k := range slices.Sorted(maps.Keys(full)) {
		if short[k] != full[k] {
			t.Errorf("%s: %s\ngot  %s\nwant %s (without shortcuts)", name, k, short[k], full[k])
		}
	}
	if len(short) != len(full) {
		t.Errorf("%s: got %d results with the shortcuts; want %d as without", name, len(short), len(full))
	}
	for k, w := range want {
		for run, results := range map[string]map[string]string{"with the shortcuts": short, "without": full} {
			var got struct{ Status result.Status }
			if err := json.Unmarshal([]byte(results[k]), &got); err != nil || got.Status != w {
				t.Errorf("%s: %s %s: got %s (%v); want %s", name, run, k, got.Status, err, w)
			}
		}
	}
	return fullCalls - shortCalls
}

// resultsByKey is a run's results as JSON by account, region, model and
// principal.
func resultsByKey(t *testing.T, rep *result.Report) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range rep.Results {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		k := r.Account + "/" + r.Region + "/" + r.Model + "/" + r.Principal
		if _, dup := out[k]; dup {
			t.Fatalf("two results for %s", k)
		}
		out[k] = string(b)
	}
	return out
}

// failingHops is the run's IAM client, but every simulation of the global
// hop (aws:RequestedRegion=unspecified) fails.
type failingHops struct{ IAMAPI }

func (f failingHops) SimulatePrincipalPolicy(ctx context.Context, in *iam.SimulatePrincipalPolicyInput, opts ...func(*iam.Options)) (*iam.SimulatePrincipalPolicyOutput, error) {
	for _, c := range in.ContextEntries {
		if aws.ToString(c.ContextKeyName) == keyRequestedRegion && slices.Contains(c.ContextKeyValues, unspecifiedRegion) {
			return nil, errors.New("the hop's simulation failed")
		}
	}
	return f.IAMAPI.SimulatePrincipalPolicy(ctx, in, opts...)
}

// TestSkippedCallThatWouldFail: the shortcuts keep verdicts only where no
// call fails. A hop the full simulation asks and that fails makes every
// check of that principal AUDIT_ERROR; with the shortcuts the hop of a
// profile the SCP already denies is not asked, so its checks keep the
// verdict the first round settled, which that hop could not have changed
// (docs/principals.md, "Fewer simulations").
func TestSkippedCallThatWouldFail(t *testing.T) {
	us, global := "us."+sonnet45, "global."+sonnet45
	key := "111111111111/us-east-1/" + global + "/App"
	for _, tc := range []struct {
		exhaustive bool
		want       result.Status
	}{{exhaustive: true, want: result.AuditError}, {exhaustive: false, want: result.SCPDenied}} {
		a, _ := fixture(t, func(sc *awssim.Scenario) {
			sc.Catalog = append(sc.Catalog, awssim.CatalogModel{ID: sonnet45, Name: "Claude Sonnet 4.5", Provider: "Anthropic",
				Regions: []string{"us-east-1", "us-east-2", "us-west-2"}, InferenceTypes: []string{"INFERENCE_PROFILE"}})
			sc.Profiles = []awssim.Profile{
				{ID: us, Model: sonnet45, Sources: []string{"us-east-1"}, Destinations: []string{"us-east-1", "us-east-2", "us-west-2"}},
				{ID: global, Model: sonnet45, Sources: []string{"us-east-1"}},
			}
			sc.SCPs = []awssim.SCP{{Name: "published", Targets: []string{"111111111111"}, Document: published(t, "scp-deny-bedrock-api-keys.json")}}
			sc.Account("111111111111").Roles = []awssim.IAMRole{{Name: "App", Policies: map[string]string{"bedrock": `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["bedrock:InvokeModel","bedrock:CallWithBearerToken"],"Resource":"*"}}`}}}
		}, func(c *config.Config) {
			c.Principals = config.Principals{ByAccount: map[string]config.PrincipalSet{"111111111111": {Roles: []string{"App"}, Auth: []string{"api_key"}}}}
			c.Models.ByAccount["111111111111"] = []string{us, global}
		})
		next := a.checker.newIAM
		a.checker.newIAM = func(creds aws.CredentialsProvider) IAMAPI { return failingHops{next(creds)} }
		a.checker.exhaustive = tc.exhaustive
		results := resultsByKey(t, a.Run(context.Background(), "failing hop"))
		var got struct{ Status result.Status }
		if err := json.Unmarshal([]byte(results[key]), &got); err != nil || got.Status != tc.want {
			t.Errorf("exhaustive %v: %s: got %s (%v); want %s", tc.exhaustive, key, got.Status, err, tc.want)
		}
	}
}
