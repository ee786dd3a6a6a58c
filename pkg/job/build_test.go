package job

import (
	"context"
	"strings"
	"testing"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/devtools/awssim"
	"github.com/grantwatch/grantwatch/pkg/devtools/testenv"
	"github.com/grantwatch/grantwatch/pkg/history"
)

// Build asks STS who it runs as only when Security Hub (with a store) or
// the caller needs it, and then once.
func TestBuildWiresWhatTheConfigurationNames(t *testing.T) {
	ctx := context.Background()
	sim := testenv.Simulator(t, "testdata/org.yaml", nil)
	awsCfg, err := sim.ClientConfig(ctx, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	own := history.New(nil, "own-table", 0)
	tests := []struct {
		name        string
		table       string
		securityHub bool
		caller      bool
		store       *history.Store
		wantTable   string
		wantHub     bool
		wantCaller  bool
		wantCalls   int64
	}{
		{name: "audit only", wantCalls: 0},
		{name: "security hub without history has nothing to follow", securityHub: true, wantCalls: 0},
		{name: "history without security hub", table: "gw", wantTable: "gw", wantCalls: 0},
		{name: "security hub after stored runs", table: "gw", securityHub: true, wantTable: "gw", wantHub: true, wantCaller: true, wantCalls: 1},
		{name: "security hub and the caller share one call", table: "gw", securityHub: true, caller: true, wantTable: "gw", wantHub: true, wantCaller: true, wantCalls: 1},
		{name: "caller alone", caller: true, wantCaller: true, wantCalls: 1},
		{name: "own store replaces the configured one", table: "gw", store: own, wantTable: "own-table", wantCalls: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Load("testdata/grantwatch.yaml")
			if err != nil {
				t.Fatal(err)
			}
			cfg.History.Table = tt.table
			cfg.SecurityHub.Enabled = tt.securityHub
			before := sim.Calls(awssim.OpGetCallerIdentity)
			p, err := Build(ctx, cfg, awsCfg, func(o *BuildOptions) { o.Caller, o.Store = tt.caller, tt.store })
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if got := sim.Calls(awssim.OpGetCallerIdentity) - before; got != tt.wantCalls {
				t.Errorf("GetCallerIdentity calls: got %d; want %d", got, tt.wantCalls)
			}
			if p.Job == nil || p.Planner == nil || p.Checker == nil {
				t.Fatalf("parts: got job %v, planner %v, checker %v; want all three", p.Job, p.Planner, p.Checker)
			}
			gotTable := ""
			if p.Store != nil {
				gotTable = p.Store.Table()
			}
			if gotTable != tt.wantTable {
				t.Errorf("store table: got %q; want %q", gotTable, tt.wantTable)
			}
			if (p.Job.hub != nil) != tt.wantHub || (p.Hub != nil) != tt.wantHub {
				t.Errorf("security hub: got job's %v, parts' %v; want set %v", p.Job.hub, p.Hub, tt.wantHub)
			}
			if tt.wantHub && p.Hub.Source.Account != sim.Auditor().Account {
				t.Errorf("findings' account: got %q; want the auditor's %q", p.Hub.Source.Account, sim.Auditor().Account)
			}
			if (p.Caller != nil) != tt.wantCaller {
				t.Fatalf("caller: got %+v; want set %v", p.Caller, tt.wantCaller)
			}
			if tt.wantCaller && (p.Caller.Account != sim.Auditor().Account || p.Caller.ARN != sim.Auditor().ARN) {
				t.Errorf("caller: got %+v; want %s %s", p.Caller, sim.Auditor().Account, sim.Auditor().ARN)
			}
		})
	}
}

// A caller STS refuses is Build's error, named after the call.
func TestBuildFailsWhenSTSRefusesTheCaller(t *testing.T) {
	ctx := context.Background()
	sim := testenv.Simulator(t, "testdata/org.yaml", nil)
	stranger := awssim.Principal{AccessKeyID: "AKIAUNKNOWNKEY000000", SecretAccessKey: "not-the-secret"}
	awsCfg, err := awssim.ClientConfigFor(ctx, sim.URL(), stranger, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load("testdata/grantwatch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build(ctx, cfg, awsCfg, func(o *BuildOptions) { o.Caller = true })
	if err == nil || !strings.Contains(err.Error(), "GetCallerIdentity") {
		t.Errorf("Build: got %v; want an error naming GetCallerIdentity", err)
	}
}
