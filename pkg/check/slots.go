// The run's workers and call slots: every AWS call holds one of the run's
// slots and, for Bedrock, one of its account-region's, with the per-call
// timeout.

package check

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// workers hands items to at most n goroutines of pool that run do, one
// item at a time, and waits for them; items not handed out when ctx ends
// are left.
func workers[T any](ctx context.Context, pool *goPool, n int, items []T, do func(T)) {
	work := make(chan T)
	var wg sync.WaitGroup
	for range min(n, len(items)) {
		pool.Go(&wg, func() {
			for it := range work {
				do(it)
			}
		})
	}
feed:
	for _, it := range items {
		select {
		case work <- it:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
}

// goPool runs functions on goroutines that outlive them: a goroutine that
// finished its function waits for the next one instead of ending. A fresh
// goroutine starts with a small stack, and the SDK's middleware chain is
// deep, so every call on a new goroutine grew and copied its stack several
// times (runtime.newstack was a tenth of the auditor's CPU in
// BenchmarkOrganization); a pooled goroutine keeps the stack it grew. The
// pool is as large as the most functions that ran at once, as plain
// goroutines would be; Close ends its idle goroutines.
type goPool struct {
	tasks chan func()
}

func newGoPool() *goPool { return &goPool{tasks: make(chan func())} }

// Go runs f on an idle goroutine of the pool, or on a new one when none is
// idle, with wg counting it.
func (p *goPool) Go(wg *sync.WaitGroup, f func()) {
	wg.Add(1)
	task := func() {
		defer wg.Done()
		f()
	}
	select {
	case p.tasks <- task:
	default:
		go p.loop(task)
	}
}

func (p *goPool) loop(task func()) {
	for ok := true; ok; task, ok = <-p.tasks {
		task()
	}
}

// Close ends the pool's idle goroutines once their functions are done. No Go
// may follow it.
func (p *goPool) Close() { close(p.tasks) }

// call runs fn holding a slot of its account-region and one of the run, with
// the per-call timeout.
func (r *run) call(ctx context.Context, slots chan struct{}, fn func(context.Context) error) error {
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-slots }()
	return r.withCallSlot(ctx, fn)
}

func (r *run) withCallSlot(ctx context.Context, fn func(context.Context) error) error {
	select {
	case r.calls <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-r.calls }()
	ctx, cancel := context.WithTimeout(ctx, r.c.cfg.Limits.CallTimeout.Std())
	defer cancel()
	return fn(ctx)
}

// slottedIAM makes every IAM call take a call slot, with the call timeout,
// as Bedrock calls do.
type slottedIAM struct {
	r   *run
	api IAMAPI
}

func (s slottedIAM) SimulatePrincipalPolicy(ctx context.Context, in *iam.SimulatePrincipalPolicyInput, optFns ...func(*iam.Options)) (out *iam.SimulatePrincipalPolicyOutput, err error) {
	err = s.r.withCallSlot(ctx, func(ctx context.Context) (err error) {
		out, err = s.api.SimulatePrincipalPolicy(ctx, in, optFns...)
		return err
	})
	return out, err
}

func (s slottedIAM) ListRoles(ctx context.Context, in *iam.ListRolesInput, optFns ...func(*iam.Options)) (out *iam.ListRolesOutput, err error) {
	err = s.r.withCallSlot(ctx, func(ctx context.Context) (err error) {
		out, err = s.api.ListRoles(ctx, in, optFns...)
		return err
	})
	return out, err
}

func (s slottedIAM) ListRoleTags(ctx context.Context, in *iam.ListRoleTagsInput, optFns ...func(*iam.Options)) (out *iam.ListRoleTagsOutput, err error) {
	err = s.r.withCallSlot(ctx, func(ctx context.Context) (err error) {
		out, err = s.api.ListRoleTags(ctx, in, optFns...)
		return err
	})
	return out, err
}
