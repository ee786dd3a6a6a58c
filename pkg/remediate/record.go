package remediate

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/grantwatch/grantwatch/pkg/changes"
	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/notify"
	"github.com/grantwatch/grantwatch/pkg/result"
)

// Publisher sends the remediation messages as grantwatch's alerts go out:
// *notify.Notifier, with its per-call timeout and, with notify.chat, the
// chat formatting (ledger SNS-chat-notification).
type Publisher interface {
	Publish(ctx context.Context, m notify.Message) error
}

var _ Publisher = (*notify.Notifier)(nil)

// carriedOut are the actions that touched AWS: done, failed, or unknown
// (a write that may have taken effect).
func carriedOut(actions []Action) []Action {
	return slices.DeleteFunc(slices.Clone(actions), func(a Action) bool {
		return a.Outcome != Done && a.Outcome != Failed && a.Outcome != Unknown
	})
}

// Records are the history entries of the actions carried out at `at` in
// run runID, each by the session that made it (Action.By: the remediation
// role's, named after the run), else by `by`.
func Records(runID, by string, at time.Time, actions []Action) []history.ActionRecord {
	var out []history.ActionRecord
	for _, a := range carriedOut(actions) {
		r := history.ActionRecord{At: at, RunID: runID, By: cmp.Or(a.By, by), Account: a.Account, Region: a.Region,
			Model: a.Model, Action: a.Action, Outcome: a.Outcome, Reason: a.Reason, Offer: a.Offer}
		if a.Action == CreateAgreement {
			r.Fixes = result.AgreementMissing
		}
		out = append(out, r)
	}
	return out
}

// Messages builds one message per account listing what fix did there,
// with the attributes grantwatch's alerts carry (account_id, event_type
// REMEDIATION, severity, regions) so that the same subscription filter
// policies route them.
func Messages(runID, by string, actions []Action) []notify.Message {
	byAccount := map[string][]Action{}
	for _, a := range carriedOut(actions) {
		byAccount[a.Account] = append(byAccount[a.Account], a)
	}
	var out []notify.Message
	for _, account := range slices.Sorted(maps.Keys(byAccount)) {
		list := byAccount[account]
		done, failed, unknown := 0, 0, 0
		var regions []string
		var b strings.Builder
		fmt.Fprintf(&b, "grantwatch fix acted in account %s (run %s, as %s):\n\n", account, runID, cmp.Or(list[0].By, by))
		for _, a := range list {
			switch a.Outcome {
			case Done:
				done++
			case Unknown:
				unknown++
			default:
				failed++
			}
			if !slices.Contains(regions, a.Region) {
				regions = append(regions, a.Region)
			}
			what := a.Action
			if a.Model != "" {
				what += " " + a.Model
			}
			fmt.Fprintf(&b, "- %s in %s: %s. %s\n", what, a.Region, a.Outcome, a.Reason)
		}
		b.WriteString("\nUndo an agreement with DeleteFoundationModelAgreement (docs/remediation.md).\n")
		severity := result.Info
		if failed+unknown > 0 {
			severity = result.Warning
		}
		subject := fmt.Sprintf("[grantwatch] account %s: remediation, %d done, %d failed", account, done, failed)
		if unknown > 0 {
			subject += fmt.Sprintf(", %d unknown", unknown)
		}
		slices.Sort(regions)
		out = append(out, notify.Message{
			Account: account, Severity: severity, Regions: regions, Part: 1, Of: 1,
			Subject:    subject,
			Body:       b.String(),
			Attributes: notify.Attributes(account, []changes.Kind{"REMEDIATION"}, severity, regions),
		})
	}
	return out
}

// publishConcurrency is how many remediation messages are in flight at
// once: an organization-wide first remediation sends one per account, and
// one at a time they could take the step's whole share of the run's time.
const publishConcurrency = 8

// Publish sends the messages to topic, a few at once; it tries every
// message and reports how many went out and the first failure (in the
// messages' order).
func Publish(ctx context.Context, api Publisher, msgs []notify.Message) (int, error) {
	errs := make([]error, len(msgs))
	slots := make(chan struct{}, publishConcurrency)
	var wg sync.WaitGroup
	for i, m := range msgs {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			if err := api.Publish(ctx, m); err != nil {
				errs[i] = fmt.Errorf("publish remediation message for %s: %w", m.Account, err)
			}
		}()
	}
	wg.Wait()
	sent := 0
	var first error
	for _, err := range errs {
		if err == nil {
			sent++
		} else if first == nil {
			first = err
		}
	}
	return sent, first
}

// Pending counts the actions a plan holds that --apply would carry out.
func Pending(actions []Action) int {
	n := 0
	for _, a := range actions {
		if a.Outcome == Planned {
			n++
		}
	}
	return n
}
