package job

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/history"
)

// 6,000 suppressions that match nothing, one of them with a reason of
// 700 KB, make a warning each: the run is still stored and finishes (and
// so do the runs after it), its warnings cut with the rest counted.
func TestRunWithThousandsOfWarningsFinishes(t *testing.T) {
	f := setup(t)
	sups := make([]config.Suppression, 6000)
	for i := range sups {
		sups[i] = config.Suppression{Account: fmt.Sprintf("9%011d", i), Reason: "accepted risk", Owner: "ml@example.com", Until: "2099-01-01"}
	}
	sups[0].Reason = strings.Repeat("a very long reason ", 700<<10/19)
	f.job.cfg.Suppressions = sups

	for i, at := range []time.Time{t0, t0.Add(24 * time.Hour)} {
		out := f.run(t, at)
		if out.Stored == nil || out.Stored.State != history.Complete {
			t.Fatalf("run %d: got %+v; want COMPLETE", i, out.Stored)
		}
		stored, err := f.store.GetRun(context.Background(), out.RunID)
		if err != nil || stored == nil || stored.State != history.Complete || stored.Summary == nil {
			t.Fatalf("stored run %d: got %+v, %v; want COMPLETE with its summary", i, stored, err)
		}
		w := stored.Summary.Warnings
		if len(w) == 0 || len(w) >= 6000 || !strings.HasSuffix(w[len(w)-1], " more") {
			t.Errorf("stored warnings: got %d lines; want them cut with a count of the rest", len(w))
		}
		if len(w[0]) > 1000 {
			t.Errorf("stored warning of the 700 KB reason: got %d bytes; want at most 1000", len(w[0]))
		}
	}
}
