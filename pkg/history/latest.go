package history

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/grantwatch/grantwatch/pkg/changes"
	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/result"
)

// ChunkSize is the most models one latest-state item holds.
// ledger: DDB-item-size-400kb
const ChunkSize = 40

// maxText caps a stored cause or remediation, so that item sizes stay bounded.
const maxText = 1000

// AccountRegion names one latest-state record.
type AccountRegion struct{ Account, Region string }

// Snapshot is the latest state of some account-regions, as read by Latest.
type Snapshot struct {
	States map[changes.Key]changes.State
	// chunks is how many items each account-region was stored in.
	chunks map[AccountRegion]int
	// expiresAt is when each account-region's items expire (TTL, Unix).
	expiresAt map[AccountRegion]int64
}

// compact is the state as stored: a usable check's cause and remediation are
// the same generic texts for every check, so they are left out (LatestOf
// says "usable"); the others, the audit error and the suppression's texts
// are capped, so that ChunkSize states fit one item (ledger: DDB-item-size-400kb).
func compact(st changes.State) changes.State {
	if st.Status.Usable() {
		st.Cause, st.Remediation = "", ""
	}
	st.Cause, st.Remediation, st.AuditError = capText(st.Cause), capText(st.Remediation), capText(st.AuditError)
	if m := st.MutedBy; m != nil && (len(m.Reason) > maxText || len(m.Owner) > maxText) {
		st.MutedBy = &result.Suppressed{Reason: capText(m.Reason), Owner: capText(m.Owner), Until: m.Until}
	}
	return st
}

// unchanged reports whether next stores the same as prev but for when it
// was checked: a run need not rewrite an account-region whose every state
// is unchanged (its run record says when it was checked).
func unchanged(prev, next changes.State) bool {
	next = compact(next)
	next.CheckedAt = prev.CheckedAt
	return prev.Status == next.Status && prev.Cause == next.Cause && prev.Remediation == next.Remediation &&
		prev.Since.Equal(next.Since) && prev.Alerted == next.Alerted && prev.AlertedAt.Equal(next.AlertedAt) &&
		prev.ResolvedBefore == next.ResolvedBefore && prev.AuditError == next.AuditError &&
		prev.AuditSince.Equal(next.AuditSince) && prev.AuditAlertedAt.Equal(next.AuditAlertedAt) && prev.Muted == next.Muted &&
		(prev.MutedBy == nil) == (next.MutedBy == nil) && (prev.MutedBy == nil || *prev.MutedBy == *next.MutedBy)
}

// stale reports whether the account-region's items, if not rewritten, would
// expire within half the retention: they are rewritten then, so that a
// state that never changes does not expire.
func (s *Store) stale(snap *Snapshot, ar AccountRegion, at time.Time) bool {
	exp, ok := snap.expiresAt[ar]
	return !ok || time.Unix(exp, 0).Before(at.Add(s.retention/2))
}

// changedOnly keeps the states of the account-regions worth rewriting: a
// state new or changed (when it was checked aside), a model no longer
// required, or items that would otherwise expire. A steady run rewrites
// little: the run's record says when everything was checked.
func (s *Store) changedOnly(prev *Snapshot, states map[changes.Key]changes.State, at time.Time) map[changes.Key]changes.State {
	ar := func(k changes.Key) AccountRegion {
		return AccountRegion{Account: k.Account, Region: k.Region}
	}
	rewrite := map[AccountRegion]bool{}
	for k, st := range states {
		if p, ok := prev.States[k]; !ok || !unchanged(p, st) || s.stale(prev, ar(k), at) {
			rewrite[ar(k)] = true
		}
	}
	for k := range prev.States {
		if _, ok := states[k]; !ok {
			rewrite[ar(k)] = true
		}
	}
	out := make(map[changes.Key]changes.State, len(states))
	for k, st := range states {
		if rewrite[ar(k)] {
			out[k] = st
		}
	}
	return out
}

type latestItem struct {
	PK        string                   `dynamodbav:"pk"`
	SK        string                   `dynamodbav:"sk"`
	Type      string                   `dynamodbav:"type"`
	Account   string                   `dynamodbav:"account"`
	Region    string                   `dynamodbav:"region"`
	Chunk     int                      `dynamodbav:"chunk"`
	Chunks    int                      `dynamodbav:"chunks"`
	RunID     string                   `dynamodbav:"run_id"`
	Models    map[string]changes.State `dynamodbav:"models"`
	ExpiresAt int64                    `dynamodbav:"expires_at"`
}

