package targets

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/grantwatch/grantwatch/pkg/config"
)

func testConfig() *config.Config {
	return &config.Config{
		Accounts: config.Accounts{Static: []string{"333333333333", "111111111111"}, Exclude: []string{"444444444444"}},
		Regions:  []string{"us-west-2", "us-east-1"},
		Models: config.Models{
			Required:  []string{"amazon.nova-pro-v1:0"},
			ByOU:      map[string][]string{"ou-ab12-prod0000": {"anthropic.claude", "amazon.nova-pro-v1:0"}, "ou-ab12-inner000": {"meta.llama"}},
			ByAccount: map[string][]string{"222222222222": {"cohere.command"}},
		},
	}
}

func TestRequiredModels(t *testing.T) {
	c := testConfig()
	tests := []struct {
		name    string
		account Account
		want    []string
	}{
		{"global only", Account{ID: "111111111111"}, []string{"amazon.nova-pro-v1:0"}},
		{"nested OUs add up", Account{ID: "555555555555", OUs: []string{"ou-ab12-prod0000", "ou-ab12-inner000"}}, []string{"amazon.nova-pro-v1:0", "anthropic.claude", "meta.llama"}},
		{"account's own", Account{ID: "222222222222"}, []string{"amazon.nova-pro-v1:0", "cohere.command"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RequiredModels(c, tt.account); !slices.Equal(got, tt.want) {
				t.Errorf("got %v; want %v", got, tt.want)
			}
		})
	}
}

func TestAccountsMergesAndExcludes(t *testing.T) {
	c := testConfig()
	discovered := []Account{
		{ID: "111111111111", OUs: []string{"ou-ab12-prod0000"}},
		{ID: "222222222222"},
		{ID: "444444444444"},
	}
	got := Accounts(c, discovered)
	var ids []string
	for _, a := range got {
		ids = append(ids, a.ID)
	}
	if want := []string{"111111111111", "222222222222", "333333333333"}; !slices.Equal(ids, want) {
		t.Fatalf("accounts: got %v; want %v", ids, want)
	}
	if !slices.Equal(got[0].OUs, []string{"ou-ab12-prod0000"}) {
		t.Errorf("static account found by discovery: got OUs %v; want the discovered path", got[0].OUs)
	}
}

func TestUnits(t *testing.T) {
	c := testConfig()
	units := Units(c, []Account{{ID: "111111111111"}, {ID: "222222222222"}})
	var got []string
	for _, u := range units {
		got = append(got, u.Account+"/"+u.Region)
	}
	want := []string{"111111111111/us-east-1", "111111111111/us-west-2", "222222222222/us-east-1", "222222222222/us-west-2"}
	if !slices.Equal(got, want) {
		t.Errorf("units: got %v; want %v", got, want)
	}
	if got, want := Checks(units), 2*1+2*2; got != want {
		t.Errorf("checks: got %d; want %d", got, want)
	}
}

func TestUnitsCheckAProfileARNOnlyWhereItExists(t *testing.T) {
	c := testConfig()
	app := "arn:aws:bedrock:us-west-2:222222222222:application-inference-profile/a1b2c3d4e5f6"
	c.Models.Required = append(c.Models.Required, app)
	var got []string
	for _, u := range Units(c, []Account{{ID: "111111111111"}, {ID: "222222222222"}}) {
		got = append(got, u.Account+"/"+u.Region+"="+strings.Join(u.Models, ","))
	}
	want := []string{
		"111111111111/us-east-1=amazon.nova-pro-v1:0",
		"111111111111/us-west-2=amazon.nova-pro-v1:0",
		"222222222222/us-east-1=amazon.nova-pro-v1:0,cohere.command",
		"222222222222/us-west-2=amazon.nova-pro-v1:0," + app + ",cohere.command",
	}
	if !slices.Equal(got, want) {
		t.Errorf("units:\ngot  %v\nwant %v", got, want)
	}
}

// A batch of a sharded run plans exactly its accounts, in the order the run
// gave them, with the models their OUs require; the plan lists them back.
func TestPlanAccountsKeepsTheBatchOrder(t *testing.T) {
	c := testConfig()
	batch := []Account{{ID: "555555555555", OUs: []string{"ou-ab12-prod0000"}}, {ID: "111111111111"}}
	plan := New(c, aws.Config{}).PlanAccounts("run-1", batch)
	if got := plan.Accounts(); !reflect.DeepEqual(got, batch) {
		t.Errorf("accounts: got %+v; want %+v", got, batch)
	}
	if got, want := plan.Summary.Planned, 2*2+2*1; got != want || plan.Summary.Accounts != 2 || plan.Summary.RunID != "run-1" {
		t.Errorf("summary: got %d checks of %d accounts, run %q; want %d of 2, run-1", got, plan.Summary.Accounts, plan.Summary.RunID, want)
	}
}
