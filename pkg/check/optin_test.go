package check

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/devtools/awssim"
	"github.com/grantwatch/grantwatch/pkg/result"
)

// withOptInRegion offers Claude 3.5 in eu-south-2, an opt-in region, where
// only 222222222222 submitted the Anthropic form, and audits it too.
func withOptInRegion(edit func(*awssim.Scenario)) (func(*awssim.Scenario), func(*config.Config)) {
	return func(sc *awssim.Scenario) {
			sc.Catalog[0].Regions = append(sc.Catalog[0].Regions, "eu-south-2")
			sc.OptInUseCaseForms = map[string][]string{"eu-south-2": {"222222222222"}}
			if edit != nil {
				edit(sc)
			}
		}, func(c *config.Config) {
			c.Regions = append(c.Regions, "eu-south-2")
		}
}

func resultOf(t *testing.T, rep *result.Report, account, region, model string) result.Result {
	t.Helper()
	for _, r := range rep.Results {
		if r.Account == account && r.Region == region && r.Model == model && r.Principal == "" {
			return r
		}
	}
	t.Fatalf("no result for %s/%s/%s", account, region, model)
	return result.Result{}
}

// TestRunFormPerOptInRegion: the form on file for the commercial regions
// does not cover an opt-in region, and a form in an opt-in region does not
// cover the others (issue 18 item 1; ledger: BR-form-opt-in-regions).
func TestRunFormPerOptInRegion(t *testing.T) {
	editSc, editCfg := withOptInRegion(nil)
	a, sim := fixture(t, editSc, editCfg)
	rep := a.Run(context.Background(), "opt-in")

	tests := []struct {
		name, account, region      string
		status                     result.Status
		cause, remedy, notInRemedy string
	}{
		{"commercial form covers us-east-1", "111111111111", "us-east-1", result.Enabled, "use-case form: found", "", ""},
		{"commercial form does not cover the opt-in region", "111111111111", "eu-south-2", result.NotAuthorized,
			"use-case form of opt-in region eu-south-2: missing", "submit the Anthropic use-case details again in eu-south-2", "this is not the form"},
		{"opt-in form covers its region", "222222222222", "eu-south-2", result.Enabled, "use-case form of opt-in region eu-south-2: found", "", ""},
		{"no form anywhere, commercial advice", "333333333333", "us-east-1", result.NotAuthorized, "use-case form: missing", "management account", "opt-in"},
		{"no form anywhere, opt-in advice", "333333333333", "eu-south-2", result.NotAuthorized, "opt-in region eu-south-2: missing", "again in eu-south-2", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := resultOf(t, rep, tt.account, tt.region, claude35)
			checkVerdict(t, got, tt.status, tt.cause, tt.remedy)
			if tt.notInRemedy != "" && strings.Contains(got.Remediation, tt.notInRemedy) {
				t.Errorf("remediation: got %q; want no %q", got.Remediation, tt.notInRemedy)
			}
		})
	}
	// 111 and 333 read the commercial form and eu-south-2's; 222 too (its
	// eu-central-1 is denied before any form is needed); 444 is not reached.
	if got, want := sim.Calls(awssim.OpGetUseCaseForModelAccess), int64(6); got != want {
		t.Errorf("GetUseCaseForModelAccess calls: got %d; want %d (once per account for commercial regions, once per opt-in region)", got, want)
	}
	// Every page of ListRegions once per reachable account: the aws
	// partition's regions, 2 a page (testdata/org.yaml).
	regions := 0
	for _, r := range config.KnownRegions() {
		if config.Partition(r) == "aws" {
			regions++
		}
	}
	if got, want := sim.Calls(awssim.OpListRegions), int64(3*((regions+1)/2)); got != want {
		t.Errorf("ListRegions calls: got %d; want every page once per reachable account, %d", got, want)
	}
	if len(rep.Summary.Errors)+len(rep.Summary.Warnings) != 0 {
		t.Errorf("summary: got errors %v, warnings %v; want none", rep.Summary.Errors, rep.Summary.Warnings)
	}
}

