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
	// beats counts the heartbeats of an attempt that heartbeats
	// (BeginAttempt); zero for one that does not. beatEvery is how often
	// that attempt heartbeats, as it said when it claimed the run.
	beats     int64
	beatEvery time.Duration
	// finisher is the invocation finishing a sharded run (BeginFinish),
	// until finisherUntil (Unix seconds).
	finisher      string
	finisherUntil int64
	// Notified says that a sharded run's digest went out (MarkNotified).
	Notified bool `dynamodbav:"notified,omitempty" json:"-"`
}

type runItem struct {
	PK         string `dynamodbav:"pk"`
	SK         string `dynamodbav:"sk"`
	GSI1PK     string `dynamodbav:"gsi1pk"`
	GSI1SK     string `dynamodbav:"gsi1sk"`
	Type       string `dynamodbav:"type"`
	Owner      string `dynamodbav:"owner"`
	LeaseUntil int64  `dynamodbav:"lease_until"`
	Beats      int64  `dynamodbav:"beats,omitempty"`
	BeatMS     int64  `dynamodbav:"beat_ms,omitempty"`
	Finisher   string `dynamodbav:"finisher,omitempty"`
	FinisherTo int64  `dynamodbav:"finisher_until,omitempty"`
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
	return s.claimRun(ctx, id, rand.Text(), scheduledAt, now, lease, 0)
}

// BeginAttempt is BeginRun for an attempt that heartbeats (Heartbeat)
// every `every` while it holds the run, named attempt (the Lambda request
// id; a random suffix keeps two deliveries with the same id apart). The
// run records the interval, so that a watcher judges the holder's silence
// by the holder's own interval (BeatInterval). A run found Busy whose Beats
// stop advancing may then be taken over before its lease runs out
// (TakeOver): the attempt holding it is gone.
func (s *Store) BeginAttempt(ctx context.Context, id, attempt string, scheduledAt, now time.Time, lease, every time.Duration) (Claim, *Run, error) {
	return s.claimRun(ctx, id, attemptOwner(attempt), scheduledAt, now, lease, max(every, time.Millisecond))
}

func attemptOwner(attempt string) string {
	if attempt == "" {
		return rand.Text()
	}
	return attempt + "/" + rand.Text()[:8]
}

// ClaimRun is BeginRun for a named owner that may claim the run again: a
// sharded run's owner is its state machine execution, whose retried first
// step finds the run still its own (Resumed) instead of Busy.
func (s *Store) ClaimRun(ctx context.Context, id, owner string, scheduledAt, now time.Time, lease time.Duration) (Claim, *Run, error) {
	return s.claimRun(ctx, id, owner, scheduledAt, now, lease, 0)
}

// claimRun claims the run for owner; every is how often owner heartbeats
// (zero: it does not).
func (s *Store) claimRun(ctx context.Context, id, owner string, scheduledAt, now time.Time, lease, every time.Duration) (Claim, *Run, error) {
	var beats int64
	if every > 0 {
		beats = 1
	}
	run := &Run{ID: id, State: Running, ScheduledAt: formatTime(scheduledAt), StartedAt: formatTime(now), Attempts: 1,
		owner: owner, leaseUntil: now.Add(lease).Unix(), beats: beats, beatEvery: every}
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
	}
	return s.takeOver(ctx, stored, owner, now, lease, every)
}

// TakeOver takes over run seen, as read when an attempt found it Busy, for
// attempt: the run's Beats have not advanced since, long enough for its
// attempt to be gone although its lease has not run out (Lambda retries a
// crashed invocation about a minute later; ledger: LAM-async-retries). It
// answers Busy when the run changed meanwhile (it heartbeated, finished or
// was taken over by another), and marks the run FAILED (Done) after
// MaxAttempts.
func (s *Store) TakeOver(ctx context.Context, seen *Run, attempt string, now time.Time, lease, every time.Duration) (Claim, *Run, error) {
	stored := *seen
	return s.takeOver(ctx, &stored, attemptOwner(attempt), now, lease, max(every, time.Millisecond))
}

