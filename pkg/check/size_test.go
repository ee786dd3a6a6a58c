package check

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrock/types"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/result"
	"github.com/grantwatch/grantwatch/pkg/targets"
)

// manyModels offers n models and notes the most goroutines alive during an
// availability call.
type manyModels struct {
	fakeBedrock
	n    int
	mu   *sync.Mutex
	peak *int
}

func (f manyModels) ListFoundationModels(context.Context, *bedrock.ListFoundationModelsInput, ...func(*bedrock.Options)) (*bedrock.ListFoundationModelsOutput, error) {
	var out bedrock.ListFoundationModelsOutput
	for i := range f.n {
		out.ModelSummaries = append(out.ModelSummaries, types.FoundationModelSummary{ModelId: aws.String(fmt.Sprintf("model-%d", i))})
	}
	return &out, nil
}

func (f manyModels) GetFoundationModelAvailability(_ context.Context, in *bedrock.GetFoundationModelAvailabilityInput, _ ...func(*bedrock.Options)) (*bedrock.GetFoundationModelAvailabilityOutput, error) {
	f.mu.Lock()
	*f.peak = max(*f.peak, runtime.NumGoroutine())
	f.mu.Unlock()
	time.Sleep(100 * time.Microsecond)
	return usableAvailability(in.ModelId), nil
}

// The goroutines of a run are bounded by its limits, not by its models: 400
// models in two account-regions start a handful, not 800.
func TestRunGoroutinesAreBoundedByTheLimits(t *testing.T) {
	const n = 400
	models := make([]string, n)
	for i := range models {
		models[i] = fmt.Sprintf("model-%d", i)
	}
	cfg := &config.Config{
		Accounts: config.Accounts{Static: []string{"111111111111"}},
		Regions:  []string{"us-east-1", "us-west-2"},
		Models:   config.Models{Required: models},
		Limits:   config.Limits{Concurrency: 4, PerAccountRegion: 2},
	}
	cfg.ApplyDefaults()
	var mu sync.Mutex
	peak := 0
	before := runtime.NumGoroutine()
	a := audit{targets.New(cfg, aws.Config{}), nil}
	a.checker = New(cfg, aws.Config{}, WithSTS(&fakeSTS{calls: map[string]int{}}), WithBedrock(func(string, aws.CredentialsProvider) BedrockAPI {
		return manyModels{n: n, mu: &mu, peak: &peak}
	}))
	rep := a.Run(context.Background(), "goroutines")
	if got, want := rep.Summary.Counts[result.Enabled], 2*n; got != want {
		t.Fatalf("enabled: got %d; want %d", got, want)
	}
	// Unit workers (2 x concurrency, but only 2 units) and 2 per account-region.
	if got, limit := peak-before, 2+2*2+10; got > limit {
		t.Errorf("goroutines during the run: got %d more than before; want at most %d", got, limit)
	}
}

// A plan with more results than config.MaxResults is refused as a
// configuration error before anything is allocated or called.
func TestRunRefusesAPlanLargerThanMaxResults(t *testing.T) {
	cfg := &config.Config{Accounts: config.Accounts{Organizations: config.Organizations{Enabled: true}}, Regions: []string{"us-east-1"}}
	cfg.ApplyDefaults()
	roles := make([]string, config.MaxPrincipalsPerSet)
	for i := range roles {
		roles[i] = fmt.Sprintf("Role%d", i)
	}
	set := &config.PrincipalSet{Roles: roles}
	models := []string{"amazon.nova-pro-v1:0"}
	plan := &targets.Plan{RunID: "huge"}
	for i := range 6000 { // 6,000 accounts x 1 model x (1 + 100 principals)
		plan.Units = append(plan.Units, targets.Unit{Account: fmt.Sprintf("%012d", i), Region: "us-east-1", Models: models, Principals: set})
	}
	plan.Summary = result.Summary{RunID: "huge", Accounts: 6000, Regions: 1, Planned: 6000}
	c := New(cfg, aws.Config{}, WithSTS(&fakeSTS{calls: map[string]int{}}), WithBedrock(func(string, aws.CredentialsProvider) BedrockAPI {
		t.Error("bedrock client made; want the run refused first")
		return fakeBedrock{}
	}))
	rep := c.Check(context.Background(), plan)
	if !strings.Contains(rep.Summary.ConfigError, "606000 results") || !strings.Contains(rep.Summary.ConfigError, "config.MaxResults") {
		t.Errorf("config error: got %q; want the results counted and the limit named", rep.Summary.ConfigError)
	}
	if !rep.Summary.Failed() || len(rep.Results) != 0 {
		t.Errorf("got failed=%v and %d results; want a failed run without results", rep.Summary.Failed(), len(rep.Results))
	}
}

// The results are allocated once, for exactly the plan, which tooLarge has
// bounded: a list grown as results come holds two arrays at its last growth
// (at the benchmark's 300,000 results, 70 MB instead of 36).
func TestRunAllocatesItsResultsOnce(t *testing.T) {
	const accounts, models = 140, 500 // 70,000 results, more than one growth step
	ids := make([]string, models)
	for i := range ids {
		ids[i] = fmt.Sprintf("model-%d", i)
	}
	static := make([]string, accounts)
	for i := range static {
		static[i] = fmt.Sprintf("%012d", 100000000000+i)
	}
	cfg := &config.Config{
		Accounts: config.Accounts{Static: static},
		Regions:  []string{"us-east-1"},
		Models:   config.Models{Required: ids},
		Limits:   config.Limits{Concurrency: 16, PerAccountRegion: 4},
	}
	cfg.ApplyDefaults()
	var mu sync.Mutex
	peak := 0
	a := audit{targets.New(cfg, aws.Config{}), nil}
	a.checker = New(cfg, aws.Config{}, WithSTS(&fakeSTS{calls: map[string]int{}}), WithBedrock(func(string, aws.CredentialsProvider) BedrockAPI {
		return manyModels{n: models, mu: &mu, peak: &peak}
	}))
	rep := a.Run(context.Background(), "once")
	if got, want := len(rep.Results), accounts*models; got != want {
		t.Fatalf("results: got %d; want %d", got, want)
	}
	if got, want := cap(rep.Results), accounts*models; got != want {
		t.Errorf("capacity of the results: got %d; want %d, allocated once for the plan", got, want)
	}
}
