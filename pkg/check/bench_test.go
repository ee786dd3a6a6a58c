package check

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/awssim"
	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/targets"
)

// benchSize reads a size from the environment, so that `make bench` can be
// tried small: BENCH_ACCOUNTS=100 make bench.
func benchSize(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// heapSampler records the largest live heap seen while it runs.
type heapSampler struct {
	peak atomic.Uint64
	stop chan struct{}
	wg   sync.WaitGroup
}

func sampleHeap(every time.Duration) *heapSampler {
	h := &heapSampler{stop: make(chan struct{})}
	h.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > h.peak.Load() {
				h.peak.Store(m.HeapAlloc)
			}
			select {
			case <-t.C:
			case <-h.stop:
				return
			}
		}
	})
	return h
}

func (h *heapSampler) Stop() uint64 {
	close(h.stop)
	h.wg.Wait()
	return h.peak.Load()
}

// BenchmarkOrganization audits a simulated organization of 1,000 accounts x
// 20 regions x 5 models with 100 ms per call, and prints what `make bench`
// shows. One required model is a global. inference profile and one is
// Anthropic's, so the run pays what profiles and the use-case form cost: one
// profile listing per account-region, one form read per account. Run it once: -benchtime=1x. The heap figure includes the in-process
// simulator, so it is an upper bound for the auditor.
func BenchmarkOrganization(b *testing.B) {
	nAccounts := benchSize("BENCH_ACCOUNTS", 1000)
	nRegions := benchSize("BENCH_REGIONS", 20)
	concurrency := benchSize("BENCH_CONCURRENCY", 256)
	latency := time.Duration(benchSize("BENCH_LATENCY_MS", 100)) * time.Millisecond
	regions := config.KnownRegions()[:nRegions]
	models := []string{"amazon.nova-pro-v1:0", "amazon.nova-lite-v1:0", "anthropic.claude-3-5-sonnet-20240620-v1:0", "meta.llama3-1-70b-instruct-v1:0", "mistral.mistral-large-2407-v1:0"}

	// Applications call Nova Lite through its global profile.
	profile := "global." + models[1]
	required := []string{models[0], profile, models[2], models[3], models[4]}

	for b.Loop() {
		sc := awssim.Generated(nAccounts, 10, regions, models, latency)
		sc.Profiles = []awssim.Profile{{ID: profile, Model: models[1], Sources: regions}}
		sim, err := awssim.New(sc)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := sim.Start("127.0.0.1:0"); err != nil {
			b.Fatal(err)
		}
		cfg := &config.Config{
			Accounts: config.Accounts{Organizations: config.Organizations{Enabled: true}},
			Regions:  regions,
			Models:   config.Models{Required: required},
			Limits:   config.Limits{Concurrency: concurrency},
		}
		cfg.ApplyDefaults()
		awsCfg, err := sim.ClientConfig(context.Background(), "us-east-1")
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		heap := sampleHeap(50 * time.Millisecond)
		start := time.Now()
		rep := audit{targets.New(cfg, awsCfg), New(cfg, awsCfg)}.Run(context.Background(), "bench")
		wall := time.Since(start)
		peak := heap.Stop()
		_ = sim.Close()

		calls := sim.TotalCalls()
		ideal := time.Duration(calls) * latency / time.Duration(concurrency)
		efficiency := ideal.Seconds() / wall.Seconds()
		assumes := sim.AssumeRoleCalls()
		var assumeTotal, assumeMax int64
		for _, n := range assumes {
			assumeTotal += n
			assumeMax = max(assumeMax, n)
		}
		peakMB := float64(peak) / (1 << 20)

		fmt.Printf("\norganization: %d accounts x %d regions x %d models, %v per call, concurrency %d\n\n", nAccounts, nRegions, len(models), latency, concurrency)
		fmt.Println("| operation | calls |\n|---|---|")
		ops := []string{awssim.OpAssumeRole, awssim.OpListRoots, awssim.OpListChildren, awssim.OpListAccountsForParent, awssim.OpListFoundationModels,
			awssim.OpGetFoundationModelAvailability, awssim.OpListInferenceProfiles, awssim.OpGetUseCaseForModelAccess}
		sort.Strings(ops)
		for _, op := range ops {
			fmt.Printf("| %s | %d |\n", op, sim.Calls(op))
		}
		fmt.Printf("\n| measure | value | target |\n|---|---|---|\n")
		fmt.Printf("| checks | %d of %d | all |\n", rep.Summary.Checked, rep.Summary.Planned)
		fmt.Printf("| audit errors | %d | 0 |\n", rep.Summary.AuditErrs)
		fmt.Printf("| wall time | %.1f s | |\n| ideal time (calls x latency / concurrency) | %.1f s | |\n", wall.Seconds(), ideal.Seconds())
		fmt.Printf("| efficiency | %.3f | >= 0.85 |\n", efficiency)
		fmt.Printf("| AssumeRole calls | %d for %d accounts (at most %d per account) | exactly 1 per account |\n", assumeTotal, len(assumes), assumeMax)
		accountRegions := int64(nAccounts * nRegions)
		profileCalls := sim.Calls(awssim.OpListInferenceProfiles)
		fmt.Printf("| profile listings | %d for %d account-regions | at most 1 per account-region |\n", profileCalls, accountRegions)
		fmt.Printf("| peak heap | %.1f MB | < 150 MB |\n\n", peakMB)
		fmt.Printf("bench: checks=%d calls=%d wall_s=%.2f ideal_s=%.2f efficiency=%.3f assume_role_calls=%d peak_heap_mb=%.1f\n",
			rep.Summary.Checked, calls, wall.Seconds(), ideal.Seconds(), efficiency, assumeTotal, peakMB)

		b.ReportMetric(efficiency, "efficiency")
		b.ReportMetric(peakMB, "peak_heap_MB")
		switch {
		case rep.Summary.Checked != rep.Summary.Planned || rep.Summary.AuditErrs > 0:
			b.Errorf("checks: got %d done, %d audit errors; want all %d done without errors", rep.Summary.Checked, rep.Summary.AuditErrs, rep.Summary.Planned)
		case efficiency < 0.85:
			b.Errorf("efficiency: got %.3f; want >= 0.85", efficiency)
		case profileCalls > accountRegions:
			b.Errorf("ListInferenceProfiles: got %d calls; want at most one per account-region, %d", profileCalls, accountRegions)
		case assumeMax != 1 || len(assumes) != nAccounts:
			b.Errorf("AssumeRole: got %d calls over %d accounts, max %d; want exactly 1 per account", assumeTotal, len(assumes), assumeMax)
		case peakMB >= 150:
			b.Errorf("peak heap: got %.1f MB; want under 150 MB", peakMB)
		}
	}
}
