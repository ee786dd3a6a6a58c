package awssim

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/account"
	accounttypes "github.com/aws/aws-sdk-go-v2/service/account/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrock/types"
)

// TestListRegionsOptInStatus reads every page of ListRegions with the real
// Account Management client, as the checker does (ledger: ACC-list-regions).
func TestListRegionsOptInStatus(t *testing.T) {
	s := startSim(t, profileScenario, func(sc *Scenario) {
		sc.Accounts[1].MissingPermissions = []string{"account:ListRegions"}
	})
	api := account.NewFromConfig(memberConfig(t, s, "111111111111", "ext-123"))
	got := map[string]accounttypes.RegionOptStatus{}
	pages := account.NewListRegionsPaginator(api, &account.ListRegionsInput{MaxResults: aws.Int32(50)})
	n := 0
	for pages.HasMorePages() {
		out, err := pages.NextPage(context.Background())
		if err != nil {
			t.Fatalf("ListRegions: %v", err)
		}
		n++
		for _, r := range out.Regions {
			got[aws.ToString(r.RegionName)] = r.RegionOptStatus
		}
	}
	for region, want := range map[string]accounttypes.RegionOptStatus{
		"us-east-1": accounttypes.RegionOptStatusEnabledByDefault, "eu-central-1": accounttypes.RegionOptStatusEnabledByDefault,
		"eu-south-2": accounttypes.RegionOptStatusEnabled, "ap-southeast-5": accounttypes.RegionOptStatusEnabled,
	} {
		if got[region] != want {
			t.Errorf("%s: got %q; want %q", region, got[region], want)
		}
	}
	if _, ok := got["cn-north-1"]; ok {
		t.Error("cn-north-1 listed: another partition's regions are not the account's")
	}
	if n < 2 {
		t.Errorf("pages: got %d; want the scenario's page size (1) to split the list", n)
	}

	_, err := api.ListRegions(context.Background(), &account.ListRegionsInput{AccountId: aws.String("222222222222")})
	if got := errorCode(err); got != "AccessDeniedException" {
		t.Errorf("ListRegions for another account: got %q (%v); want AccessDeniedException", got, err)
	}
	_, err = account.NewFromConfig(memberConfig(t, s, "222222222222", "ext-123")).ListRegions(context.Background(), &account.ListRegionsInput{})
	if got := errorCode(err); got != "AccessDeniedException" {
		t.Errorf("ListRegions without account:ListRegions: got %q (%v); want AccessDeniedException", got, err)
	}
	one, err := api.GetRegionOptStatus(context.Background(), &account.GetRegionOptStatusInput{RegionName: aws.String("eu-south-2")})
	if err != nil || one.RegionOptStatus != accounttypes.RegionOptStatusEnabled {
		t.Errorf("GetRegionOptStatus(eu-south-2): got %+v, %v; want ENABLED", one, err)
	}
}

// TestUseCaseFormPerOptInRegion: the commercial form does not cover an
// opt-in region, which has its own (ledger: BR-form-opt-in-regions).
func TestUseCaseFormPerOptInRegion(t *testing.T) {
	const claude = "anthropic.claude-sonnet-4-5-20250929-v1:0"
	s := startSim(t, profileScenario, func(sc *Scenario) {
		sc.Catalog[0].Regions = append(sc.Catalog[0].Regions, "eu-south-2", "ap-southeast-5")
		sc.UseCaseForms = []string{"111111111111"}
		sc.OptInUseCaseForms = map[string][]string{"ap-southeast-5": {"222222222222"}}
	})
	tests := []struct {
		account, region string
		wantForm        bool
	}{
		{"111111111111", "us-east-1", true},
		{"111111111111", "eu-south-2", false},
		{"111111111111", "ap-southeast-5", false},
		{"222222222222", "us-east-1", false},
		{"222222222222", "ap-southeast-5", true},
	}
	for _, tt := range tests {
		api := bedrockFor(t, s, tt.account, tt.region)
		_, err := api.GetUseCaseForModelAccess(context.Background(), &bedrock.GetUseCaseForModelAccessInput{})
		if gotForm := err == nil; gotForm != tt.wantForm {
			t.Errorf("%s in %s: form found %v (%v); want %v", tt.account, tt.region, gotForm, err, tt.wantForm)
		}
		a, err := api.GetFoundationModelAvailability(context.Background(), &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String(claude)})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]types.AuthorizationStatus{true: "AUTHORIZED", false: "NOT_AUTHORIZED"}[tt.wantForm]; a.AuthorizationStatus != want {
			t.Errorf("%s in %s: authorizationStatus %s; want %s", tt.account, tt.region, a.AuthorizationStatus, want)
		}
	}
}

