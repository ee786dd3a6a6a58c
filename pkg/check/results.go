// Recording the run's results, with the texts and marks they share.

package check

import (
	"context"
	"log/slog"
	"strings"

	"github.com/grantwatch/grantwatch/pkg/result"
	"github.com/grantwatch/grantwatch/pkg/targets"
)

// intern returns the run's one copy of a text that repeats across accounts.
func (r *run) intern(s string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.causes[s]; ok {
		return c
	}
	r.causes[s] = s
	return s
}

// shared returns the run's one copy of a list of regions: every
// account-region lists the same profiles, and each result keeps its
// profile's destinations; r.mu is held.
func (r *run) shared(regions []string) []string {
	key := strings.Join(regions, ",")
	if s, ok := r.regionLists[key]; ok {
		return s
	}
	r.regionLists[key] = regions
	return regions
}

// offered notes that region lists a model or profile id; r.mu is held.
func (r *run) offered(id, region string) {
	if r.offeredIn[id] == nil {
		r.offeredIn[id] = map[string]bool{}
	}
	r.offeredIn[id][region] = true
}

func (r *run) failAll(ctx context.Context, u targets.Unit, stage Stage, err error) {
	for _, m := range u.Models {
		r.record(ctx, Failed(u.Account, u.Region, m, stage, err))
	}
}

func (r *run) record(ctx context.Context, res result.Result) {
	// Causes repeat across accounts ("...; use-case form: found"): keep one
	// copy of each, as a run holds every result until it ends.
	res.Cause = r.intern(res.Cause)
	r.mu.Lock()
	// Results of one profile route alike: share their marks (copied on
	// write, so a later mark on one result does not touch the others).
	if m := res.Marks; m != nil && !m.Critical && m.Suppressed == nil && m.DestinationRegions != nil {
		key := strings.Join(m.DestinationRegions, ",")
		if shared, ok := r.marks[key]; ok {
			res.Marks = shared
		} else {
			r.marks[key] = m
		}
	}
	r.results = append(r.results, res)
	r.mu.Unlock()
	level := slog.LevelDebug
	switch {
	case res.Status == result.AuditError:
		level = slog.LevelWarn
	case !res.Status.Usable():
		level = slog.LevelInfo
	}
	// Enabled first: the attributes would be boxed for a discarding logger.
	if r.log.Enabled(ctx, level) {
		r.log.Log(ctx, level, "checked", "account", res.Account, "region", res.Region, "model", res.Model, "status", res.Status, "cause", res.Cause)
	}
	if res.Principal != "" {
		return // progress counts the planned checks
	}
	done := int(r.done.Add(1))
	if r.c.progress != nil {
		r.c.progress(done, r.planned)
	}
}