// takeOver gives stored to owner, which heartbeats every `every` (zero:
// it does not), on condition that nobody changed its lease or heartbeat
// since it was read.
func (s *Store) takeOver(ctx context.Context, stored *Run, owner string, now time.Time, lease, every time.Duration) (Claim, *Run, error) {
	var changed *types.ConditionalCheckFailedException
	unchanged := "#state = :running AND #owner = :old_owner AND lease_until = :old_lease AND "
	if stored.beats > 0 {
		unchanged += "beats = :old_beats"
	} else {
		unchanged += "attribute_not_exists(beats)"
	}
	values := func() map[string]types.AttributeValue {
		v := map[string]types.AttributeValue{
			":running":   &types.AttributeValueMemberS{Value: string(Running)},
			":old_owner": &types.AttributeValueMemberS{Value: stored.owner},
			":old_lease": &types.AttributeValueMemberN{Value: strconv.FormatInt(stored.leaseUntil, 10)},
		}
		if stored.beats > 0 {
			v[":old_beats"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(stored.beats, 10)}
		}
		return v
	}
	if stored.Attempts >= MaxAttempts {
		err := s.finish(ctx, stored, Failed, nil, fmt.Sprintf("gave up after %d attempts that did not finish", stored.Attempts), now, unchanged, values())
		if errors.As(err, &changed) {
			return Busy, stored, nil
		}
		if err != nil {
			return "", nil, err
		}
		return Done, stored, nil
	}
	// Take the run over, unless another invocation just did. The beats go
	// on from the old attempt's, so that whoever watched them sees a change.
	update := "SET #owner = :owner, lease_until = :until, attempts = attempts + :one REMOVE beats, beat_ms"
	v := values()
	v[":owner"] = &types.AttributeValueMemberS{Value: owner}
	v[":until"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(lease).Unix(), 10)}
	v[":one"] = &types.AttributeValueMemberN{Value: "1"}
	next := int64(0)
	if every > 0 {
		next = stored.beats + 1
		update = "SET #owner = :owner, lease_until = :until, attempts = attempts + :one, beats = :beats, beat_ms = :beat_ms"
		v[":beats"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(next, 10)}
		v[":beat_ms"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(every.Milliseconds(), 10)}
	}
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: runKey(stored.ID),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(unchanged),
		ExpressionAttributeNames:  map[string]string{"#owner": "owner", "#state": "state"},
		ExpressionAttributeValues: v,
	})
	if errors.As(err, &changed) {
		return Busy, stored, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("resume run %s: %w", stored.ID, err)
	}
	stored.owner, stored.leaseUntil, stored.Attempts, stored.beats, stored.beatEvery = owner, now.Add(lease).Unix(), stored.Attempts+1, next, every
	return Resumed, stored, nil
}

// ErrLost says that another attempt took the run over: this one must stop.
var ErrLost = errors.New("another attempt took the run over")

// Heartbeat says that the attempt holding r still works on it: it advances
// the run's Beats. It returns ErrLost when the run is no longer r's
// attempt's (taken over, or finished).
func (s *Store) Heartbeat(ctx context.Context, r *Run) error {
	out, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: runKey(r.ID),
		UpdateExpression:         aws.String("ADD beats :one"),
		ConditionExpression:      aws.String("#owner = :owner AND #state = :running"),
		ExpressionAttributeNames: map[string]string{"#owner": "owner", "#state": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one":     &types.AttributeValueMemberN{Value: "1"},
			":owner":   &types.AttributeValueMemberS{Value: r.owner},
			":running": &types.AttributeValueMemberS{Value: string(Running)},
		},
		ReturnValues: types.ReturnValueUpdatedNew,
	})
	var lost *types.ConditionalCheckFailedException
	if errors.As(err, &lost) {
		return fmt.Errorf("heartbeat of run %s: %w", r.ID, ErrLost)
	}
	if err != nil {
		return fmt.Errorf("heartbeat of run %s: %w", r.ID, err)
	}
	if n, ok := out.Attributes["beats"].(*types.AttributeValueMemberN); ok {
		r.beats, _ = strconv.ParseInt(n.Value, 10, 64)
	}
	return nil
}

// Beats counts the heartbeats of the attempt holding the run; zero when it
// does not heartbeat.
func (r *Run) Beats() int64 { return r.beats }

// BeatInterval is how often the attempt holding the run said it heartbeats;
// zero when it does not (or did not say).
func (r *Run) BeatInterval() time.Duration { return r.beatEvery }

// SameHolder reports whether o is the run as r was: the same attempt
// holds it, with the same lease and heartbeats.
func (r *Run) SameHolder(o *Run) bool {
	return o != nil && r.State == o.State && r.owner == o.owner && r.leaseUntil == o.leaseUntil && r.beats == o.beats
}

// OwnedBy reports whether owner holds the run (ClaimRun's owner).
func (r *Run) OwnedBy(owner string) bool { return r.owner == owner }

func (s *Store) runItem(r *Run, now time.Time) runItem {
	return runItem{
		PK: "RUN#" + r.ID, SK: "RUN", GSI1PK: "RUNS", GSI1SK: r.StartedAt + "#" + r.ID, Type: "RUN",
		Owner: r.owner, LeaseUntil: r.leaseUntil, Beats: r.beats, BeatMS: r.beatEvery.Milliseconds(), ExpiresAt: s.expires(now), Run: *r,
	}
}

// FinishRun records the end of a RUNNING run this invocation owns.
func (s *Store) FinishRun(ctx context.Context, r *Run, state RunState, summary *result.Summary, errMsg string, now time.Time) error {
	err := s.finish(ctx, r, state, summary, errMsg, now, "#owner = :owner AND #state = :running", map[string]types.AttributeValue{
		":owner":   &types.AttributeValueMemberS{Value: r.owner},
		":running": &types.AttributeValueMemberS{Value: string(Running)},
	})
	var lost *types.ConditionalCheckFailedException
	if errors.As(err, &lost) {
		return fmt.Errorf("finish run %s: another invocation took the run over, or it finished", r.ID)
	}
	return err
}