// zeroTime is how the SDK's encoder writes a zero time.Time: it does not
// leave one out for omitempty, as it is a string, not an empty value.
var zeroTime = time.Time{}.Format(time.RFC3339Nano)

// marshalLatest encodes a latest-state item without the zero times of its
// states (AlertedAt, AuditSince, AuditAlertedAt are zero in most): each
// cost 22 bytes, about a third of a usable state, and pushed an item of five
// states over the 1 KB of one write unit. Decoding a missing time gives the
// same zero time, so items written with them read the same.
func marshalLatest(it latestItem) (map[string]types.AttributeValue, error) {
	av, err := attributevalue.MarshalMap(it)
	if err != nil {
		return nil, err
	}
	if models, ok := av["models"].(*types.AttributeValueMemberM); ok {
		for _, m := range models.Value {
			st, ok := m.(*types.AttributeValueMemberM)
			if !ok {
				continue
			}
			for name, v := range st.Value {
				if s, ok := v.(*types.AttributeValueMemberS); ok && s.Value == zeroTime {
					delete(st.Value, name)
				}
			}
		}
	}
	return av, nil
}

func latestKey(ar AccountRegion, chunk int) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "ACCOUNT#" + ar.Account},
		"sk": &types.AttributeValueMemberS{Value: "LATEST#" + ar.Region + "#" + strconv.Itoa(chunk)},
	}
}

// modelKey names a check inside its account-region: the model id, and for a
// principal's check "#" and the principal (model ids and ARNs have no "#").
func modelKey(model, principal string) string {
	if principal == "" {
		return model
	}
	return model + "#" + principal
}

func splitModelKey(key string) (model, principal string) {
	model, principal, _ = strings.Cut(key, "#")
	return model, principal
}

// Latest reads the latest state of the given account-regions with
// BatchGetItem (100 keys a call), retrying unprocessed keys.
func (s *Store) Latest(ctx context.Context, ars []AccountRegion) (*Snapshot, error) {
	snap := &Snapshot{States: map[changes.Key]changes.State{}, chunks: map[AccountRegion]int{}, expiresAt: map[AccountRegion]int64{}}
	keys := make([]map[string]types.AttributeValue, 0, len(ars))
	for _, ar := range ars {
		keys = append(keys, latestKey(ar, 0))
	}
	var more []map[string]types.AttributeValue // chunks after the first
	add := func(items []map[string]types.AttributeValue) error {
		for _, av := range items {
			var it latestItem
			if err := attributevalue.UnmarshalMap(av, &it); err != nil {
				return fmt.Errorf("decode latest state %v: %w", av["sk"], err)
			}
			ar := AccountRegion{it.Account, it.Region}
			snap.chunks[ar] = max(snap.chunks[ar], it.Chunks)
			if e, ok := snap.expiresAt[ar]; !ok || it.ExpiresAt < e {
				snap.expiresAt[ar] = it.ExpiresAt
			}
			for key, st := range it.Models {
				model, principal := splitModelKey(key)
				snap.States[changes.Key{Account: it.Account, Region: it.Region, Model: model, Principal: principal}] = st
			}
			if it.Chunk == 0 {
				for c := 1; c < it.Chunks; c++ {
					more = append(more, latestKey(ar, c))
				}
			}
		}
		return nil
	}
	if err := s.batchGet(ctx, keys, add); err != nil {
		return nil, err
	}
	if err := s.batchGet(ctx, more, add); err != nil {
		return nil, err
	}
	return snap, nil
}

func (s *Store) batchGet(ctx context.Context, keys []map[string]types.AttributeValue, add func([]map[string]types.AttributeValue) error) error {
	_, err := inBatches(ctx, s, keys, 100, func(ctx context.Context, batch []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
		out, err := s.api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
			RequestItems: map[string]types.KeysAndAttributes{s.table: {Keys: batch, ConsistentRead: aws.Bool(true)}},
		})
		if err != nil {
			return nil, err
		}
		if err := add(out.Responses[s.table]); err != nil {
			return nil, err
		}
		return out.UnprocessedKeys[s.table].Keys, nil
	})
	if err != nil {
		return fmt.Errorf("read latest state: %w", err)
	}
	return nil
}

