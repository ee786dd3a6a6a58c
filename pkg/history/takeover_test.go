package history

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// An attempt that heartbeats keeps its run; one that stopped (crashed,
// killed) loses it to the next attempt that saw its heartbeats stop, well
// before its lease runs out, and can neither heartbeat nor finish after.
func TestSilentAttemptIsTakenOver(t *testing.T) {
	client, table := newTable(t)
	s := New(client, table, 24*time.Hour)
	ctx := context.Background()
	lease := 15 * time.Minute

	claim, first, err := s.BeginAttempt(ctx, "r1", "request-1", t0, t0, lease, 5*time.Second)
	if err != nil || claim != Started || first.Beats() != 1 {
		t.Fatalf("first attempt: got %s beats=%d, %v; want started with a first beat", claim, first.Beats(), err)
	}
	// Lambda's retry, a minute later, well within the lease.
	claim, seen, err := s.BeginAttempt(ctx, "r1", "request-1", t0, t0.Add(time.Minute), lease, 5*time.Second)
	if err != nil || claim != Busy {
		t.Fatalf("retry within the lease: got %s, %v; want busy", claim, err)
	}
	// The first attempt is alive: it heartbeats, and the retry's takeover
	// of the run as it saw it is refused.
	if err := s.Heartbeat(ctx, first); err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
	if claim, _, err := s.TakeOver(ctx, seen, "request-1", t0.Add(2*time.Minute), lease, 5*time.Second); err != nil || claim != Busy {
		t.Fatalf("takeover of an attempt that heartbeats: got %s, %v; want busy", claim, err)
	}
	// Now it is silent: the takeover succeeds.
	_, seen, _ = s.BeginAttempt(ctx, "r1", "request-1", t0, t0.Add(3*time.Minute), lease, 5*time.Second)
	claim, second, err := s.TakeOver(ctx, seen, "request-1", t0.Add(4*time.Minute), lease, 5*time.Second)
	if err != nil || claim != Resumed || second.Attempts != 2 {
		t.Fatalf("takeover of a silent attempt: got %s attempts=%d, %v; want resumed at attempt 2", claim, second.Attempts, err)
	}
	if err := s.Heartbeat(ctx, first); !errors.Is(err, ErrLost) {
		t.Errorf("heartbeat of the attempt taken over: got %v; want ErrLost", err)
	}
	if err := s.FinishRun(ctx, first, Complete, nil, "", t0.Add(5*time.Minute)); err == nil {
		t.Errorf("the attempt taken over finishing: got no error; want it refused")
	}
	if err := s.Heartbeat(ctx, second); err != nil {
		t.Errorf("heartbeat of the new holder: %v", err)
	}
	if err := s.FinishRun(ctx, second, Complete, nil, "", t0.Add(6*time.Minute)); err != nil {
		t.Errorf("the new holder finishing: %v", err)
	}
	if err := s.Heartbeat(ctx, second); !errors.Is(err, ErrLost) {
		t.Errorf("heartbeat of a finished run: got %v; want ErrLost", err)
	}
}

// Two retries that saw the same silent attempt take it over at the same
// moment: exactly one gets the run. Run twice.
func TestTakeOverRace(t *testing.T) {
	client, table := newTable(t)
	s := New(client, table, 24*time.Hour)
	ctx := context.Background()
	for round := range 2 {
		id := fmt.Sprintf("race-%d", round)
		if _, _, err := s.BeginAttempt(ctx, id, "dead", t0, t0, time.Hour, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		_, seen, err := s.BeginAttempt(ctx, id, "retry", t0, t0.Add(time.Minute), time.Hour, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		claims := make([]Claim, 4)
		for i := range claims {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, _, err := s.TakeOver(ctx, seen, fmt.Sprintf("retry-%d", i), t0.Add(2*time.Minute), time.Hour, 5*time.Second)
				if err != nil {
					t.Errorf("takeover %d: %v", i, err)
				}
				claims[i] = c
			}()
		}
		wg.Wait()
		resumed := 0
		for _, c := range claims {
			if c == Resumed {
				resumed++
			}
		}
		if resumed != 1 {
			t.Errorf("round %d: got claims %v; want exactly one resumed", round, claims)
		}
	}
}
