package org_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/organizations"

	"github.com/grantwatch/grantwatch/pkg/awssim"
	"github.com/grantwatch/grantwatch/pkg/localenv"
	"github.com/grantwatch/grantwatch/pkg/org"
)

func TestDiscover(t *testing.T) {
	sim := localenv.DemoSimulator(t, nil) // pages of 2, each after an empty page
	cfg, err := sim.ClientConfig(context.Background(), "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	client := organizations.NewFromConfig(cfg)

	tests := []struct {
		name     string
		filter   org.Filter
		want     []string // id:ous
		wantTags bool
	}{
		{"everything active, with OU paths", org.Filter{}, []string{
			"111111111111:ou-demo-prod0001", "222222222222:ou-demo-prod0001/ou-demo-paym0001",
			"333333333333:ou-demo-sand0001", "444444444444:ou-demo-sand0001",
		}, false},
		{"nested OU filter", org.Filter{OUs: []string{"ou-demo-paym0001"}}, []string{"222222222222:ou-demo-prod0001/ou-demo-paym0001"}, false},
		{"tags", org.Filter{Tags: map[string]string{"env": "prod", "team": "payments"}}, []string{"222222222222:ou-demo-prod0001/ou-demo-paym0001"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := sim.Calls(awssim.OpListTagsForResource)
			accounts, err := org.Discover(context.Background(), client, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range accounts {
				got = append(got, a.ID+":"+strings.Join(a.OUs, "/"))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v; want %v", got, tt.want)
			}
			if tagCalls := sim.Calls(awssim.OpListTagsForResource) - before; (tagCalls > 0) != tt.wantTags {
				t.Errorf("ListTagsForResource calls: got %d; want them only when filtering by tag", tagCalls)
			}
		})
	}
}

func TestDiscoverNamesWhatFailed(t *testing.T) {
	sim := localenv.DemoSimulator(t, func(sc *awssim.Scenario) {
		sc.Faults = []awssim.Rule{{Operation: awssim.OpListChildren, Rate: 1, Status: 500}}
	})
	cfg, err := sim.ClientConfig(context.Background(), "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	cfg.RetryMaxAttempts = 1
	_, err = org.Discover(context.Background(), organizations.NewFromConfig(cfg), org.Filter{})
	if err == nil || !strings.Contains(err.Error(), "list child OUs of r-demo") {
		t.Errorf("got %v; want an error naming the parent whose children failed", err)
	}
}
