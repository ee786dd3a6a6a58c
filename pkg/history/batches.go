package history

import (
	"context"
	"encoding/json"
	"fmt"
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
}

func batchSK(i int) string { return fmt.Sprintf("BATCH#%05d", i) }

func (s *Store) batchItem(runID string, b Batch, now time.Time) (map[string]types.AttributeValue, error) {
	b.Summary = boundSummary(b.Summary) // ledger: DDB-item-size-400kb
	data, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("marshal batch %d of run %s: %w", b.Index, runID, err)
	}
	return attributevalue.MarshalMap(batchItem{PK: "RUN#" + runID, SK: batchSK(b.Index), Type: "BATCH", Batch: string(data), ExpiresAt: s.expires(now)})
}

// PutBatches records the batches of run runID, replacing any of the same
// numbers.
func (s *Store) PutBatches(ctx context.Context, runID string, batches []Batch, now time.Time) error {
	requests := make([]types.WriteRequest, 0, len(batches))
	for _, b := range batches {
		item, err := s.batchItem(runID, b, now)
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
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "RUN#" + runID},
			"sk": &types.AttributeValueMemberS{Value: batchSK(i)},
		}})
	if err != nil {
		return nil, fmt.Errorf("get batch %d of run %s: %w", i, runID, err)
	}
	if out.Item == nil {
		return nil, fmt.Errorf("run %s has no batch %d", runID, i)
	}
	return decodeBatch(out.Item)
}

// FinishBatch records what batch b found; from then on it is done.
func (s *Store) FinishBatch(ctx context.Context, runID string, b Batch, now time.Time) error {
	b.Done = true
	item, err := s.batchItem(runID, b, now)
	if err != nil {
		return err
	}
	if _, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item}); err != nil {
		return fmt.Errorf("finish batch %d of run %s: %w", b.Index, runID, err)
	}
	return nil
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
	return &b, nil
}
