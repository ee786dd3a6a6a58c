package history

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/grantwatch/grantwatch/pkg/result"
)

// RunState is where a run stands.
type RunState string

// The run states.
const (
	Running    RunState = "RUNNING"
	Complete   RunState = "COMPLETE"
	Incomplete RunState = "INCOMPLETE" // the deadline ended it before every check was done
	Failed     RunState = "FAILED"
)

// MaxAttempts is how many invocations may work on one run before it is marked FAILED.
const MaxAttempts = 3

// Run is a run's record.
type Run struct {
	ID          string          `dynamodbav:"run_id" json:"run_id"`
	State       RunState        `dynamodbav:"state" json:"state"`
	ScheduledAt string          `dynamodbav:"scheduled_at" json:"scheduled_at"`
	StartedAt   string          `dynamodbav:"started_at" json:"started_at"`
	FinishedAt  string          `dynamodbav:"finished_at,omitempty" json:"finished_at,omitempty"`
	Attempts    int             `dynamodbav:"attempts" json:"attempts"`
	Error       string          `dynamodbav:"error,omitempty" json:"error,omitempty"`
	Summary     *result.Summary `dynamodbav:"-" json:"summary,omitempty"`

	// owner identifies the invocation holding the lease until leaseUntil.
	owner      string
	leaseUntil int64
}

type runItem struct {
	PK         string `dynamodbav:"pk"`
	SK         string `dynamodbav:"sk"`
	GSI1PK     string `dynamodbav:"gsi1pk"`
	GSI1SK     string `dynamodbav:"gsi1sk"`
	Type       string `dynamodbav:"type"`
	Owner      string `dynamodbav:"owner"`
	LeaseUntil int64  `dynamodbav:"lease_until"`
	Summary    string `dynamodbav:"summary,omitempty"`
	ExpiresAt  int64  `dynamodbav:"expires_at"`
	Run
}

func runKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "RUN#" + id},
		"sk": &types.AttributeValueMemberS{Value: "RUN"},
	}
}

// Claim says what BeginRun found.
type Claim string

// The claims.
const (
	// Started: a new run; this invocation owns it.
	Started Claim = "started"
	// Resumed: the run's last invocation stopped without finishing and its
	// lease ran out; this invocation owns it now.
	Resumed Claim = "resumed"
	// Done: the run has finished (COMPLETE, INCOMPLETE or FAILED); do nothing.
	Done Claim = "done"
	// Busy: another invocation holds the run's lease; do nothing.
	Busy Claim = "busy"
)

// BeginRun claims run id for lease. A second delivery of the same schedule
// finds the run Done or Busy; an invocation that died leaves a lease that runs
// out, and the next delivery resumes the run, up to MaxAttempts, after which
// the run is marked FAILED. The run is never left RUNNING for good:
// FailStaleRuns ends the runs nobody resumes.
func (s *Store) BeginRun(ctx context.Context, id string, scheduledAt, now time.Time, lease time.Duration) (Claim, *Run, error) {
	return s.ClaimRun(ctx, id, rand.Text(), scheduledAt, now, lease)
}

