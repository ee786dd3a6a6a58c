package job

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/grantwatch/grantwatch/pkg/check"
	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/devtools/awssim"
	"github.com/grantwatch/grantwatch/pkg/devtools/localenv"
	"github.com/grantwatch/grantwatch/pkg/devtools/testenv"
	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/notify"
	"github.com/grantwatch/grantwatch/pkg/targets"
)

// countingSNS counts publishes.
type countingSNS struct {
	notify.Publisher
	n atomic.Int64
}

func (c *countingSNS) Publish(ctx context.Context, in *sns.PublishInput, o ...func(*sns.Options)) (*sns.PublishOutput, error) {
	c.n.Add(1)
	return c.Publisher.Publish(ctx, in, o...)
}

func size(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkRunWrites runs the job twice on a 1,000-account organization (20
// regions, 5 models) against dynalite and goaws, with 1% of the checks
// changed between the runs, and prints the second run's DynamoDB write
// requests and SNS publishes against their budgets. Run it once: -benchtime=1x.
func BenchmarkRunWrites(b *testing.B) {
	nAccounts, nRegions := size("BENCH_ACCOUNTS", 1000), size("BENCH_REGIONS", 20)
	regions := config.KnownRegions()[:nRegions]
	models := []string{"amazon.nova-pro-v1:0", "amazon.nova-lite-v1:0", "anthropic.claude-3-5-sonnet-20240620-v1:0", "meta.llama3-1-70b-instruct-v1:0", "mistral.mistral-large-2407-v1:0"}
	ctx := context.Background()

	for b.Loop() {
		sim, err := awssim.New(awssim.Generated(nAccounts, 10, regions, models, 0))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := sim.Start("127.0.0.1:0"); err != nil {
			b.Fatal(err)
		}
		ddbServer := testenv.DynamoDB(b)
		snsServer := testenv.SNS(b, localenv.Topic{Name: "alerts"})

		cfg := &config.Config{
			Accounts: config.Accounts{Organizations: config.Organizations{Enabled: true}},
			Regions:  regions, Models: config.Models{Required: models},
			Limits:  config.Limits{Concurrency: 128},
			History: config.History{Table: "grantwatch-bench"},
			Notify:  config.Notify{TopicARN: snsServer.TopicARN("alerts")},
		}
		cfg.ApplyDefaults()
		simCfg, _ := sim.ClientConfig(ctx, "us-east-1")
		ddbCfg := testenv.AWSConfig(b, ddbServer.Endpoint)
		snsCfg := testenv.AWSConfig(b, snsServer.Endpoint)
		ddbClient := dynamodb.NewFromConfig(ddbCfg)
		if err := history.CreateTable(ctx, ddbClient, cfg.History.Table); err != nil {
			b.Fatal(err)
		}
		writes := &countingDynamo{API: ddbClient}
		publishes := &countingSNS{Publisher: sns.NewFromConfig(snsCfg)}
		j := New(cfg, targets.New(cfg, simCfg), check.New(cfg, simCfg), history.New(writes, cfg.History.Table, cfg.History.Retention.Std()),
			notify.New(publishes, cfg.Notify.TopicARN, cfg.Notify.ReminderInterval.Std()))

		start := time.Now()
		at := time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC)
		j.now = func() time.Time { return at }
		if _, err := j.Run(ctx, at); err != nil {
			b.Fatal(err)
		}
		firstWrites, firstPublishes, firstTime := writes.writes.Load(), publishes.n.Load(), time.Since(start)

		// Change 1% of the checks: a Marketplace subscription disappears.
		checks := nAccounts * nRegions * len(models)
		rng := rand.New(rand.NewPCG(1, 2))
		changedAccounts := map[string]bool{}
		if err := sim.Update(func(sc *awssim.Scenario) {
			for n := 0; n < checks/100; {
				a := &sc.Accounts[rng.IntN(nAccounts)]
				region, model := regions[rng.IntN(nRegions)], models[rng.IntN(len(models))]
				if a.Regions[region].Models[model].Agreement != "" {
					continue
				}
				a.SetState(region, model, awssim.ModelState{Agreement: "NOT_AVAILABLE"})
				changedAccounts[a.ID] = true
				n++
			}
		}); err != nil {
			b.Fatal(err)
		}

		firstUnits := writes.units.Load()
		writes.writes.Store(0)
		writes.units.Store(0)
		publishes.n.Store(0)
		at = at.Add(24 * time.Hour)
		start = time.Now()
		out, err := j.Run(ctx, at)
		if err != nil {
			b.Fatal(err)
		}
		secondTime := time.Since(start)
		_ = sim.Close()
		units, items := writeUnits(b, ddbClient, cfg.History.Table)

		accountRegions := nAccounts * nRegions
		changed := out.Events
		// The budget, with real division: latest-state items and
		// events share batches, so only the last batch can be partly empty.
		writeBudget := float64(changed)/25 + float64(accountRegions)/25 + 2
		publishBudget := len(changedAccounts) + 1
		w, p := int(writes.writes.Load()), int(publishes.n.Load())
		wu := int(writes.units.Load())
		unitBudget := 3*changed + 100

		fmt.Printf("\nhistory and alerts: %d accounts x %d regions x %d models, 1%% of checks changed between two runs (dynalite, goaws)\n\n", nAccounts, nRegions, len(models))
		fmt.Printf("| measure | first run | second run | budget (second run) |\n|---|---|---|---|\n")
		fmt.Printf("| checks | %d | %d | |\n", checks, out.Report.Summary.Checked)
		fmt.Printf("| changed results (history events) | %d | %d | |\n", checks, changed)
		fmt.Printf("| accounts with changes | %d | %d | |\n", nAccounts, len(changedAccounts))
		fmt.Printf("| DynamoDB write requests | %d | %d | <= %.2f (changed/25 + account-regions/25 + 2) |\n", firstWrites, w, writeBudget)
		fmt.Printf("| DynamoDB write units | %d | %d | <= %d (3 x changed + 100) |\n", firstUnits, wu, unitBudget)
		fmt.Printf("| SNS publishes | %d | %d | <= %d (changed accounts + 1) |\n", firstPublishes, p, publishBudget)
		fmt.Printf("| wall time | %.1f s | %.1f s | |\n\n", firstTime.Seconds(), secondTime.Seconds())
		fmt.Printf("DynamoDB item sizes (for on-demand write units, 1 per started KB):\n\n| item | count | average bytes | write units each |\n|---|---|---|---|\n")
		for _, kind := range []string{"LATEST", "EVENT", "RUN"} {
			if items[kind] > 0 {
				fmt.Printf("| %s | %d | %d | %.1f |\n", kind, items[kind], units[kind+"_bytes"]/items[kind], float64(units[kind])/float64(items[kind]))
			}
		}
		fmt.Println()
		fmt.Printf("bench: changed=%d account_regions=%d write_requests=%d write_budget=%.2f publishes=%d publish_budget=%d\n",
			changed, accountRegions, w, writeBudget, p, publishBudget)
		fmt.Printf("bench: steady changed=%d write_units=%d\n", changed, wu)
		if wu > unitBudget {
			b.Errorf("write units: got %d; want at most %d", wu, unitBudget)
		}
		if float64(w) > writeBudget+1 || w > (changed+accountRegions+24)/25+2 {
			b.Errorf("write requests: got %d; want at most %.2f, plus the rounding of the last batch", w, writeBudget)
		}
		if p > publishBudget {
			b.Errorf("publishes: got %d; want at most %d", p, publishBudget)
		}
	}
}

// writeUnits scans the table and measures its items as DynamoDB sizes them
// (attribute names plus values), by type: the bytes and the write units
// (one per started KB) a write of each item costs.
func writeUnits(b *testing.B, client *dynamodb.Client, table string) (units map[string]int, items map[string]int) {
	units, items = map[string]int{}, map[string]int{}
	pages := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{TableName: &table})
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		for _, it := range page.Items {
			kind := "?"
			if t, ok := it["type"].(*types.AttributeValueMemberS); ok {
				kind = t.Value
			}
			size := 0
			for name, v := range it {
				size += len(name) + attrSize(v)
			}
			items[kind]++
			units[kind+"_bytes"] += size
			units[kind] += (size + 1023) / 1024
		}
	}
	return units, items
}

func attrSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return len(v.Value)/2 + 1
	case *types.AttributeValueMemberBOOL:
		return 1
	case *types.AttributeValueMemberM:
		n := 3
		for k, x := range v.Value {
			n += len(k) + attrSize(x) + 1
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3
		for _, x := range v.Value {
			n += attrSize(x) + 1
		}
		return n
	}
	return 1
}