// TestListRegionsThrottled: the Account API throttles with its own code,
// TooManyRequestsException (ledger: ACC-throttling).
func TestListRegionsThrottled(t *testing.T) {
	s := startSim(t, profileScenario, func(sc *Scenario) { sc.Throttling = []Rule{{Operation: OpListRegions, Rate: 1}} })
	cfg := memberConfig(t, s, "111111111111", "ext-123")
	_, err := account.NewFromConfig(cfg, func(o *account.Options) { o.RetryMaxAttempts = 1 }).ListRegions(context.Background(), &account.ListRegionsInput{})
	if got := errorCode(err); got != "TooManyRequestsException" {
		t.Errorf("got %q (%v); want TooManyRequestsException", got, err)
	}
}

// TestRegionNotEnabled: an opt-in region the account has not enabled reads
// DISABLED in ListRegions, and Bedrock there refuses the account's
// credentials as an unknown token; another account that enabled the region
// is served (ledger: ACC-region-not-enabled).
func TestRegionNotEnabled(t *testing.T) {
	s := startSim(t, profileScenario, func(sc *Scenario) {
		sc.Catalog[0].Regions = append(sc.Catalog[0].Regions, "eu-south-2")
		sc.Accounts[0].DisabledRegions = []string{"eu-south-2"}
	})
	one, err := account.NewFromConfig(memberConfig(t, s, "111111111111", "ext-123")).GetRegionOptStatus(context.Background(), &account.GetRegionOptStatusInput{RegionName: aws.String("eu-south-2")})
	if err != nil || one.RegionOptStatus != accounttypes.RegionOptStatusDisabled {
		t.Errorf("GetRegionOptStatus(eu-south-2): got %+v, %v; want DISABLED", one, err)
	}
	_, err = bedrockFor(t, s, "111111111111", "eu-south-2").ListFoundationModels(context.Background(), &bedrock.ListFoundationModelsInput{})
	if got := errorCode(err); got != "UnrecognizedClientException" {
		t.Errorf("ListFoundationModels in a region not enabled: got %q (%v); want UnrecognizedClientException", got, err)
	}
	if _, err := bedrockFor(t, s, "222222222222", "eu-south-2").ListFoundationModels(context.Background(), &bedrock.ListFoundationModelsInput{}); err != nil {
		t.Errorf("ListFoundationModels where the account enabled the region: %v", err)
	}
	if _, err := bedrockFor(t, s, "111111111111", "us-east-1").ListFoundationModels(context.Background(), &bedrock.ListFoundationModelsInput{}); err != nil {
		t.Errorf("ListFoundationModels in a default region: %v", err)
	}
}

// TestDisabledRegionMustBeOptIn: a default region cannot be disabled.
func TestDisabledRegionMustBeOptIn(t *testing.T) {
	sc, err := ParseScenario([]byte(profileScenario))
	if err != nil {
		t.Fatal(err)
	}
	sc.Accounts[0].DisabledRegions = []string{"us-east-1"}
	if _, err := New(sc); err == nil || !strings.Contains(err.Error(), "disabled_regions[0]") {
		t.Errorf("got %v; want an error naming disabled_regions[0]", err)
	}
}

// TestListRegionsDeniedBySCP: an SCP's deny names the service control
// policy in the AccessDeniedException message, as AWS's denials do.
func TestListRegionsDeniedBySCP(t *testing.T) {
	s := startSim(t, profileScenario, func(sc *Scenario) {
		sc.Accounts[0].SCPDeniedActions = []string{"account:ListRegions"}
	})
	_, err := account.NewFromConfig(memberConfig(t, s, "111111111111", "ext-123")).ListRegions(context.Background(), &account.ListRegionsInput{})
	if got := errorCode(err); got != "AccessDeniedException" || !strings.Contains(err.Error(), "with an explicit deny in a service control policy") {
		t.Errorf("got %q (%v); want AccessDeniedException naming the service control policy", got, err)
	}
}