// ClaimRun is BeginRun for a named owner that may claim the run again: a
// sharded run's owner is its state machine execution, whose retried first
// step finds the run still its own (Resumed) instead of Busy.
func (s *Store) ClaimRun(ctx context.Context, id, owner string, scheduledAt, now time.Time, lease time.Duration) (Claim, *Run, error) {
	run := &Run{ID: id, State: Running, ScheduledAt: formatTime(scheduledAt), StartedAt: formatTime(now), Attempts: 1,
		owner: owner, leaseUntil: now.Add(lease).Unix()}
	item, err := attributevalue.MarshalMap(s.runItem(run, now))
	if err != nil {
		return "", nil, fmt.Errorf("marshal run %s: %w", id, err)
	}
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.table, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	var exists *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return Started, run, nil
	case !errors.As(err, &exists):
		return "", nil, fmt.Errorf("claim run %s: %w", id, err)
	}

	stored, err := s.getRun(ctx, id)
	if err != nil {
		return "", nil, err
	}
	switch {
	case stored.State != Running:
		return Done, stored, nil
	case stored.owner == owner:
		return Resumed, stored, nil
	case stored.leaseUntil > now.Unix():
		return Busy, stored, nil
	case stored.Attempts >= MaxAttempts:
		err := s.finish(ctx, stored, Failed, nil, fmt.Sprintf("gave up after %d attempts that did not finish", stored.Attempts), now, "lease_until = :lease", map[string]types.AttributeValue{
			":lease": &types.AttributeValueMemberN{Value: strconv.FormatInt(stored.leaseUntil, 10)},
		})
		if err != nil && !errors.As(err, &exists) {
			return "", nil, err
		}
		stored.State = Failed
		return Done, stored, nil
	}
	// Take the run over, unless another invocation just did.
	_, err = s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: runKey(id),
		UpdateExpression:    aws.String("SET #owner = :owner, lease_until = :until, attempts = attempts + :one"),
		ConditionExpression: aws.String("lease_until = :old AND #state = :running"),
		ExpressionAttributeNames: map[string]string{
			"#owner": "owner", "#state": "state",
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":owner":   &types.AttributeValueMemberS{Value: owner},
			":until":   &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(lease).Unix(), 10)},
			":one":     &types.AttributeValueMemberN{Value: "1"},
			":old":     &types.AttributeValueMemberN{Value: strconv.FormatInt(stored.leaseUntil, 10)},
			":running": &types.AttributeValueMemberS{Value: string(Running)},
		},
	})
	if errors.As(err, &exists) {
		return Busy, stored, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("resume run %s: %w", id, err)
	}
	stored.owner, stored.leaseUntil, stored.Attempts = owner, now.Add(lease).Unix(), stored.Attempts+1
	return Resumed, stored, nil
}

// OwnedBy reports whether owner holds the run (ClaimRun's owner).
func (r *Run) OwnedBy(owner string) bool { return r.owner == owner }

func (s *Store) runItem(r *Run, now time.Time) runItem {
	return runItem{
		PK: "RUN#" + r.ID, SK: "RUN", GSI1PK: "RUNS", GSI1SK: r.StartedAt + "#" + r.ID, Type: "RUN",
		Owner: r.owner, LeaseUntil: r.leaseUntil, ExpiresAt: s.expires(now), Run: *r,
	}
}

// FinishRun records the end of a run this invocation owns.
func (s *Store) FinishRun(ctx context.Context, r *Run, state RunState, summary *result.Summary, errMsg string, now time.Time) error {
	err := s.finish(ctx, r, state, summary, errMsg, now, "#owner = :owner", map[string]types.AttributeValue{
		":owner": &types.AttributeValueMemberS{Value: r.owner},
	})
	var lost *types.ConditionalCheckFailedException
	if errors.As(err, &lost) {
		return fmt.Errorf("finish run %s: another invocation took the run over", r.ID)
	}
	return err
}

func (s *Store) finish(ctx context.Context, r *Run, state RunState, summary *result.Summary, errMsg string, now time.Time, cond string, values map[string]types.AttributeValue) error {
	var summaryJSON string
	if summary != nil {
		b, err := json.Marshal(summary)
		if err != nil {
			return fmt.Errorf("marshal summary of run %s: %w", r.ID, err)
		}
		summaryJSON = string(b)
	}
	values[":state"] = &types.AttributeValueMemberS{Value: string(state)}
	values[":finished"] = &types.AttributeValueMemberS{Value: formatTime(now)}
	values[":summary"] = &types.AttributeValueMemberS{Value: summaryJSON}
	errMsg = capText(errMsg) // a joined error of thousands of accounts must not outgrow the item
	values[":error"] = &types.AttributeValueMemberS{Value: errMsg}
	values[":expires"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(s.expires(now), 10)}
	names := map[string]string{"#state": "state", "#error": "error"}
	if strings.Contains(cond, "#owner") { // DynamoDB refuses names an expression does not use
		names["#owner"] = "owner"
	}
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: runKey(r.ID),
		UpdateExpression:          aws.String("SET #state = :state, finished_at = :finished, summary = :summary, #error = :error, expires_at = :expires"),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	if err != nil {
		return fmt.Errorf("finish run %s: %w", r.ID, err)
	}
	r.State, r.FinishedAt, r.Error, r.Summary = state, formatTime(now), errMsg, summary
	return nil
}

// GetRun reads one run; it returns nil and no error when there is none.
func (s *Store) GetRun(ctx context.Context, id string) (*Run, error) {
	r, err := s.getRun(ctx, id)
	var missing errNoRun
	if errors.As(err, &missing) {
		return nil, nil
	}
	return r, err
}

