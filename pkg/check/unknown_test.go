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

// TestRunProfileTypoIsUnknownEverywhere: a profile id Bedrock lists in no
// audited region is UNKNOWN_MODEL in every region, whatever its geography;
// a model not offered in a region gets advice from that region's own
// profile listing (issue 18 item 3).
func TestRunProfileTypoIsUnknownEverywhere(t *testing.T) {
	typos := []string{"us.anthropic.claude-sonnet-4-5-20250929-v9:0", "eu.anthropic.claude-sonnet-4-5-20250929-v9:0"}
	a, _ := fixture(t, nil, func(c *config.Config) {
		c.Models.ByAccount["111111111111"] = typos
	})
	rep := a.Run(context.Background(), "typo")
	for _, typo := range typos {
		for _, region := range []string{"us-east-1", "us-west-2", "eu-central-1"} {
			checkVerdict(t, resultOf(t, rep, "111111111111", region, typo), result.UnknownModel, "no system inference profile", "typos")
		}
	}
	checkVerdict(t, resultOf(t, rep, "111111111111", "eu-central-1", claude37), result.NotInRegion,
		"regionAvailability=NOT_AVAILABLE", "Bedrock lists no inference profile for it there")
}

// TestRunRequiredModelOfAnUnauditedAccount: an application inference
// profile required for an account discovery does not return (here a
// suspended one) is checked nowhere, and the run says so instead of
// dropping it silently (issue 18 item 4).
func TestRunRequiredModelOfAnUnauditedAccount(t *testing.T) {
	const app = "arn:aws:bedrock:us-east-1:555555555555:application-inference-profile/a1b2c3d4e5f6"
	a, _ := fixture(t, nil, func(c *config.Config) {
		c.Models.ByAccount["555555555555"] = []string{app}
	})
	rep := a.Run(context.Background(), "unaudited")
	want := "models.by_account[555555555555]: account 555555555555 is not among the 4 audited accounts, so its required models are not checked: " + app
	if !slices.Contains(rep.Summary.Warnings, want) {
		t.Errorf("warnings: got %q; want %q", rep.Summary.Warnings, want)
	}
}

// TestRunThrottledAssumeRoleIsNotAMissingStack: STS throttling every
// AssumeRole (code Throttling) is load, not a member role to deploy
// (issue 20 item 8; ledger: PROTO-throttling-codes, STS-assume-role-denied).
func TestRunThrottledAssumeRoleIsNotAMissingStack(t *testing.T) {
	a, _ := fixture(t, func(sc *awssim.Scenario) {
		sc.Throttling = []awssim.Rule{{Operation: awssim.OpAssumeRole, Rate: 1}}
	}, nil)
	rep := a.Run(context.Background(), "sts-throttled")
	if len(rep.Results) == 0 {
		t.Fatal("no results")
	}
	for _, r := range rep.Results {
		if r.Status != result.AuditError || !strings.Contains(r.Cause, "assume-role: Throttling") {
			t.Fatalf("%s/%s/%s: got %s %q; want an AUDIT_ERROR of a throttled AssumeRole", r.Account, r.Region, r.Model, r.Status, r.Cause)
		}
		if strings.Contains(r.Remediation, "member-role stack") || !strings.Contains(r.Remediation, "STS throttled the audit") {
			t.Fatalf("%s/%s/%s: remediation %q; want throttling advice, not the member-role stack", r.Account, r.Region, r.Model, r.Remediation)
		}
	}
}
