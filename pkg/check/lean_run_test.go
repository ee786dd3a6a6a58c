package check

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/devtools/testenv"
	"github.com/grantwatch/grantwatch/pkg/targets"
)

// TestDirectPathKeepsEveryResult audits the demo organization (every
// status, principals, inference profiles, an unreachable account) with the
// direct path and with it off, and wants the same results, field by field,
// and the same calls of every operation at the simulator: the direct path
// changes how a request is made, never what is asked or concluded, and
// never sends a request twice.
func TestDirectPathKeepsEveryResult(t *testing.T) {
	audit := func(direct bool) (map[string]string, map[string]int64, *directState) {
		sim := testenv.Simulator(t, "../devtools/awssim/demo.yaml", nil)
		cfg, err := config.Load("../../cmd/grantwatch/demo.yaml")
		if err != nil {
			t.Fatal(err)
		}
		awsCfg, err := sim.ClientConfig(context.Background(), "us-east-1")
		if err != nil {
			t.Fatal(err)
		}
		c := New(cfg, awsCfg)
		c.direct.off.Store(!direct)
		rep := c.Check(context.Background(), targets.New(cfg, awsCfg).Plan(context.Background(), "direct"))
		return resultsByKey(t, rep), sim.Stats().Calls, c.direct
	}
	sdk, sdkCalls, _ := audit(false)
	direct, directCalls, state := audit(true)
	for _, k := range slices.Sorted(maps.Keys(sdk)) {
		if direct[k] != sdk[k] {
			t.Errorf("%s\ngot  %s\nwant %s (the SDK alone)", k, direct[k], sdk[k])
		}
	}
	if len(direct) != len(sdk) {
		t.Errorf("results: got %d on the direct path; want %d as with the SDK alone", len(direct), len(sdk))
	}
	for _, op := range slices.Sorted(maps.Keys(sdkCalls)) {
		if directCalls[op] != sdkCalls[op] {
			t.Errorf("%s calls: got %d on the direct path; want %d as with the SDK alone", op, directCalls[op], sdkCalls[op])
		}
	}
	t.Logf("direct requests: %d sent, %d decoded directly; %d results", state.sent.Load(), state.decoded.Load(), len(direct))
	if state.sent.Load() == 0 || state.decoded.Load() == 0 {
		t.Errorf("direct requests: got %d sent, %d decoded; want some of each, or the comparison shows nothing", state.sent.Load(), state.decoded.Load())
	}
	if state.sent.Load() == state.decoded.Load() {
		t.Errorf("direct requests: all %d decoded directly; the demo's error answers should have gone to the SDK", state.sent.Load())
	}
}
