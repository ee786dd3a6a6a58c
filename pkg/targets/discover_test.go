package targets_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/devtools/awssim"
	"github.com/grantwatch/grantwatch/pkg/devtools/testenv"
	"github.com/grantwatch/grantwatch/pkg/targets"
)

func TestDiscover(t *testing.T) {
	sim := testenv.Simulator(t, "testdata/org.yaml", nil) // pages of 2, each after an empty page
	cfg, err := sim.ClientConfig(context.Background(), "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	client := organizations.NewFromConfig(cfg)

	tests := []struct {
		name     string
		filter   targets.Filter
		want     []string // id:ous
		wantTags bool
	}{
		{"everything active, with OU paths", targets.Filter{}, []string{
			"111111111111:ou-tgt0-prod0001", "222222222222:ou-tgt0-prod0001/ou-tgt0-paym0001",
			"333333333333:ou-tgt0-sand0001", "444444444444:ou-tgt0-sand0001",
		}, false},
		{"nested OU filter", targets.Filter{OUs: []string{"ou-tgt0-paym0001"}}, []string{"222222222222:ou-tgt0-prod0001/ou-tgt0-paym0001"}, false},
		{"tags", targets.Filter{Tags: map[string]string{"env": "prod", "team": "payments"}}, []string{"222222222222:ou-tgt0-prod0001/ou-tgt0-paym0001"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := sim.Calls(awssim.OpListTagsForResource)
			accounts, err := targets.Discover(context.Background(), client, tt.filter)
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
	sim := testenv.Simulator(t, "testdata/org.yaml", func(sc *awssim.Scenario) {
		sc.Faults = []awssim.Rule{{Operation: awssim.OpListChildren, Rate: 1, Status: 500}}
	})
	cfg, err := sim.ClientConfig(context.Background(), "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	cfg.RetryMaxAttempts = 1
	_, err = targets.Discover(context.Background(), organizations.NewFromConfig(cfg), targets.Filter{})
	if err == nil || !strings.Contains(err.Error(), "list child OUs of r-tgt0") {
		t.Errorf("got %v; want an error naming the parent whose children failed", err)
	}
}

// fakeOrg is a root with four OUs, as many as discovery lists at once.
// Listing the accounts of ou-fail fails at once; the other OUs' listings wait
// for their context to end (at most 10 s), so only a walk that cancels its
// siblings on the first error counts them cancelled.
//
// It embeds the interface (nil), so a method added to OrganizationsAPI needs
// no change here, and a call it does not expect panics.
type fakeOrg struct {
	targets.OrganizationsAPI
	cancelled atomic.Int64
	tagsNow   atomic.Int64
	tagsMax   atomic.Int64
}

func (f *fakeOrg) ListRoots(context.Context, *organizations.ListRootsInput, ...func(*organizations.Options)) (*organizations.ListRootsOutput, error) {
	return &organizations.ListRootsOutput{Roots: []types.Root{{Id: aws.String("r-fake")}}}, nil
}

func (f *fakeOrg) ListChildren(_ context.Context, in *organizations.ListChildrenInput, _ ...func(*organizations.Options)) (*organizations.ListChildrenOutput, error) {
	out := &organizations.ListChildrenOutput{}
	if aws.ToString(in.ParentId) == "r-fake" {
		for _, id := range []string{"ou-a", "ou-b", "ou-fail", "ou-c"} {
			out.Children = append(out.Children, types.Child{Id: aws.String(id), Type: types.ChildTypeOrganizationalUnit})
		}
	}
	return out, nil
}

func (f *fakeOrg) ListAccountsForParent(ctx context.Context, in *organizations.ListAccountsForParentInput, _ ...func(*organizations.Options)) (*organizations.ListAccountsForParentOutput, error) {
	switch aws.ToString(in.ParentId) {
	case "r-fake":
		var accounts []types.Account
		for i := range 12 {
			accounts = append(accounts, types.Account{Id: aws.String(fmt.Sprintf("%012d", i+1)), State: types.AccountStateActive})
		}
		return &organizations.ListAccountsForParentOutput{Accounts: accounts}, nil
	case "ou-fail":
		return nil, errors.New("simulated: AccessDeniedException")
	}
	select {
	case <-ctx.Done():
		f.cancelled.Add(1)
		return nil, ctx.Err()
	case <-time.After(10 * time.Second):
		return &organizations.ListAccountsForParentOutput{}, nil
	}
}

func (f *fakeOrg) ListTagsForResource(_ context.Context, in *organizations.ListTagsForResourceInput, _ ...func(*organizations.Options)) (*organizations.ListTagsForResourceOutput, error) {
	n := f.tagsNow.Add(1)
	defer f.tagsNow.Add(-1)
	for m := f.tagsMax.Load(); n > m && !f.tagsMax.CompareAndSwap(m, n); m = f.tagsMax.Load() {
	}
	time.Sleep(20 * time.Millisecond)
	return &organizations.ListTagsForResourceOutput{Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}}, nil
}

func TestDiscoverStopsAtTheFirstError(t *testing.T) {
	f := &fakeOrg{}
	_, err := targets.Discover(context.Background(), f, targets.Filter{})
	if err == nil || !strings.Contains(err.Error(), "list accounts for parent ou-fail") {
		t.Fatalf("got %v; want the error of ou-fail", err)
	}
	if strings.Contains(err.Error(), "context canceled") {
		t.Errorf("error: got %q; want only the first error, not the cancelled siblings'", err)
	}
	if f.cancelled.Load() == 0 {
		t.Error("no sibling listing was cancelled; want the siblings in flight cancelled")
	}
}

func TestDiscoverReadsTagsWithASmallPool(t *testing.T) {
	f := &fakeOrg{}
	root := &rootOnly{f}
	accounts, err := targets.Discover(context.Background(), root, targets.Filter{Tags: map[string]string{"env": "prod"}})
	if err != nil || len(accounts) != 12 {
		t.Fatalf("got %d accounts, %v; want the 12 of the root", len(accounts), err)
	}
	if got := f.tagsMax.Load(); got < 2 || got > 4 {
		t.Errorf("ListTagsForResource calls in flight at most: got %d; want 2 to 4", got)
	}
}

// rootOnly is fakeOrg without OUs.
type rootOnly struct{ *fakeOrg }

func (rootOnly) ListChildren(context.Context, *organizations.ListChildrenInput, ...func(*organizations.Options)) (*organizations.ListChildrenOutput, error) {
	return &organizations.ListChildrenOutput{}, nil
}

// hostRecorder is an HTTP client that records the host of each request
// and answers none: enough to see where a client would send its calls.
type hostRecorder struct{ hosts []string }

func (h *hostRecorder) Do(r *http.Request) (*http.Response, error) {
	h.hosts = append(h.hosts, r.URL.Host)
	return nil, errors.New("recorded, not sent")
}

// The planner needs no region in the auditor's AWS configuration: it calls
// Organizations in the partition of the audited regions.
func TestPlannerWithoutARegion(t *testing.T) {
	tests := []struct {
		region, wantHost string
	}{
		{"us-east-1", "organizations.us-east-1.amazonaws.com"},
		{"cn-north-1", "organizations.cn-northwest-1.amazonaws.com.cn"},
	}
	for _, tt := range tests {
		t.Run(tt.region, func(t *testing.T) {
			cfg, err := config.Parse([]byte("accounts: {organizations: {enabled: true}}\nregions: [" + tt.region + "]\nmodels: {required: [m]}\n"))
			if err != nil {
				t.Fatal(err)
			}
			rec := &hostRecorder{}
			awsCfg := aws.Config{Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""), HTTPClient: rec}
			targets.New(cfg, awsCfg).Plan(context.Background(), "no-region")
			if len(rec.hosts) == 0 || rec.hosts[0] != tt.wantHost {
				t.Errorf("Organizations calls went to %v; want %s", rec.hosts, tt.wantHost)
			}
		})
	}
}
