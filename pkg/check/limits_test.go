package check

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/result"
	"github.com/grantwatch/grantwatch/pkg/targets"
)

// fakeSTS hands out credentials and counts AssumeRole calls per role.
type fakeSTS struct {
	mu    sync.Mutex
	calls map[string]int
}

func (f *fakeSTS) AssumeRole(_ context.Context, in *sts.AssumeRoleInput, _ ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	f.mu.Lock()
	f.calls[aws.ToString(in.RoleArn)]++
	f.mu.Unlock()
	time.Sleep(time.Millisecond)
	exp := time.Now().Add(time.Hour)
	return &sts.AssumeRoleOutput{Credentials: &ststypes.Credentials{
		AccessKeyId: aws.String("ASIAFAKE"), SecretAccessKey: aws.String("s"), SessionToken: aws.String("t"), Expiration: &exp,
	}}, nil
}

// gauge tracks how many calls are in flight, overall and per key. Until
// "all" first reaches target, availability calls are held, so that a
// checker that runs its calls one at a time never reaches it (and waits 5 s
// instead). Model lists are never held: each account-region lists its models
// once before its availability calls, so holding them could stall a correct
// checker below the target.
type gauge struct {
	mu       sync.Mutex
	now, max map[string]int
	target   int
	reached  chan struct{}
}

func newGauge(target int) *gauge {
	return &gauge{now: map[string]int{}, max: map[string]int{}, target: target, reached: make(chan struct{})}
}

func (g *gauge) enter(hold bool, keys ...string) {
	g.mu.Lock()
	for _, k := range keys {
		g.now[k]++
		g.max[k] = max(g.max[k], g.now[k])
	}
	if g.now["all"] == g.target {
		g.release()
	}
	g.mu.Unlock()
	if !hold {
		return
	}
	select {
	case <-g.reached:
	case <-time.After(5 * time.Second):
		g.mu.Lock()
		g.release() // once: a checker that cannot reach the target fails, slowly but not for ever
		g.mu.Unlock()
	}
}

func (g *gauge) release() {
	select {
	case <-g.reached:
	default:
		close(g.reached)
	}
}

func (g *gauge) leave(keys ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, k := range keys {
		g.now[k]--
	}
}

// fakeBedrock answers "all positive" after a short wait, measuring concurrency.
// fakeBedrock answers the two calls a check of an on-demand base model of
// no Anthropic make needs. It embeds the interface (nil), so a method
// added to BedrockAPI needs no change here, and a call it does not expect
// panics: a loud failure, never a quiet answer.
type fakeBedrock struct {
	BedrockAPI
	key   string
	gauge *gauge
	calls *atomic.Int64
}

func (f fakeBedrock) ListFoundationModels(context.Context, *bedrock.ListFoundationModelsInput, ...func(*bedrock.Options)) (*bedrock.ListFoundationModelsOutput, error) {
	f.gauge.enter(false, "all", f.key)
	defer f.gauge.leave("all", f.key)
	f.calls.Add(1)
	time.Sleep(2 * time.Millisecond)
	var out bedrock.ListFoundationModelsOutput
	for i := range 6 {
		out.ModelSummaries = append(out.ModelSummaries, types.FoundationModelSummary{ModelId: aws.String(fmt.Sprintf("model-%d", i))})
	}
	return &out, nil
}

func (f fakeBedrock) GetFoundationModelAvailability(_ context.Context, in *bedrock.GetFoundationModelAvailabilityInput, _ ...func(*bedrock.Options)) (*bedrock.GetFoundationModelAvailabilityOutput, error) {
	f.gauge.enter(true, "all", f.key)
	defer f.gauge.leave("all", f.key)
	f.calls.Add(1)
	time.Sleep(2 * time.Millisecond)
	return usableAvailability(in.ModelId), nil
}

func TestRunRespectsLimits(t *testing.T) {
	tests := []struct {
		name                          string
		concurrency, perAccountRegion int
	}{
		{"narrow", 3, 1},
		{"wide", 16, 2},
		{"per region wider than global", 4, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &config.Config{
				Accounts: config.Accounts{Static: []string{"111111111111", "222222222222", "333333333333", "444444444444"}},
				Regions:  []string{"us-east-1", "us-west-2", "eu-west-1"},
				Models:   config.Models{Required: []string{"model-0", "model-1", "model-2", "model-3", "model-4"}},
				Limits:   config.Limits{Concurrency: tt.concurrency, PerAccountRegion: tt.perAccountRegion},
			}
			cfg.ApplyDefaults()
			g := newGauge(tt.concurrency)
			var calls atomic.Int64
			stsFake := &fakeSTS{calls: map[string]int{}}
			a := audit{targets.New(cfg, aws.Config{}), nil}
			a.checker = New(cfg, aws.Config{}, WithSTS(stsFake), WithBedrock(func(region string, creds aws.CredentialsProvider) BedrockAPI {
				return fakeBedrock{key: fmt.Sprintf("%p/%s", creds, region), gauge: g, calls: &calls}
			}))
			rep := a.Run(context.Background(), "limits")

			if got, want := rep.Summary.Counts[result.Enabled], 4*3*5; got != want {
				t.Errorf("enabled: got %d; want %d", got, want)
			}
			if got, want := calls.Load(), int64(4*3*(1+5)); got != want {
				t.Errorf("bedrock calls: got %d; want %d", got, want)
			}
			if got := g.max["all"]; got != tt.concurrency {
				t.Errorf("calls in flight: got at most %d; want exactly the limit, %d", got, tt.concurrency)
			}
			for key, m := range g.max {
				if key != "all" && m > tt.perAccountRegion {
					t.Errorf("calls in flight for %s: got %d; want at most %d", key, m, tt.perAccountRegion)
				}
			}
			if len(stsFake.calls) != 4 {
				t.Errorf("roles assumed: got %d; want 4", len(stsFake.calls))
			}
			for role, n := range stsFake.calls {
				if n != 1 {
					t.Errorf("AssumeRole %s: got %d calls; want 1", role, n)
				}
			}
		})
	}
}

// usableAvailability is GetFoundationModelAvailability's answer for a model
// the account may use: all four fields available.
func usableAvailability(id *string) *bedrock.GetFoundationModelAvailabilityOutput {
	return &bedrock.GetFoundationModelAvailabilityOutput{
		ModelId:                 id,
		AgreementAvailability:   &types.AgreementAvailability{Status: types.AgreementStatusAvailable},
		AuthorizationStatus:     types.AuthorizationStatusAuthorized,
		EntitlementAvailability: types.EntitlementAvailabilityAvailable,
		RegionAvailability:      types.RegionAvailabilityAvailable,
	}
}
