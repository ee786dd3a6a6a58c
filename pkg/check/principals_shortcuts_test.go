package check

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/devtools/awssim"
	"github.com/grantwatch/grantwatch/pkg/result"
)

// TestSimulationShortcutsKeepVerdicts audits the same account with and
// without the principal simulations' shortcuts (Checker.exhaustive), over
// AWS's published identity policies and SCPs, and wants every result, the
// principals' and the accounts', to be the same, and the shortcuts to have
// saved calls somewhere (so the comparison is not empty).
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
				audit := func(exhaustive bool) (map[string]string, int64) {
					a, sim := fixture(t, func(sc *awssim.Scenario) {
						sc.Catalog = append(sc.Catalog, awssim.CatalogModel{ID: sonnet45, Name: "Claude Sonnet 4.5", Provider: "Anthropic",
							Regions: []string{"us-east-1", "us-east-2", "us-west-2", "eu-central-1"}, InferenceTypes: []string{"INFERENCE_PROFILE"}})
						sc.Profiles = []awssim.Profile{
							{ID: us, Model: sonnet45, Sources: []string{"us-east-1", "us-west-2"}, Destinations: []string{"us-east-1", "us-east-2", "us-west-2"}},
							{ID: global, Model: sonnet45, Sources: []string{"us-east-1", "us-west-2", "eu-central-1"}},
						}
						if scp != "" {
							sc.SCPs = []awssim.SCP{{Name: "published", Targets: []string{"111111111111"}, Document: scp}}
						}
						sc.Account("111111111111").Roles = []awssim.IAMRole{{Name: "App", Policies: policy}}
					}, func(c *config.Config) {
						c.Principals = config.Principals{ByAccount: map[string]config.PrincipalSet{"111111111111": set}}
						c.Models.ByAccount["111111111111"] = []string{us, global}
					})
					a.checker.exhaustive = exhaustive
					rep := a.Run(context.Background(), "shortcuts")
					return resultsByKey(t, rep), sim.Calls(awssim.OpSimulatePrincipalPolicy)
				}
				full, fullCalls := audit(true)
				short, shortCalls := audit(false)
				name := pname + " / " + sname + " / " + setName
				if shortCalls > fullCalls {
					t.Errorf("%s: got %d simulations with the shortcuts; want at most the %d without", name, shortCalls, fullCalls)
				}
				saved += fullCalls - shortCalls
				for _, k := range slices.Sorted(func(yield func(string) bool) {
					for k := range full {
						if !yield(k) {
							return
						}
					}
				}) {
					if short[k] != full[k] {
						t.Errorf("%s: %s\ngot  %s\nwant %s (without shortcuts)", name, k, short[k], full[k])
					}
				}
				for k, want := range wantStatus[name] {
					for run, results := range map[string]map[string]string{"with the shortcuts": short, "without": full} {
						var got struct{ Status result.Status }
						if err := json.Unmarshal([]byte(results[k]), &got); err != nil || got.Status != want {
							t.Errorf("%s: %s %s: got %s (%v); want %s", name, run, k, got.Status, err, want)
						}
					}
				}
				if len(short) != len(full) {
					t.Errorf("%s: got %d results with the shortcuts; want %d as without", name, len(short), len(full))
				}
			}
		}
	}
	if saved == 0 {
		t.Error("the shortcuts saved no simulation in any case: the comparison shows nothing")
	}
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
