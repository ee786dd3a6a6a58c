package history

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/grantwatch/grantwatch/pkg/result"
)

// ActionRecord is one remediation action grantwatch fix carried out (or
// tried to): who, when, in which run, what, and how it went.
type ActionRecord struct {
	At      time.Time
	RunID   string
	By      string // the principal that made the call
	Account string
	Region  string
	Model   string // empty for the use-case form
	Action  string // CreateFoundationModelAgreement or PutUseCaseForModelAccess
	Outcome string // done, failed or unknown
	Reason  string
	Offer   string
	// Fixes is the status the action answers (AGREEMENT_MISSING), shown
	// as the entry's previous status; empty for the form.
	Fixes result.Status
}

// ActionStatus is the status column of an action's history entry:
// REMEDIATION_DONE, REMEDIATION_UNKNOWN (a write whose answer was lost
// and whose effect could not be read back) or REMEDIATION_FAILED. It is no
// check status: it marks the entry as an action next to the status changes.
func ActionStatus(outcome string) result.Status {
	switch outcome {
	case "done":
		return "REMEDIATION_DONE"
	case "unknown":
		return "REMEDIATION_UNKNOWN"
	}
	return "REMEDIATION_FAILED"
}

// PutActions stores the actions as entries of their accounts' history,
// among the status changes: History lists both, newest first. They are
// EVENT items, which only History reads; the latest states are kept apart,
// so an action never changes what the next run compares against.
func (s *Store) PutActions(ctx context.Context, recs []ActionRecord) error {
	requests := make([]types.WriteRequest, 0, len(recs))
	for _, r := range recs {
		what := r.Action
		if r.Offer != "" {
			what += " (offer " + r.Offer + ")"
		}
		item := eventItem{
			PK: "ACCOUNT#" + r.Account, SK: "EVENT#" + formatTime(r.At) + "#" + r.Region + "#" + modelKey(r.Model, "") + "#" + r.Action,
			Type: "ACTION", ExpiresAt: s.expires(r.At),
			Entry: Entry{At: r.At.UTC(), RunID: r.RunID, Account: r.Account, Region: r.Region, Model: r.Model,
				Status: ActionStatus(r.Outcome), Previous: r.Fixes, Cause: capText(fmt.Sprintf("%s by %s: %s", what, r.By, r.Reason))},
		}
		av, err := attributevalue.MarshalMap(item)
		if err != nil {
			return fmt.Errorf("encode action: %w", err)
		}
		requests = append(requests, types.WriteRequest{PutRequest: &types.PutRequest{Item: av}})
	}
	return s.batchWrite(ctx, requests)
}