// BeginFinish claims the finishing of sharded run r, RUNNING and owned by
// r's owner (its execution), for attempt (one invocation of the Finish
// step) until now+lease: two Finish steps at the same moment cannot both
// send the digest. It answers Busy when another invocation is finishing the
// run, Done when the run is no longer RUNNING or no longer r's owner's, and
// Started or Resumed (the last finishing attempt's lease ran out) with the
// run as it is, whose Notified says whether the run's messages went out.
func (s *Store) BeginFinish(ctx context.Context, r *Run, attempt string, now time.Time, lease time.Duration) (Claim, *Run, error) {
	out, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: runKey(r.ID),
		UpdateExpression:         aws.String("SET finisher = :me, finisher_until = :until"),
		ConditionExpression:      aws.String("#state = :running AND #owner = :owner AND (attribute_not_exists(finisher) OR finisher_until < :now)"),
		ExpressionAttributeNames: map[string]string{"#owner": "owner", "#state": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":me":      &types.AttributeValueMemberS{Value: attempt},
			":until":   &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(lease).Unix(), 10)},
			":now":     &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Unix(), 10)},
			":running": &types.AttributeValueMemberS{Value: string(Running)},
			":owner":   &types.AttributeValueMemberS{Value: r.owner},
		},
		ReturnValues: types.ReturnValueAllOld,
	})
	var taken *types.ConditionalCheckFailedException
	if errors.As(err, &taken) {
		stored, err := s.getRun(ctx, r.ID)
		if err != nil {
			return "", nil, err
		}
		if stored.State != Running || stored.owner != r.owner {
			return Done, stored, nil
		}
		return Busy, stored, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("begin finishing run %s: %w", r.ID, err)
	}
	stored, err := decodeRun(out.Attributes)
	if err != nil {
		return "", nil, err
	}
	claim := Started
	if stored.finisher != "" {
		claim = Resumed
	}
	stored.finisher, stored.finisherUntil = attempt, now.Add(lease).Unix()
	return claim, stored, nil
}

// FinishingUntil is when the claim of the invocation finishing a sharded
// run (BeginFinish) runs out, in Unix seconds; zero when none claimed it.
func (r *Run) FinishingUntil() int64 { return r.finisherUntil }

// ReleaseFinish gives up r's claim of finishing its run (BeginFinish),
// which the invocation could not complete (a write failed): the state
// machine's retry of Finish claims it at once instead of finding it busy
// until the claim runs out.
func (s *Store) ReleaseFinish(ctx context.Context, r *Run) error {
	if err := s.setAsFinisher(ctx, r, "finisher_until", &types.AttributeValueMemberN{Value: "0"}); err != nil {
		return fmt.Errorf("release the finishing of run %s: %w", r.ID, err)
	}
	r.finisherUntil = 0
	return nil
}

// MarkNotified records that the run's own messages (a sharded run's
// digest and failure alert) went out, so that a Finish retried after a
// failure does not send them again.
func (s *Store) MarkNotified(ctx context.Context, r *Run) error {
	if err := s.setAsFinisher(ctx, r, "notified", &types.AttributeValueMemberBOOL{Value: true}); err != nil {
		return fmt.Errorf("note the messages of run %s as sent: %w", r.ID, err)
	}
	r.Notified = true
	return nil
}

// setAsFinisher sets one attribute of r's item while the run is running
// and r's invocation still holds the claim of finishing it (BeginFinish).
func (s *Store) setAsFinisher(ctx context.Context, r *Run, attr string, v types.AttributeValue) error {
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: runKey(r.ID),
		UpdateExpression:         aws.String("SET " + attr + " = :v"),
		ConditionExpression:      aws.String("#state = :running AND finisher = :me"),
		ExpressionAttributeNames: map[string]string{"#state": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":v":       v,
			":running": &types.AttributeValueMemberS{Value: string(Running)},
			":me":      &types.AttributeValueMemberS{Value: r.finisher},
		},
	})
	return err
}

func (s *Store) finish(ctx context.Context, r *Run, state RunState, summary *result.Summary, errMsg string, now time.Time, cond string, values map[string]types.AttributeValue) error {
	var summaryJSON string
	if summary != nil {
		// Thousands of accounts' error lines or unmatched suppressions
		// must not outgrow the item (ledger: DDB-item-size-400kb).
		b, err := json.Marshal(boundSummary(summary))
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
	r.owner, r.leaseUntil, r.beats, r.finisher, r.finisherUntil = item.Owner, item.LeaseUntil, item.Beats, item.Finisher, item.FinisherTo
	r.beatEvery = time.Duration(item.BeatMS) * time.Millisecond
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
