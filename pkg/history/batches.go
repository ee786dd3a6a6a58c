package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/grantwatch/grantwatch/pkg/changes"
	"github.com/grantwatch/grantwatch/pkg/result"
)

// Batch is one batch of a sharded run: the accounts one child invocation
// audits, stores and alerts for, and, once done, what it found. The run's
// first step writes them all; the state machine hands out their numbers
// only, so its payloads stay small whatever the organization's size.
type Batch struct {
	Index    int            `json:"index"`
	Accounts []BatchAccount `json:"accounts"`
	// Done is set once the batch's results are stored and its alerts sent;
	// a retried batch that finds it set does nothing again.
	Done    bool            `json:"done,omitempty"`
	Summary *result.Summary `json:"summary,omitempty"`
	Tally   changes.Tally   `json:"tally,omitempty"`
	// Published and Unpublished count the batch's alert messages.
	Published   int `json:"published,omitempty"`
	Unpublished int `json:"unpublished,omitempty"`

	// Remediable are the batch's missing agreements the remediation
	// section allows fixing, for the run's Finish to plan and, with
	// remediation.auto, apply; RemediableCut counts those the record had
	// no room for, NotRemediable those the section does not allow.
	Remediable    []RemediableAgreement `json:"remediable,omitempty"`
	RemediableCut int                   `json:"remediable_cut,omitempty"`
	NotRemediable int                   `json:"not_remediable,omitempty"`

	// Closed is set when Finish gave up on the batch; an invocation of it
	// after that does nothing.
	Closed bool `json:"-"`
	// HeldUntil is when the claim of the invocation holding the batch ends
	// (Unix seconds); owner is that invocation.
	HeldUntil int64 `json:"-"`
	owner     string
}

// RemediableAgreement is a missing agreement a batch found: the model's
// agreement in one account, created in Region, and the ids of the checks
// it fixes there; Covers are the account's other regions it was found
// missing in, which the same agreement covers (ledger
// BR-agreement-account-wide).
type RemediableAgreement struct {
	Account string             `json:"a"`
	Region  string             `json:"r"`
	Model   string             `json:"m"`
	Checks  []string           `json:"c,omitempty"`
	Covers  []RemediableRegion `json:"o,omitempty"`
}

// RemediableRegion is a region a RemediableAgreement covers, and the ids
// of the checks it fixes there.
type RemediableRegion struct {
	Region string   `json:"r"`
	Checks []string `json:"c,omitempty"`
}

// maxBatchItem bounds a whole batch item, well under DynamoDB's 400 KB
// (ledger: DDB-item-size-400kb). Its accounts (up to 1,000 with their OU
// paths), bounded summary and tally come first; the missing agreements
// for Finish get what is left, and those with no room are counted in
// RemediableCut (the next run, which finds them still missing, plans them).
const maxBatchItem = 350 << 10

// batchItemFixed is about what a batch item's attributes other than the
// batch's JSON take: the names and values of pk, sk, type, expires_at,
// owner, lease_until and phase (a run id and an owner of up to ~100 bytes
// each), and the digits RemediableCut may gain.
const batchItemFixed = 1 << 10

// fitRemediable keeps of b.Remediable, in order, what fits in maxBatchItem
// beside the rest of b, counting the rest in b.RemediableCut, and returns
// b as stored (JSON). The bytes are counted as stored: each agreement's
// JSON and its comma.
func fitRemediable(b *Batch) ([]byte, error) {
	all := b.Remediable
	b.Remediable = nil
	base, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	if len(base)+batchItemFixed > maxBatchItem && b.Summary != nil {
		// A batch of many accounts deep in OUs, with many alerts and both
		// lists full: its errors and warnings give way (they are the run's
		// too, bounded again there), to a quarter of their bound.
		sum := *b.Summary
		sum.Errors = boundList(sum.Errors, maxListLines/4, maxListBytes/4, maxText)
		sum.Warnings = boundList(sum.Warnings, maxListLines/4, maxListBytes/4, maxText)
		b.Summary = &sum
		if base, err = json.Marshal(b); err != nil {
			return nil, err
		}
	}
	if len(all) == 0 {
		return base, nil
	}
	room := maxBatchItem - batchItemFixed - len(base) - len(`,"remediable":[]`)
	kept := 0
	for _, a := range all {
		enc, err := json.Marshal(a)
		if err != nil {
			return nil, err
		}
		if room -= len(enc) + 1; room < 0 {
			break
		}
		kept++
	}
	b.Remediable, b.RemediableCut = all[:kept:kept], b.RemediableCut+len(all)-kept
	return json.Marshal(b)
}