// TestRunFormWhenOptInStatusIsUnknown: a member role without
// account:ListRegions (a stack older than the permission) or a throttled
// ListRegions costs one form read per region, not a wrong verdict, and the
// warning's advice fits the error.
func TestRunFormWhenOptInStatusIsUnknown(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(*awssim.Scenario)
		wantHint string
		notHint  string
	}{
		{"permission missing", func(sc *awssim.Scenario) {
			sc.Account("111111111111").MissingPermissions = []string{"account:ListRegions"}
		}, "the member role needs account:ListRegions", "throttled"},
		{"throttled", func(sc *awssim.Scenario) {
			sc.Throttling = []awssim.Rule{{Operation: awssim.OpListRegions, Account: "111111111111", Rate: 1}}
		}, "throttled after every retry", "needs account:ListRegions"},
		// A region-deny SCP without an exemption for account:* denies the
		// global Account API (called in us-east-1): the member stack is fine.
		{"denied by an SCP", func(sc *awssim.Scenario) {
			sc.Account("111111111111").SCPDeniedActions = []string{"account:ListRegions"}
		}, "a service control policy denies it", "update the member-role StackSet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			editSc, editCfg := withOptInRegion(tt.edit)
			a, _ := fixture(t, editSc, editCfg)
			rep := a.Run(context.Background(), "opt-in-unknown")
			checkVerdict(t, resultOf(t, rep, "111111111111", "us-west-2", claude35), result.Enabled, "use-case form read in us-west-2 (its opt-in status not known): found", "")
			checkVerdict(t, resultOf(t, rep, "111111111111", "eu-south-2", claude35), result.NotAuthorized, "use-case form read in eu-south-2 (its opt-in status not known): missing", "If eu-south-2 is an opt-in region")
			checkVerdict(t, resultOf(t, rep, "111111111111", "eu-south-2", claude35), result.NotAuthorized, "", "again in eu-south-2")
			i := slices.IndexFunc(rep.Summary.Warnings, func(w string) bool { return strings.Contains(w, "account 111111111111: region opt-in status not read") })
			if i < 0 {
				t.Fatalf("warnings: got %v; want one for 111111111111's region opt-in status", rep.Summary.Warnings)
			}
			if w := rep.Summary.Warnings[i]; !strings.Contains(w, tt.wantHint) || strings.Contains(w, tt.notHint) {
				t.Errorf("warning: got %q; want %q and no %q", w, tt.wantHint, tt.notHint)
			}
		})
	}
}

// TestRunFormErrorHintFitsTheError: a throttled GetUseCaseForModelAccess
// is throttling, not a missing permission (issue 18 item 5).
func TestRunFormErrorHintFitsTheError(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(*awssim.Scenario)
		wantHint string
		notHint  string
	}{
		{"throttled", func(sc *awssim.Scenario) {
			sc.Throttling = []awssim.Rule{{Operation: awssim.OpGetUseCaseForModelAccess, Account: "111111111111", Rate: 1}}
		}, "throttled after every retry", "needs bedrock:GetUseCaseForModelAccess"},
		{"server error", func(sc *awssim.Scenario) {
			sc.Faults = []awssim.Rule{{Operation: awssim.OpGetUseCaseForModelAccess, Account: "111111111111", Rate: 1, Status: 500}}
		}, "InternalServerException", "needs bedrock:GetUseCaseForModelAccess"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := fixture(t, tt.edit, nil)
			rep := a.Run(context.Background(), "form-hint")
			i := slices.IndexFunc(rep.Summary.Errors, func(e string) bool { return strings.Contains(e, "account 111111111111: use-case form") })
			if i < 0 {
				t.Fatalf("errors: got %v; want one for 111111111111's use-case form", rep.Summary.Errors)
			}
			if e := rep.Summary.Errors[i]; !strings.Contains(e, tt.wantHint) || strings.Contains(e, tt.notHint) {
				t.Errorf("error: got %q; want %q and no %q", e, tt.wantHint, tt.notHint)
			}
		})
	}
}

// TestRunRegionNotEnabled: an audited opt-in region that the account has
// not enabled fails every call there with an unknown-token error; the
// result says the region is not enabled in the account and how to enable
// it, not a generic "the call failed" (ledger: ACC-region-not-enabled).
func TestRunRegionNotEnabled(t *testing.T) {
	editSc, editCfg := withOptInRegion(func(sc *awssim.Scenario) {
		sc.Account("111111111111").DisabledRegions = []string{"eu-south-2"}
	})
	a, _ := fixture(t, editSc, editCfg)
	rep := a.Run(context.Background(), "region-not-enabled")
	got := resultOf(t, rep, "111111111111", "eu-south-2", claude35)
	checkVerdict(t, got, result.AuditError, "eu-south-2 is an opt-in region that account 111111111111 has not enabled (RegionOptStatus DISABLED)", "Enable eu-south-2")
	if strings.Contains(got.Remediation, "The call failed") {
		t.Errorf("remediation: got %q; want advice on the region, not the generic one", got.Remediation)
	}
	// The account's enabled regions and another account's eu-south-2 are checked as before.
	checkVerdict(t, resultOf(t, rep, "111111111111", "us-east-1", claude35), result.Enabled, "", "")
	checkVerdict(t, resultOf(t, rep, "222222222222", "eu-south-2", claude35), result.Enabled, "", "")
}
