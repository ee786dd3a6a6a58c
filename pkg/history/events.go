package history

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/grantwatch/grantwatch/pkg/changes"
	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/result"
)

// Entry is one line of an account's history: a status change of one check
// (or, from LatestOf, a check's current state).
type Entry struct {
	At          time.Time     `dynamodbav:"at" json:"at"`
	RunID       string        `dynamodbav:"run_id" json:"run_id"`
	Account     string        `dynamodbav:"account" json:"account"`
	Region      string        `dynamodbav:"region" json:"region"`
	Model       string        `dynamodbav:"model" json:"model"`
	Principal   string        `dynamodbav:"principal,omitempty" json:"principal,omitempty"`
	Status      result.Status `dynamodbav:"status" json:"status"`
	Previous    result.Status `dynamodbav:"previous,omitempty" json:"previous,omitempty"`
	Cause       string        `dynamodbav:"cause" json:"cause"`
	Remediation string        `dynamodbav:"remediation,omitempty" json:"remediation,omitempty"`
	// Since is set by LatestOf: when the current status began.
	Since time.Time `dynamodbav:"-" json:"since,omitzero"`
}

type eventItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	Type      string `dynamodbav:"type"`
	ExpiresAt int64  `dynamodbav:"expires_at"`
	Entry
	// RemediationZ is a long remediation, raw DEFLATE, in place of
	// Entry.Remediation: see packText.
	RemediationZ []byte `dynamodbav:"rz,omitempty"`
}

// packAt is the remediation length from which an event stores it
// compressed. Remediations name the account, region and model and run to
// 600 bytes; with a cause naming the form of an opt-in region, an event
// of a Marketplace problem passed 1 KB, so it cost two write units (one per
// started KB). DEFLATE takes such a text to about 340 bytes.
const packAt = 256

// packRemediation stores e's remediation compressed when it is long.
func (it *eventItem) packRemediation() {
	if len(it.Remediation) < packAt {
		return
	}
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		return // only for a bad level: the text stays plain
	}
	if _, err := io.WriteString(w, it.Remediation); err != nil || w.Close() != nil || buf.Len() >= len(it.Remediation) {
		return
	}
	it.RemediationZ, it.Remediation = buf.Bytes(), ""
}

// unpack restores a remediation stored compressed; items written before
// (or with a short remediation) hold it plain.
func (it *eventItem) unpack() error {
	if len(it.RemediationZ) == 0 {
		return nil
	}
	text, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(it.RemediationZ)), 4*maxText))
	if err != nil {
		return fmt.Errorf("decompress remediation: %w", err)
	}
	it.Remediation, it.RemediationZ = string(text), nil
	return nil
}

func newEventItem(runID string, e changes.Event, expires int64) eventItem {
	r := e.Result
	it := eventItem{
		PK: "ACCOUNT#" + r.Account, SK: "EVENT#" + formatTime(e.At) + "#" + r.Region + "#" + modelKey(r.Model, r.Principal),
		Type: "EVENT", ExpiresAt: expires,
		Entry: Entry{At: e.At.UTC(), RunID: runID, Account: r.Account, Region: r.Region, Model: r.Model, Principal: r.Principal,
			Status: r.Status, Previous: e.Previous, Cause: capText(r.Cause), Remediation: capText(r.Remediation)},
	}
	it.packRemediation()
	return it
}

// ErrBadQuery marks a query the caller got wrong (account, limit, times,
// page token), as opposed to a failure of DynamoDB.
var ErrBadQuery = errors.New("bad history query")

// Query selects part of one account's history.
type Query struct {
	Account string
	// Region and Model keep only their entries when set.
	Region, Model string
	// Since and Until bound the time range; zero means unbounded.
	Since, Until time.Time
	// Limit is the most entries a page holds (default 50, at most MaxLimit).
	Limit int
	// PageToken continues a previous query.
	PageToken string
}

// MaxLimit is the most entries one page of History holds.
const MaxLimit = 1000

// ParseTime reads a bound of a Query as people write it: a duration back
// from now ("7d", "12h"), a date ("2026-11-01") or an RFC 3339 time. "" is
// no bound.
func ParseTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := config.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{"2006-01-02", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a duration (7d, 12h), a date (2026-11-01) or an RFC 3339 time", s)
}