// BatchAccount is an account as discovered: its id and the OUs above it,
// outermost first (per-OU models and suppressions need them).
type BatchAccount struct {
	ID  string   `json:"id"`
	OUs []string `json:"ous,omitempty"`
}

type batchItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	Type      string `dynamodbav:"type"`
	Batch     string `dynamodbav:"batch"` // the Batch as JSON
	ExpiresAt int64  `dynamodbav:"expires_at"`
	// Owner is the invocation that claimed the batch (ClaimBatch), until
	// LeaseUntil; Phase is set once the batch is done or closed: the
	// conditions of every write read these top-level attributes.
	Owner      string `dynamodbav:"owner,omitempty"`
	LeaseUntil int64  `dynamodbav:"lease_until,omitempty"`
	Phase      string `dynamodbav:"phase,omitempty"`
}

// The phases of a batch that ended.
const (
	phaseDone   = "DONE"   // its invocation stored it and sent its alerts
	phaseClosed = "CLOSED" // Finish gave up on it and recorded its accounts as audit errors
)

func batchSK(i int) string { return fmt.Sprintf("BATCH#%05d", i) }

func batchKey(runID string, i int) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "RUN#" + runID},
		"sk": &types.AttributeValueMemberS{Value: batchSK(i)},
	}
}

func (s *Store) batchItem(runID string, b Batch, owner string, leaseUntil int64, phase string, now time.Time) (map[string]types.AttributeValue, error) {
	b.Summary = boundSummary(b.Summary) // ledger: DDB-item-size-400kb
	data, err := fitRemediable(&b)
	if err != nil {
		return nil, fmt.Errorf("marshal batch %d of run %s: %w", b.Index, runID, err)
	}
	return attributevalue.MarshalMap(batchItem{PK: "RUN#" + runID, SK: batchSK(b.Index), Type: "BATCH", Batch: string(data), ExpiresAt: s.expires(now),
		Owner: owner, LeaseUntil: leaseUntil, Phase: phase})
}

// PutBatches records the batches of run runID, replacing any of the same
// numbers.
func (s *Store) PutBatches(ctx context.Context, runID string, batches []Batch, now time.Time) error {
	requests := make([]types.WriteRequest, 0, len(batches))
	for _, b := range batches {
		item, err := s.batchItem(runID, b, "", 0, "", now)
		if err != nil {
			return err
		}
		requests = append(requests, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
	}
	if err := s.batchWrite(ctx, requests); err != nil {
		return fmt.Errorf("record the batches of run %s: %w", runID, err)
	}
	return nil
}

// GetBatch reads batch i of run runID.
func (s *Store) GetBatch(ctx context.Context, runID string, i int) (*Batch, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, ConsistentRead: aws.Bool(true), Key: batchKey(runID, i)})
	if err != nil {
		return nil, fmt.Errorf("get batch %d of run %s: %w", i, runID, err)
	}
	if out.Item == nil {
		return nil, fmt.Errorf("run %s has no batch %d", runID, i)
	}
	return decodeBatch(out.Item)
}

// ErrBatchLost says that a batch's claim is no longer the caller's:
// another invocation took it over after its lease ran out, or Finish
// closed it. The caller must not record it.
var ErrBatchLost = errors.New("the batch is no longer this invocation's")

// ClaimBatch claims batch i of run runID for owner (one invocation) until
// now+lease, with a conditional write: at most one invocation at a time
// works on a batch, even when Step Functions invokes it twice at once. The
// batch is returned with its claim: Started (this invocation's now),
// Resumed (taken over from an invocation whose lease ran out), Done (done
// before, or closed by Finish: do nothing) or Busy (another invocation
// holds it: Batch.HeldUntil says until when).
func (s *Store) ClaimBatch(ctx context.Context, runID string, i int, owner string, now time.Time, lease time.Duration) (Claim, *Batch, error) {
	out, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: batchKey(runID, i),
		UpdateExpression:         aws.String("SET #owner = :owner, lease_until = :until"),
		ConditionExpression:      aws.String("attribute_exists(pk) AND attribute_not_exists(phase) AND (attribute_not_exists(#owner) OR lease_until < :now)"),
		ExpressionAttributeNames: map[string]string{"#owner": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":owner": &types.AttributeValueMemberS{Value: owner},
			":until": &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(lease).Unix(), 10)},
			":now":   &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Unix(), 10)},
		},
		ReturnValues: types.ReturnValueAllOld,
	})
	var taken *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &taken):
		return s.refusedBatch(ctx, runID, i)
	case err != nil:
		return "", nil, fmt.Errorf("claim batch %d of run %s: %w", i, runID, err)
	}
	b, err := decodeBatch(out.Attributes)
	if err != nil {
		return "", nil, err
	}
	claim := Started
	if b.owner != "" {
		claim = Resumed
	}
	b.owner, b.HeldUntil = owner, now.Add(lease).Unix()
	return claim, b, nil
}

