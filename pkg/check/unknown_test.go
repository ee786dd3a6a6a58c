package check

import (
	"context"
	"testing"

	"github.com/grantwatch/grantwatch/pkg/config"
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