// History returns one page of an account's history, newest first, and the
// token of the next page ("" on the last).
func (s *Store) History(ctx context.Context, q Query) ([]Entry, string, error) {
	switch {
	case !config.ValidAccountID(q.Account):
		return nil, "", fmt.Errorf("%w: account %q is not 12 digits", ErrBadQuery, q.Account)
	case q.Limit < 0 || q.Limit > MaxLimit:
		return nil, "", fmt.Errorf("%w: limit %d is not between 1 and %d", ErrBadQuery, q.Limit, MaxLimit)
	case !q.Until.IsZero() && q.Until.Before(q.Since):
		return nil, "", fmt.Errorf("%w: until is before since", ErrBadQuery)
	}
	if q.Limit == 0 {
		q.Limit = 50
	}
	start, err := decodeToken(q.PageToken, q.Account)
	if err != nil {
		return nil, "", err
	}
	until := "EVENT#\uffff"
	if !q.Until.IsZero() {
		until = "EVENT#" + formatTime(q.Until) + "\uffff"
	}
	in := &dynamodb.QueryInput{
		TableName:              &s.table,
		KeyConditionExpression: aws.String("pk = :pk AND sk BETWEEN :from AND :to"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":   &types.AttributeValueMemberS{Value: "ACCOUNT#" + q.Account},
			":from": &types.AttributeValueMemberS{Value: "EVENT#" + formatTime(q.Since)},
			":to":   &types.AttributeValueMemberS{Value: until},
		},
		ScanIndexForward: aws.Bool(false),
	}
	if q.Since.IsZero() {
		in.ExpressionAttributeValues[":from"] = &types.AttributeValueMemberS{Value: "EVENT#"}
	}
	// DynamoDB refuses a start key outside the key condition with a
	// ValidationException (ledger: DDB-start-key-in-range): a token of an
	// earlier query with other since/until, or a tampered one, is bad input.
	if start != nil {
		sk := start["sk"].(*types.AttributeValueMemberS).Value
		from := in.ExpressionAttributeValues[":from"].(*types.AttributeValueMemberS).Value
		if sk < from || sk > until {
			return nil, "", fmt.Errorf("%w: the page token lies outside since/until of this query; ask for the first page again", ErrBadQuery)
		}
	}
	var filters []string
	if q.Region != "" {
		filters = append(filters, "#region = :region")
		in.ExpressionAttributeValues[":region"] = &types.AttributeValueMemberS{Value: q.Region}
	}
	if q.Model != "" {
		filters = append(filters, "#model = :model")
		in.ExpressionAttributeValues[":model"] = &types.AttributeValueMemberS{Value: q.Model}
	}
	if len(filters) > 0 {
		in.FilterExpression = aws.String(strings.Join(filters, " AND "))
		in.ExpressionAttributeNames = map[string]string{}
		if q.Region != "" {
			in.ExpressionAttributeNames["#region"] = "region"
		}
		if q.Model != "" {
			in.ExpressionAttributeNames["#model"] = "model"
		}
	}

	// Ask DynamoDB for no more items than the page still needs, so that the
	// last evaluated key is exactly where the page ends.
	var entries []Entry
	for {
		in.ExclusiveStartKey = start
		in.Limit = aws.Int32(int32(q.Limit - len(entries)))
		out, err := s.api.Query(ctx, in)
		var apiErr smithy.APIError
		if err != nil && q.PageToken != "" && errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationException" {
			// The token is the only part of the query a caller writes freely.
			return nil, "", fmt.Errorf("%w: DynamoDB refused the page token as a start key; ask for the first page again", ErrBadQuery)
		}
		if err != nil {
			return nil, "", fmt.Errorf("query history of %s: %w", q.Account, err)
		}
		for _, av := range out.Items {
			var it eventItem
			if err := attributevalue.UnmarshalMap(av, &it); err != nil {
				return nil, "", fmt.Errorf("decode history entry %v: %w", av["sk"], err)
			}
			if err := it.unpack(); err != nil {
				return nil, "", fmt.Errorf("decode history entry %v: %w", av["sk"], err)
			}
			entries = append(entries, it.Entry)
		}
		start = out.LastEvaluatedKey
		if len(start) == 0 || len(entries) >= q.Limit {
			break
		}
	}
	token, err := encodeToken(start)
	return entries, token, err
}

// encodeToken makes DynamoDB's LastEvaluatedKey an opaque page token.
func encodeToken(key map[string]types.AttributeValue) (string, error) {
	if len(key) == 0 {
		return "", nil
	}
	plain := map[string]string{}
	for k, v := range key {
		sv, ok := v.(*types.AttributeValueMemberS)
		if !ok {
			return "", fmt.Errorf("page key %s is not a string", k)
		}
		plain[k] = sv.Value
	}
	b, err := json.Marshal(plain)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// MaxPageTokenBytes bounds a page token: a real one is about 150 bytes, and
// its sort key at most DynamoDB's 1,024 (ledger: DDB-key-size).
const MaxPageTokenBytes = 2048

// maxSortKeyBytes is DynamoDB's limit on a sort key value (ledger: DDB-key-size).
const maxSortKeyBytes = 1024

// decodeToken reads a page token back, refusing one of another account. The
// errors do not echo the token: it may be a megabyte long.
func decodeToken(token, account string) (map[string]types.AttributeValue, error) {
	if token == "" {
		return nil, nil
	}
	if len(token) > MaxPageTokenBytes {
		return nil, fmt.Errorf("%w: the page token is %d bytes; a token is at most %d", ErrBadQuery, len(token), MaxPageTokenBytes)
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	var plain map[string]string
	if err == nil {
		err = json.Unmarshal(b, &plain)
	}
	if err != nil || plain["pk"] != "ACCOUNT#"+account || !strings.HasPrefix(plain["sk"], "EVENT#") || len(plain) != 2 || len(plain["sk"]) > maxSortKeyBytes {
		return nil, fmt.Errorf("%w: the page token is not a token of this account's history", ErrBadQuery)
	}
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: plain["pk"]},
		"sk": &types.AttributeValueMemberS{Value: plain["sk"]},
	}, nil
}