// FinishBatch records what batch b, claimed by ClaimBatch, found; from then
// on it is done. It returns ErrBatchLost when the claim is no longer b's.
func (s *Store) FinishBatch(ctx context.Context, runID string, b Batch, now time.Time) error {
	b.Done = true
	item, err := s.batchItem(runID, b, b.owner, b.HeldUntil, phaseDone, now)
	if err != nil {
		return err
	}
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item,
		ConditionExpression:      aws.String("#owner = :owner AND attribute_not_exists(phase)"),
		ExpressionAttributeNames: map[string]string{"#owner": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":owner": &types.AttributeValueMemberS{Value: b.owner},
		},
	})
	var lost *types.ConditionalCheckFailedException
	if errors.As(err, &lost) {
		return fmt.Errorf("finish batch %d of run %s: %w", b.Index, runID, ErrBatchLost)
	}
	if err != nil {
		return fmt.Errorf("finish batch %d of run %s: %w", b.Index, runID, err)
	}
	return nil
}

// ReleaseBatch gives up the claim of batch b, which its invocation could
// not record (its history could not be written): the state machine's retry
// of the batch claims it at once instead of waiting for the lease.
func (s *Store) ReleaseBatch(ctx context.Context, runID string, b *Batch) error {
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: batchKey(runID, b.Index),
		UpdateExpression:         aws.String("SET lease_until = :zero"),
		ConditionExpression:      aws.String("#owner = :owner AND attribute_not_exists(phase)"),
		ExpressionAttributeNames: map[string]string{"#owner": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":zero":  &types.AttributeValueMemberN{Value: "0"},
			":owner": &types.AttributeValueMemberS{Value: b.owner},
		},
	})
	if err != nil {
		return fmt.Errorf("release batch %d of run %s: %w", b.Index, runID, err)
	}
	b.HeldUntil = 0
	return nil
}

// refusedBatch says what a refused conditional write on batch i met: the
// batch done (or closed) by another invocation, or held by one.
func (s *Store) refusedBatch(ctx context.Context, runID string, i int) (Claim, *Batch, error) {
	b, err := s.GetBatch(ctx, runID, i)
	switch {
	case err != nil:
		return "", nil, err
	case b.Done || b.Closed:
		return Done, b, nil
	}
	return Busy, b, nil
}

// CloseBatch closes batch i of run runID that never finished, for Finish
// (owner, the run's execution): from then on an invocation of the batch
// does nothing. It returns the batch as found: Done when it was done (or
// closed) after all, Busy when an invocation still holds it (until
// HeldUntil), and Started when this call closed it.
func (s *Store) CloseBatch(ctx context.Context, runID string, i int, owner string, now time.Time) (Claim, *Batch, error) {
	out, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: batchKey(runID, i),
		UpdateExpression:         aws.String("SET #owner = :owner, phase = :closed"),
		ConditionExpression:      aws.String("attribute_exists(pk) AND attribute_not_exists(phase) AND (attribute_not_exists(#owner) OR lease_until < :now OR #owner = :owner)"),
		ExpressionAttributeNames: map[string]string{"#owner": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":owner":  &types.AttributeValueMemberS{Value: owner},
			":closed": &types.AttributeValueMemberS{Value: phaseClosed},
			":now":    &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Unix(), 10)},
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	var taken *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &taken):
		return s.refusedBatch(ctx, runID, i)
	case err != nil:
		return "", nil, fmt.Errorf("close batch %d of run %s: %w", i, runID, err)
	}
	b, err := decodeBatch(out.Attributes)
	if err != nil {
		return "", nil, err
	}
	return Started, b, nil
}