type errNoRun string

func (e errNoRun) Error() string { return "no run " + string(e) }

func (s *Store) getRun(ctx context.Context, id string) (*Run, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: runKey(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("get run %s: %w", id, err)
	}
	if out.Item == nil {
		return nil, errNoRun(id)
	}
	return decodeRun(out.Item)
}

func decodeRun(av map[string]types.AttributeValue) (*Run, error) {
	var item runItem
	if err := attributevalue.UnmarshalMap(av, &item); err != nil {
		return nil, fmt.Errorf("decode run item: %w", err)
	}
	r := item.Run
	r.owner, r.leaseUntil = item.Owner, item.LeaseUntil
	if item.Summary != "" {
		r.Summary = &result.Summary{}
		if err := json.Unmarshal([]byte(item.Summary), r.Summary); err != nil {
			return nil, fmt.Errorf("decode summary of run %s: %w", r.ID, err)
		}
	}
	return &r, nil
}

// Runs lists the runs started in [from, to), oldest first.
func (s *Store) Runs(ctx context.Context, from, to time.Time) ([]Run, error) {
	var runs []Run
	pages := dynamodb.NewQueryPaginator(s.api, &dynamodb.QueryInput{
		TableName: &s.table, IndexName: aws.String("gsi1"),
		KeyConditionExpression: aws.String("gsi1pk = :runs AND gsi1sk BETWEEN :from AND :to"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":runs": &types.AttributeValueMemberS{Value: "RUNS"},
			":from": &types.AttributeValueMemberS{Value: formatTime(from)},
			":to":   &types.AttributeValueMemberS{Value: formatTime(to)},
		},
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query runs: %w", err)
		}
		for _, it := range page.Items {
			r, err := decodeRun(it)
			if err != nil {
				return nil, err
			}
			runs = append(runs, *r)
		}
	}
	return runs, nil
}

// ResumeWindow is how long after its lease ran out a run may still be
// resumed by a redelivery of its event: Lambda keeps an asynchronous event for
// at most 6 hours (MaximumEventAgeInSeconds), and the stack sets less.
// ledger: LAM-async-retries
const ResumeWindow = 6 * time.Hour

// ReleaseRun gives up this invocation's lease on a run it could not finish
// (its history could not be written), keeping it RUNNING so that the retry
// of the same event resumes it at once.
func (s *Store) ReleaseRun(ctx context.Context, r *Run, errMsg string, now time.Time) error {
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: runKey(r.ID),
		UpdateExpression:         aws.String("SET lease_until = :now, #error = :error"),
		ConditionExpression:      aws.String("#owner = :owner AND #state = :running"),
		ExpressionAttributeNames: map[string]string{"#owner": "owner", "#state": "state", "#error": "error"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now":     &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Unix(), 10)},
			":error":   &types.AttributeValueMemberS{Value: capText(errMsg)},
			":owner":   &types.AttributeValueMemberS{Value: r.owner},
			":running": &types.AttributeValueMemberS{Value: string(Running)},
		},
	})
	if err != nil {
		return fmt.Errorf("release run %s: %w", r.ID, err)
	}
	r.leaseUntil, r.Error = now.Unix(), capText(errMsg)
	return nil
}

// FailStaleRuns marks FAILED the runs started since `since`, other than
// except, that are still RUNNING with a lease that ran out more than
// ResumeWindow before now: no redelivery can resume them any more. It returns
// how many it marked.
func (s *Store) FailStaleRuns(ctx context.Context, except string, since, now time.Time) (int, error) {
	runs, err := s.Runs(ctx, since, now)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range runs {
		r := &runs[i]
		if r.ID == except || r.State != Running || r.leaseUntil > now.Add(-ResumeWindow).Unix() {
			continue
		}
		err := s.finish(ctx, r, Failed, nil, "the invocation stopped without finishing and no retry resumed it", now, "#state = :running AND lease_until = :lease", map[string]types.AttributeValue{
			":running": &types.AttributeValueMemberS{Value: string(Running)},
			":lease":   &types.AttributeValueMemberN{Value: strconv.FormatInt(r.leaseUntil, 10)},
		})
		var changed *types.ConditionalCheckFailedException
		if errors.As(err, &changed) {
			continue // resumed or finished meanwhile
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
