// The run's workers and call slots: every AWS call holds one of the run's
// slots and, for Bedrock, one of its account-region's, with the per-call
// timeout.

package check

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// workers runs do on each item with at most n goroutines, the caller's
// among them, one item at a time, and waits for them; items not started
// when ctx ends are left. Items are taken by index, not handed over a
// channel: no goroutine parks to hand one over, and the caller, whose stack
// has already grown for SDK calls, works instead of waiting.
func workers[T any](ctx context.Context, n int, items []T, do func(T)) {
	var next atomic.Int64
	work := func() {
		for ctx.Err() == nil {
			i := next.Add(1) - 1
			if i >= int64(len(items)) {
				return
			}
			do(items[i])
		}
	}
	var wg sync.WaitGroup
	for range min(n, len(items)) - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
}

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