// SentAlerts reads what the invocations of batch i have sent: for each
// account, the fingerprint of the alerts its message carried.
func (s *Store) SentAlerts(ctx context.Context, runID string, i int) (map[string]string, error) {
	sent := map[string]string{}
	p := dynamodb.NewQueryPaginator(s.api, &dynamodb.QueryInput{
		TableName:              &s.table,
		ConsistentRead:         aws.Bool(true),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :sent)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":   &types.AttributeValueMemberS{Value: "RUN#" + runID},
			":sent": &types.AttributeValueMemberS{Value: sentSK(i) + "#"},
		},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the alerts batch %d of run %s sent: %w", i, runID, err)
		}
		for _, av := range page.Items {
			var item sentItem
			if err := attributevalue.UnmarshalMap(av, &item); err != nil {
				return nil, fmt.Errorf("decode the alerts batch %d of run %s sent: %w", i, runID, err)
			}
			maps.Copy(sent, item.Sent)
		}
	}
	return sent, nil
}

// maxSentBytes bounds one item of a sent record: Finish's record of the
// accounts of batches that never finished may list every account of the
// organization, more than one item holds (ledger: DDB-item-size-400kb).
const maxSentBytes = 200 << 10

// RecordSent records what batch i has sent (all of it, SentAlerts' and
// the new), before its history is written: a retry of the batch after a
// failure sends only what was not sent. Usually one small item (an
// account id and a fingerprint of 16 characters each); a record of more
// than about 5,000 accounts is split in items of at most maxSentBytes.
func (s *Store) RecordSent(ctx context.Context, runID string, i int, sent map[string]string, now time.Time) error {
	accounts := slices.Sorted(maps.Keys(sent))
	chunk, size, part := map[string]string{}, 0, 0
	put := func() error {
		item, err := attributevalue.MarshalMap(sentItem{PK: "RUN#" + runID, SK: fmt.Sprintf("%s#%04d", sentSK(i), part), Type: "SENT", Sent: chunk, ExpiresAt: s.expires(now)})
		if err != nil {
			return fmt.Errorf("marshal the alerts batch %d of run %s sent: %w", i, runID, err)
		}
		if _, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item}); err != nil {
			return fmt.Errorf("record the alerts batch %d of run %s sent: %w", i, runID, err)
		}
		chunk, size, part = map[string]string{}, 0, part+1
		return nil
	}
	for _, account := range accounts {
		n := len(account) + len(sent[account]) + 8 // a map entry's name, value and overhead
		if size+n > maxSentBytes {
			if err := put(); err != nil {
				return err
			}
		}
		chunk[account] = sent[account]
		size += n
	}
	if len(chunk) > 0 {
		return put()
	}
	return nil
}

type sentItem struct {
	PK        string            `dynamodbav:"pk"`
	SK        string            `dynamodbav:"sk"`
	Type      string            `dynamodbav:"type"`
	Sent      map[string]string `dynamodbav:"sent"`
	ExpiresAt int64             `dynamodbav:"expires_at"`
}

// sentSK names the sent record of batch i; a negative i names Finish's.
// Its items add "#0000", "#0001", ...
func sentSK(i int) string {
	if i < 0 {
		return "SENT#FINISH"
	}
	return fmt.Sprintf("SENT#%05d", i)
}

// Batches reads every batch of run runID, in order.
func (s *Store) Batches(ctx context.Context, runID string) ([]Batch, error) {
	p := dynamodb.NewQueryPaginator(s.api, &dynamodb.QueryInput{
		TableName:              &s.table,
		ConsistentRead:         aws.Bool(true),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :batch)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":    &types.AttributeValueMemberS{Value: "RUN#" + runID},
			":batch": &types.AttributeValueMemberS{Value: "BATCH#"},
		},
	})
	var batches []Batch
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the batches of run %s: %w", runID, err)
		}
		for _, av := range page.Items {
			b, err := decodeBatch(av)
			if err != nil {
				return nil, err
			}
			batches = append(batches, *b)
		}
	}
	return batches, nil
}

func decodeBatch(av map[string]types.AttributeValue) (*Batch, error) {
	var item batchItem
	if err := attributevalue.UnmarshalMap(av, &item); err != nil {
		return nil, fmt.Errorf("decode batch item: %w", err)
	}
	var b Batch
	if err := json.Unmarshal([]byte(item.Batch), &b); err != nil {
		return nil, fmt.Errorf("decode batch %s of %s: %w", item.SK, item.PK, err)
	}
	if want := batchSK(b.Index); want != item.SK {
		return nil, fmt.Errorf("batch item %s of %s: index %s", item.SK, item.PK, strconv.Itoa(b.Index))
	}
	b.owner, b.HeldUntil = item.Owner, item.LeaseUntil
	b.Done = b.Done || item.Phase == phaseDone
	b.Closed = item.Phase == phaseClosed
	return &b, nil
}