// save writes the history events, then the latest state of every
// account-region in states, in BatchWriteItem calls of 25. prev is the
// snapshot read before the run, so that chunks no longer needed are deleted.
//
// Events go first: the latest state is what the next run compares with, so
// if it were written and an event not, the change would never be seen again
// and its event never written. A save that fails part way leaves the latest
// state before what it explains, and the next run (or the retry of this one,
// whose events land on the same keys) writes the events again.
// SaveRun stores a run: its events, and the latest state of the
// account-regions worth rewriting (see changedOnly). states is the run's
// whole latest state, by check; prev is the snapshot read before the run.
func (s *Store) SaveRun(ctx context.Context, runID string, at time.Time, prev *Snapshot, states map[changes.Key]changes.State, events []changes.Event) error {
	if prev == nil {
		prev = &Snapshot{}
	}
	return s.save(ctx, runID, at, prev, s.changedOnly(prev, states, at), events)
}

func (s *Store) save(ctx context.Context, runID string, at time.Time, prev *Snapshot, states map[changes.Key]changes.State, events []changes.Event) error {
	requests := make([]types.WriteRequest, 0, len(events)+len(states)/ChunkSize+1)
	for _, e := range events {
		av, err := attributevalue.MarshalMap(newEventItem(runID, e, s.expires(at)))
		if err != nil {
			return fmt.Errorf("marshal event: %w", err)
		}
		requests = append(requests, types.WriteRequest{PutRequest: &types.PutRequest{Item: av}})
	}
	byAR := map[AccountRegion]map[string]changes.State{}
	for k, st := range states {
		ar := AccountRegion{k.Account, k.Region}
		if byAR[ar] == nil {
			byAR[ar] = map[string]changes.State{}
		}
		st = compact(st)
		byAR[ar][modelKey(k.Model, k.Principal)] = st
	}
	ars := slices.SortedFunc(maps.Keys(byAR), func(a, b AccountRegion) int {
		return cmp.Or(strings.Compare(a.Account, b.Account), strings.Compare(a.Region, b.Region))
	})
	for _, ar := range ars {
		models := slices.Sorted(maps.Keys(byAR[ar]))
		chunks := (len(models) + ChunkSize - 1) / ChunkSize
		for c := range chunks {
			it := latestItem{
				PK: "ACCOUNT#" + ar.Account, SK: "LATEST#" + ar.Region + "#" + strconv.Itoa(c), Type: "LATEST",
				Account: ar.Account, Region: ar.Region, Chunk: c, Chunks: chunks, RunID: runID,
				Models: map[string]changes.State{}, ExpiresAt: s.expires(at),
			}
			for _, m := range models[c*ChunkSize : min((c+1)*ChunkSize, len(models))] {
				it.Models[m] = byAR[ar][m]
			}
			av, err := marshalLatest(it)
			if err != nil {
				return fmt.Errorf("marshal latest state %s/%s: %w", ar.Account, ar.Region, err)
			}
			requests = append(requests, types.WriteRequest{PutRequest: &types.PutRequest{Item: av}})
		}
		if prev != nil {
			for c := chunks; c < prev.chunks[ar]; c++ {
				requests = append(requests, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: latestKey(ar, c)}})
			}
		}
	}
	return s.batchWrite(ctx, requests)
}

// batchWrite sends requests 25 at a time; an item that is still
// unprocessed after every attempt fails the whole save, loudly.
func (s *Store) batchWrite(ctx context.Context, requests []types.WriteRequest) error {
	// ledger: DDB-batch-write
	written, err := inBatches(ctx, s, requests, 25, func(ctx context.Context, batch []types.WriteRequest) ([]types.WriteRequest, error) {
		out, err := s.api.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{s.table: batch}})
		if err != nil {
			return nil, err
		}
		return out.UnprocessedItems[s.table], nil
	})
	if err != nil {
		return &PartialSaveError{Written: written, Total: len(requests), Err: err}
	}
	return nil
}

// PartialSaveError is a save that failed after writing Written of its
// Total items (events first, then the latest states): the command line
// says what was stored rather than "nothing".
type PartialSaveError struct {
	Written, Total int
	Err            error
}

