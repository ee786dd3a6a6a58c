package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/result"
)

// fakeReader records the queries it was asked.
type fakeReader struct {
	queries []history.Query
	err     error
}

func (f *fakeReader) History(_ context.Context, q history.Query) ([]history.Entry, string, error) {
	f.queries = append(f.queries, q)
	if f.err != nil {
		return nil, "", f.err
	}
	return []history.Entry{{Account: q.Account, Region: "us-east-1", Model: "m", Status: result.Enabled}}, "next", nil
}

func (f *fakeReader) LatestOf(_ context.Context, account string) ([]history.Entry, error) {
	return []history.Entry{{Account: account, Status: result.NotEntitled}}, nil
}

func request(method, path, callerARN, callerAccount string, params map[string]string) events.LambdaFunctionURLRequest {
	req := events.LambdaFunctionURLRequest{Version: "2.0", RawPath: path, QueryStringParameters: params}
	req.RequestContext.HTTP.Method = method
	req.RequestContext.HTTP.Path = path
	if callerAccount != "" {
		req.RequestContext.Authorizer = &events.LambdaFunctionURLRequestContextAuthorizerDescription{
			IAM: &events.LambdaFunctionURLRequestContextAuthorizerIAMDescription{AccountID: callerAccount, UserARN: callerARN},
		}
	}
	return req
}

func TestHandle(t *testing.T) {
	const owner = "arn:aws:sts::111111111111:assumed-role/Developer/alice"
	readers := []string{"arn:aws:iam::999999999999:role/governance/GovernanceReader", "arn:aws:iam::999999999999:user/auditor"}
	tests := []struct {
		name        string
		req         events.LambdaFunctionURLRequest
		wantStatus  int
		wantBody    string
		wantAccount string // the account queried, when the store is reached
	}{
		{"own account by default", request("GET", "/history", owner, "111111111111", nil), 200, `"next_page_token":"next"`, "111111111111"},
		{"own account named", request("GET", "/history", owner, "111111111111", map[string]string{"account": "111111111111", "region": "us-east-1", "since": "7d", "limit": "20"}), 200, `"account":"111111111111"`, "111111111111"},
		{"another account is refused", request("GET", "/history", owner, "111111111111", map[string]string{"account": "222222222222"}), 403, "may read only account 111111111111", ""},
		{"governance role reads any", request("GET", "/history", "arn:aws:sts::999999999999:assumed-role/GovernanceReader/bob", "999999999999", map[string]string{"account": "222222222222"}), 200, `"account":"222222222222"`, "222222222222"},
		{"governance user reads any", request("GET", "/latest", "arn:aws:iam::999999999999:user/auditor", "999999999999", map[string]string{"account": "222222222222"}), 200, `"NOT_ENTITLED"`, ""},
		{"the role in another partition is no reader", request("GET", "/history", "arn:aws-cn:sts::999999999999:assumed-role/GovernanceReader/bob", "999999999999", map[string]string{"account": "222222222222"}), 403, "may read only", ""},
		{"a role session's own role ARN form is no session", request("GET", "/history", "arn:aws:sts::999999999999:assumed-role/GovernanceReader", "999999999999", map[string]string{"account": "222222222222"}), 403, "may read only", ""},
		{"same role name in another account is no reader", request("GET", "/history", "arn:aws:sts::111111111111:assumed-role/GovernanceReader/eve", "111111111111", map[string]string{"account": "222222222222"}), 403, "may read only", ""},
		{"no IAM caller", request("GET", "/history", "", "", nil), 403, "needs IAM authentication", ""},
		{"wrong method", request("POST", "/history", owner, "111111111111", nil), 405, "only GET", ""},
		{"unknown path", request("GET", "/accounts", owner, "111111111111", nil), 404, `path \"/accounts\"`, ""},
		{"unknown parameter", request("GET", "/history", owner, "111111111111", map[string]string{"acount": "1"}), 400, `unknown parameter \"acount\"`, ""},
		{"bad limit", request("GET", "/history", owner, "111111111111", map[string]string{"limit": "0"}), 400, `limit \"0\"`, ""},
		{"bad since", request("GET", "/history", owner, "111111111111", map[string]string{"since": "last week"}), 400, `since: \"last week\" is not a duration`, ""},
		{"since in the future", request("GET", "/history", owner, "111111111111", map[string]string{"since": "2027-01-01"}), 400, `since \"2027-01-01\" is in the future`, ""},
		{"latest of a malformed account", request("GET", "/latest", "arn:aws:iam::999999999999:user/auditor", "999999999999", map[string]string{"account": "12"}), 400, `account \"12\" is not 12 digits`, ""},
		{"forged caller of another account", request("GET", "/history", "arn:aws:sts::222222222222:assumed-role/Developer/mallory", "111111111111", nil), 403, "does not belong to account 111111111111", ""},
		{"direct invocation, not a URL request", func() events.LambdaFunctionURLRequest {
			r := request("GET", "/history", owner, "111111111111", nil)
			r.Version = ""
			return r
		}(), 400, "not a function URL request", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeReader{}
			h := New(store, readers, slog.New(slog.DiscardHandler))
			h.now = func() time.Time { return time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC) }
			resp, err := h.Handle(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus || !strings.Contains(resp.Body, tt.wantBody) {
				t.Errorf("got %d %s; want %d containing %q", resp.StatusCode, resp.Body, tt.wantStatus, tt.wantBody)
			}
			if !json.Valid([]byte(resp.Body)) {
				t.Errorf("body is not JSON: %s", resp.Body)
			}
			if tt.wantAccount != "" && (len(store.queries) != 1 || store.queries[0].Account != tt.wantAccount) {
				t.Errorf("queries: got %+v; want one for %s", store.queries, tt.wantAccount)
			}
			if tt.wantStatus != 200 && len(store.queries) > 0 {
				t.Errorf("a refused request reached the store: %+v", store.queries)
			}
		})
	}
}

func TestStoreErrors(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
	}{
		{"bad page token is the caller's", fmt.Errorf("%w: page token \"x\" is not a token of this account's history", history.ErrBadQuery), 400},
		{"DynamoDB failure is ours", errors.New("query history of 111111111111: operation error DynamoDB: Query: timeout"), 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New(&fakeReader{err: tt.err}, nil, slog.New(slog.DiscardHandler))
			resp, _ := h.Handle(context.Background(), request("GET", "/history", "arn:aws:sts::111111111111:assumed-role/R/s", "111111111111", nil))
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("got %d %s; want %d", resp.StatusCode, resp.Body, tt.wantStatus)
			}
		})
	}
}
