package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/grantwatch/grantwatch/pkg/history"
)

// dynamoQuery answers Query as DynamoDB does for the start keys below: a
// ValidationException for a sort key over 1,024 bytes (ledger: DDB-key-size)
// and for a start key outside the key condition (ledger:
// DDB-start-key-in-range); otherwise an empty last page.
type dynamoQuery struct {
	history.API // only Query is called
	// refuse answers every start key with a ValidationException, as for a
	// start key DynamoDB finds invalid on grounds the store does not check.
	refuse bool
}

func (d *dynamoQuery) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if k := in.ExclusiveStartKey; k != nil {
		if d.refuse {
			return nil, &smithy.GenericAPIError{Code: "ValidationException", Message: "The provided starting key is invalid"}
		}
		sk := k["sk"].(*types.AttributeValueMemberS).Value
		from := in.ExpressionAttributeValues[":from"].(*types.AttributeValueMemberS).Value
		to := in.ExpressionAttributeValues[":to"].(*types.AttributeValueMemberS).Value
		switch {
		case len(sk) > 1024:
			return nil, &smithy.GenericAPIError{Code: "ValidationException", Message: "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes"}
		case sk < from || sk > to:
			return nil, &smithy.GenericAPIError{Code: "ValidationException", Message: "The provided starting key is outside query boundaries based on provided conditions"}
		}
	}
	return &dynamodb.QueryOutput{}, nil
}

// token forges a page token of account's history with the sort key sk.
func token(account, sk string) string {
	b, _ := json.Marshal(map[string]string{"pk": "ACCOUNT#" + account, "sk": sk})
	return base64.RawURLEncoding.EncodeToString(b)
}

// Bad input answers 400 with a short message, logs no ERROR, and is not
// echoed at length: tampered tokens of the caller's own account, and
// megabyte-long parameters.
func TestHostileRequestsAnswer400Briefly(t *testing.T) {
	const owner, account = "arn:aws:sts::111111111111:assumed-role/Developer/alice", "111111111111"
	huge := strings.Repeat("A", 1<<20)
	tests := []struct {
		name   string
		params map[string]string
		want   string
		refuse bool
	}{
		{"own token with a sort key over DynamoDB's limit", map[string]string{"page_token": token(account, "EVENT#"+strings.Repeat("9", 1100))}, "not a token of this account's history", false},
		{"own token outside since", map[string]string{"since": "2026-11-20", "page_token": token(account, "EVENT#2020-01-01T00:00:00Z#us-east-1#m")}, "outside since/until", false},
		{"own token that DynamoDB refuses", map[string]string{"page_token": token(account, "EVENT#2026-11-01T00:00:00Z#us-east-1#m")}, "DynamoDB refused the page token", true},
		{"a megabyte page token", map[string]string{"page_token": huge}, "page_token is 1048576 bytes; at most 2048", false},
		{"a megabyte parameter name", map[string]string{huge: "x"}, `unknown parameter \"AAAA`, false},
		{"a megabyte since", map[string]string{"since": huge}, "since is 1048576 bytes; at most 64", false},
		{"a megabyte account", map[string]string{"account": huge}, "account is 1048576 bytes; at most 64", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			ddb := &dynamoQuery{refuse: tt.refuse}
			h := New(history.New(ddb, "t", 0), nil, slog.New(slog.NewJSONHandler(&logs, nil)))
			h.now = func() time.Time { return time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC) }
			resp, err := h.Handle(context.Background(), request("GET", "/history", owner, account, tt.params))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 400 || !strings.Contains(resp.Body, tt.want) {
				t.Errorf("got %d %.300s; want 400 with %q", resp.StatusCode, resp.Body, tt.want)
			}
			if len(resp.Body) > 512 {
				t.Errorf("answer: got %d bytes; want at most 512", len(resp.Body))
			}
			if strings.Contains(logs.String(), `"level":"ERROR"`) {
				t.Errorf("logged an ERROR for bad input: %.300s", logs.String())
			}
		})
	}
}