func (e *PartialSaveError) Error() string {
	return fmt.Sprintf("write history: %v (%d of %d written)", e.Err, e.Written, e.Total)
}

func (e *PartialSaveError) Unwrap() error { return e.Err }

// inBatches hands items to send size at a time, and hands it again, with
// backoff, what a call left unprocessed (DynamoDB's batch calls do under
// load). It returns how many items were done; items still unprocessed after
// the store's attempts are an error.
func inBatches[T any](ctx context.Context, s *Store, items []T, size int, send func(context.Context, []T) (unprocessed []T, err error)) (done int, err error) {
	for start := 0; start < len(items); start += size {
		pending := items[start:min(start+size, len(items))]
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt >= s.maxAttempts {
				return done, fmt.Errorf("%d items still unprocessed after %d attempts", len(pending), attempt)
			}
			if attempt > 0 {
				if err := sleep(ctx, s.backoff(attempt)); err != nil {
					return done, err
				}
			}
			left, err := send(ctx, pending)
			if err != nil {
				return done, err
			}
			done += len(pending) - len(left)
			pending = left
		}
	}
	return done, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func capText(s string) string { return result.Clip(s, maxText) }

// usableCause stands for the cause a usable check's state leaves out.
func usableCause(st changes.State) string {
	if st.Status.Usable() {
		return "usable at the last check"
	}
	return ""
}

// lastChecked is when the latest finished run since the given time that
// reached account finished; zero when none did.
func (s *Store) lastChecked(ctx context.Context, account string, since time.Time) (time.Time, error) {
	if since.IsZero() {
		return time.Time{}, nil
	}
	runs, err := s.Runs(ctx, since.Add(-time.Hour), since.AddDate(10, 0, 0))
	if err != nil {
		return time.Time{}, err
	}
	var last time.Time
	for _, r := range runs {
		if (r.State != Complete && r.State != Incomplete) || r.Summary == nil || slices.Contains(r.Summary.Unreached, account) {
			continue
		}
		if t, err := time.Parse(time.RFC3339, r.FinishedAt); err == nil && t.After(last) {
			last = t
		}
	}
	return last, nil
}

// LatestOf returns the latest state of every check of one account, sorted by
// region and model; a check's time is when it was last checked.
func (s *Store) LatestOf(ctx context.Context, account string) ([]Entry, error) {
	if !config.ValidAccountID(account) {
		return nil, fmt.Errorf("%w: account %q is not 12 digits", ErrBadQuery, account)
	}
	in := &dynamodb.QueryInput{
		TableName:              &s.table,
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :latest)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: "ACCOUNT#" + account}, ":latest": &types.AttributeValueMemberS{Value: "LATEST#"},
		},
	}
	var entries []Entry
	pages := dynamodb.NewQueryPaginator(s.api, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query latest state: %w", err)
		}
		for _, av := range page.Items {
			var it latestItem
			if err := attributevalue.UnmarshalMap(av, &it); err != nil {
				return nil, fmt.Errorf("decode latest state: %w", err)
			}
			for _, key := range slices.Sorted(maps.Keys(it.Models)) {
				st := it.Models[key]
				m, principal := splitModelKey(key)
				entries = append(entries, Entry{At: st.CheckedAt, RunID: it.RunID, Account: it.Account, Region: it.Region, Model: m, Principal: principal,
					Status: st.Observed(), Cause: cmp.Or(st.AuditError, st.Cause, usableCause(st)), Remediation: st.Remediation, Since: st.Since})
			}
		}
	}
	// A steady run leaves unchanged states as they were stored: the latest
	// finished run that reached the account says when they were checked.
	var oldest time.Time
	for _, e := range entries {
		if oldest.IsZero() || e.At.Before(oldest) {
			oldest = e.At
		}
	}
	if checked, err := s.lastChecked(ctx, account, oldest); err != nil {
		return nil, err
	} else if !checked.IsZero() {
		for i := range entries {
			if entries[i].At.Before(checked) {
				entries[i].At = checked
			}
		}
	}
	slices.SortFunc(entries, func(a, b Entry) int {
		return result.Compare(result.Result{Account: a.Account, Region: a.Region, Model: a.Model, Principal: a.Principal},
			result.Result{Account: b.Account, Region: b.Region, Model: b.Model, Principal: b.Principal})
	})
	return entries, nil
}
