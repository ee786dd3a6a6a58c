package check

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/devtools/awssim"
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
		// MemStats.HeapAlloc, read without ReadMemStats' stop of the
		// world: 20 stops a second would be the sampler's CPU in the
		// auditor's figure (runtime/metrics: HeapAlloc is
		// /memory/classes/heap/objects:bytes).
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > h.peak.Load() {
				h.peak.Store(v)
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

// benchPolicy lets a principal call every model.
const benchPolicy = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:InvokeModel*","Resource":"*"}}`

// TestMain doubles as the simulator's own process for BenchmarkOrganization:
// run with GRANTWATCH_BENCH_SIM=scenario.yaml, the test binary serves that
// scenario, prints its address on the first line, and when its stdin closes
// prints the simulator's counters as JSON and exits.
func TestMain(m *testing.M) {
	if path := os.Getenv("GRANTWATCH_BENCH_SIM"); path != "" {
		os.Exit(serveSimulator(path))
	}
	os.Exit(m.Run())
}

func serveSimulator(path string) int {
	// GRANTWATCH_BENCH_SIM_CPUPROFILE=file profiles the simulator's own
	// process, as -cpuprofile does the auditor's.
	if prof := os.Getenv("GRANTWATCH_BENCH_SIM_CPUPROFILE"); prof != "" {
		f, err := os.Create(prof)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	// The simulator is a fixture sharing the machine's two cores with the
	// auditor, and its memory is no target: it collects less often.
	debug.SetGCPercent(400)
	sc, err := awssim.LoadScenario(path)
	if err == nil {
		var sim *awssim.Server
		if sim, err = awssim.New(sc); err == nil {
			var url string
			if url, err = sim.Start("127.0.0.1:0"); err == nil {
				line, _ := json.Marshal(map[string]string{"url": url})
				fmt.Println(string(line))
				_, _ = io.Copy(io.Discard, os.Stdin)
				stats, _ := json.Marshal(sim.Stats())
				fmt.Println(string(stats))
				_ = sim.Close()
				return 0
			}
		}
	}
	fmt.Fprintln(os.Stderr, err)
	return 1
}

// simProcess is the simulator serving a scenario in a process of its own.
type simProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
	url   string
}

func startSimProcess(b *testing.B, sc *awssim.Scenario) *simProcess {
	b.Helper()
	data, err := yaml.Marshal(sc)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "scenario.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GRANTWATCH_BENCH_SIM="+path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := &simProcess{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	p.out.Buffer(make([]byte, 1<<20), 1<<20)
	var first struct{ URL string }
	if !p.out.Scan() || json.Unmarshal(p.out.Bytes(), &first) != nil || first.URL == "" {
		b.Fatalf("simulator process: no address (%v)", p.out.Err())
	}
	p.url = first.URL
	return p
}

// stop ends the process and returns its counters and the CPU time it used.
func (p *simProcess) stop(b *testing.B) (awssim.Stats, time.Duration) {
	b.Helper()
	_ = p.stdin.Close()
	var st awssim.Stats
	if !p.out.Scan() || json.Unmarshal(p.out.Bytes(), &st) != nil {
		b.Fatalf("simulator process: no counters (%v)", p.out.Err())
	}
	if err := p.cmd.Wait(); err != nil {
		b.Fatal(err)
	}
	return st, p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime()
}

// BenchmarkOrganization audits a simulated organization of 1,000 accounts x
// 20 regions x 5 models with 100 ms per call, and prints what `make bench`
// shows. One required model is a global. inference profile and one is
// Anthropic's, and two principals are configured, so the run pays what
// profiles, the use-case form and principal checks cost. Run it once:
// -benchtime=1x. The simulator runs in a process of its own, so the heap and
// CPU figures are the auditor's alone.
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
		// Two principals in every account, as teams configure them.
		for i := range sc.Accounts {
			sc.Accounts[i].Roles = []awssim.IAMRole{
				{Name: "ChatApp", Policies: map[string]string{"bedrock": benchPolicy}},
				{Name: "BatchJobs", Policies: map[string]string{"bedrock": benchPolicy}},
			}
		}
		sc.Auditor = awssim.Principal{AccessKeyID: "AKIAGRANTWATCHBENCH0", SecretAccessKey: "grantwatch-bench-secret"}
		auditor := sc.Auditor
		sim := startSimProcess(b, sc)
		cfg := &config.Config{
			Accounts:   config.Accounts{Organizations: config.Organizations{Enabled: true}},
			Regions:    regions,
			Models:     config.Models{Required: required},
			Principals: config.Principals{PrincipalSet: config.PrincipalSet{Roles: []string{"ChatApp", "BatchJobs"}}},
			Limits:     config.Limits{Concurrency: concurrency},
		}
		cfg.ApplyDefaults()
		awsCfg, err := awssim.ClientConfigFor(context.Background(), sim.url, auditor, "us-east-1")
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		heap := sampleHeap(50 * time.Millisecond)
		cpuBefore := cpuTime()
		gcBefore := gcStats()
		start := time.Now()
		rep := audit{targets.New(cfg, awsCfg), New(cfg, awsCfg)}.Run(context.Background(), "bench")
		wall := time.Since(start)
		cpu := cpuTime() - cpuBefore
		gc := gcStats().minus(gcBefore)
		peak := heap.Stop()
		stats, simCPU := sim.stop(b)

		var calls int64
		for _, n := range stats.Calls {
			calls += n
		}
		ideal := time.Duration(calls) * latency / time.Duration(concurrency)
		efficiency := ideal.Seconds() / wall.Seconds()
		peakMB := float64(peak) / (1 << 20)
		cpuPer1000 := float64(cpu.Milliseconds()) / (float64(calls) / 1000)
		simCPUPer1000 := float64(simCPU.Milliseconds()) / (float64(calls) / 1000)

		fmt.Printf("\norganization: %d accounts x %d regions x %d models, 2 principals, %v per call, concurrency %d\n\n", nAccounts, nRegions, len(models), latency, concurrency)
		fmt.Println("| operation | calls |\n|---|---|")
		ops := []string{awssim.OpAssumeRole, awssim.OpListRoots, awssim.OpListChildren, awssim.OpListAccountsForParent, awssim.OpListFoundationModels,
			awssim.OpGetFoundationModelAvailability, awssim.OpListInferenceProfiles, awssim.OpGetUseCaseForModelAccess, awssim.OpListRegions, awssim.OpSimulatePrincipalPolicy}
		sort.Strings(ops)
		for _, op := range ops {
			fmt.Printf("| %s | %d |\n", op, stats.Calls[op])
		}
		fmt.Printf("\n| measure | value | target |\n|---|---|---|\n")
		fmt.Printf("| checks | %d of %d | all |\n", rep.Summary.Checked, rep.Summary.Planned)
		fmt.Printf("| audit errors | %d | 0 |\n", rep.Summary.AuditErrs)
		fmt.Printf("| wall time | %.1f s | |\n| ideal time (calls x latency / concurrency) | %.1f s | |\n", wall.Seconds(), ideal.Seconds())
		fmt.Printf("| efficiency | %.3f | >= 0.90 |\n", efficiency)
		fmt.Printf("| AssumeRole calls | %d for %d accounts (at most %d per account) | exactly 1 per account |\n", stats.Calls[awssim.OpAssumeRole], stats.AssumeRoleAccounts, stats.AssumeRoleMax)
		accountRegions := int64(nAccounts * nRegions)
		profileCalls := stats.Calls[awssim.OpListInferenceProfiles]
		fmt.Printf("| profile listings | %d for %d account-regions | at most 1 per account-region |\n", profileCalls, accountRegions)
		simulations := stats.Calls[awssim.OpSimulatePrincipalPolicy]
		fmt.Printf("| principal simulations | %d (%.1f per account, 2 principals) | at most 1 per principal and requested region, and 1 per principal for each region that calls the global profile |\n", simulations, float64(simulations)/float64(nAccounts))
		fmt.Printf("| principal results | %d | 2 per check |\n", rep.Summary.PrincipalChecks)
		fmt.Printf("| auditor CPU | %.0f ms per 1,000 calls (%.1f s in all) | <= 200 ms per 1,000 calls |\n", cpuPer1000, cpu.Seconds())
		fmt.Printf("| auditor GC | %d cycles, %.0f%% of the Go runtime's CPU estimate (GC over GC, user and scavenger time) | |\n", gc.cycles, 100*gc.share())
		fmt.Printf("| simulator CPU | %.0f ms per 1,000 calls (%.1f s in all, its whole process) | |\n", simCPUPer1000, simCPU.Seconds())
		fmt.Printf("| auditor peak heap | %.1f MB (the simulator runs in its own process) | < 150 MB |\n\n", peakMB)
		fmt.Printf("bench: checks=%d calls=%d wall_s=%.2f ideal_s=%.2f efficiency=%.3f assume_role_calls=%d peak_heap_mb=%.1f simulations_per_account=%.1f cpu_ms_per_1000_calls=%.0f\n",
			rep.Summary.Checked, calls, wall.Seconds(), ideal.Seconds(), efficiency, stats.Calls[awssim.OpAssumeRole], peakMB, float64(simulations)/float64(nAccounts), cpuPer1000)

		fmt.Printf("bench: client calls=%d cpu_ms_per_1000_calls=%.0f peak_mb=%.1f sim_cpu_ms_per_1000_calls=%.0f gc_cycles=%d gc_cpu_share=%.2f\n", calls, cpuPer1000, peakMB, simCPUPer1000, gc.cycles, gc.share())

		b.ReportMetric(efficiency, "efficiency")
		b.ReportMetric(peakMB, "peak_heap_MB")
		// Every target is checked on its own: one miss must not hide another.
		if rep.Summary.Checked != rep.Summary.Planned || rep.Summary.AuditErrs > 0 {
			b.Errorf("checks: got %d done, %d audit errors; want all %d done without errors", rep.Summary.Checked, rep.Summary.AuditErrs, rep.Summary.Planned)
		}
		if efficiency < 0.90 {
			b.Errorf("efficiency: got %.3f; want >= 0.90", efficiency)
		}
		if cpuPer1000 > 200 {
			b.Errorf("auditor CPU: got %.0f ms per 1,000 calls; want at most 200", cpuPer1000)
		}
		// The budget: one simulation per principal and requested region,
		// and one for the global hop from each source region that calls the
		// global profile: each of those calls carries its own profile ARN
		// (bedrock:InferenceProfileArn names the source region; ledger:
		// IAM-inference-profile-arn), and an SCP may tell them apart, so
		// one hop cannot stand for another; nor can one region's answer
		// stand for another's, since IAM names no SCP key as missing
		// (docs/principals.md, "Fewer simulations"). Here the global profile
		// is required in every region. The policy has no condition, so no
		// second round, and no SCP denies, so no shortcut applies:
		// 2 x (20 + 20) = 80 per account, the honest count.
		globalSources := nRegions
		if budget := int64(nAccounts * 2 * (nRegions + globalSources)); simulations > budget {
			b.Errorf("SimulatePrincipalPolicy: got %d calls (%.1f per account); want at most one per principal and requested region plus one per principal and global-profile source region, %d", simulations, float64(simulations)/float64(nAccounts), budget)
		}
		if profileCalls > accountRegions {
			b.Errorf("ListInferenceProfiles: got %d calls; want at most one per account-region, %d", profileCalls, accountRegions)
		}
		if stats.AssumeRoleMax != 1 || stats.AssumeRoleAccounts != nAccounts {
			b.Errorf("AssumeRole: got %d calls over %d accounts, max %d; want exactly 1 per account", stats.Calls[awssim.OpAssumeRole], stats.AssumeRoleAccounts, stats.AssumeRoleMax)
		}
		if peakMB >= 150 {
			b.Errorf("peak heap: got %.1f MB; want under 150 MB", peakMB)
		}
	}
}

// gcCounters are the runtime's own counts of GC cycles and of the CPU time
// it estimates for GC and for the program: their ratio says how much of the
// auditor's CPU the collector takes, and holds better than CPU time on a
// machine others load.
type gcCounters struct {
	cycles       uint64
	gc, user, sc float64
}

func gcStats() gcCounters {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/cpu/classes/gc/total:cpu-seconds"},
		{Name: "/cpu/classes/user:cpu-seconds"}, {Name: "/cpu/classes/scavenge/total:cpu-seconds"}}
	metrics.Read(s)
	return gcCounters{cycles: s[0].Value.Uint64(), gc: s[1].Value.Float64(), user: s[2].Value.Float64(), sc: s[3].Value.Float64()}
}

func (c gcCounters) minus(o gcCounters) gcCounters {
	return gcCounters{cycles: c.cycles - o.cycles, gc: c.gc - o.gc, user: c.user - o.user, sc: c.sc - o.sc}
}

func (c gcCounters) share() float64 {
	if t := c.gc + c.user + c.sc; t > 0 {
		return c.gc / t
	}
	return 0
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
