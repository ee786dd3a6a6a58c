// Package historyapi is the Lambda function behind the history URL: account
// owners read their own account's audit history over HTTPS, authenticated by
// IAM (SigV4); governance readers read any account's.
//
//	GET /history?account=ID&region=R&model=M&since=T&until=T&limit=N&page_token=X
//	GET /latest?account=ID
//
// account defaults to the caller's. The caller's account comes from the
// request context that Lambda filled in after verifying the signature, never
// from a parameter.
package historyapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/history"
)

// EnvReaders lists the governance readers, comma-separated: role ARNs
// (arn:aws:iam::ACCOUNT:role/NAME, any session of the role) or exact
// principal ARNs.
const EnvReaders = "GRANTWATCH_GOVERNANCE_READERS"

// Reader is what the API reads from the history store.
type Reader interface {
	History(ctx context.Context, q history.Query) ([]history.Entry, string, error)
	LatestOf(ctx context.Context, account string) ([]history.Entry, error)
}

var _ Reader = (*history.Store)(nil)

// Handler answers function URL requests.
type Handler struct {
	store   Reader
	readers []string
	logger  *slog.Logger
	now     func() time.Time
	// setupErr is why the function could not start; every request gets a 500 naming it.
	setupErr error
}

// EnvTable names the history table.
const EnvTable = "GRANTWATCH_TABLE"

// FromEnv builds the handler once, outside the handler function, from the
// environment the stack sets.
func FromEnv(ctx context.Context, logger *slog.Logger) *Handler {
	h := &Handler{readers: ReadersFromEnv(), logger: logger, now: time.Now}
	table := os.Getenv(EnvTable)
	if table == "" {
		h.setupErr = fmt.Errorf("%s is not set", EnvTable)
		logger.Error("configuration is invalid", "error", h.setupErr)
		return h
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		h.setupErr = fmt.Errorf("load AWS configuration: %w", err)
		logger.Error("AWS configuration failed", "error", h.setupErr)
		return h
	}
	h.store = history.New(dynamodb.NewFromConfig(awsCfg), table, 0)
	return h
}

// New returns a handler reading store, with the governance readers.
func New(store Reader, readers []string, logger *slog.Logger) *Handler {
	return &Handler{store: store, readers: readers, logger: logger, now: time.Now}
}

// ReadersFromEnv reads EnvReaders.
func ReadersFromEnv() []string {
	var readers []string
	for _, r := range strings.Split(os.Getenv(EnvReaders), ",") {
		if r = strings.TrimSpace(r); r != "" {
			readers = append(readers, r)
		}
	}
	return readers
}

// Response is the JSON body of a successful answer.
type Response struct {
	Account       string          `json:"account"`
	Entries       []history.Entry `json:"entries"`
	NextPageToken string          `json:"next_page_token,omitempty"`
}

// Handle is the Lambda handler.
func (h *Handler) Handle(ctx context.Context, req events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
	if h.setupErr != nil {
		return problem(http.StatusInternalServerError, "grantwatch history cannot run: "+h.setupErr.Error()), nil
	}
	// Only a function URL request is served. The URL's resource policy lets
	// no one else invoke the function directly (lambda:InvokedViaFunctionUrl);
	// a principal of the audit account whose own policy allows
	// lambda:InvokeFunction can still hand it any payload, and is trusted.
	if req.Version != "2.0" || req.RequestContext.HTTP.Method == "" {
		return problem(http.StatusBadRequest, "not a function URL request (payload version 2.0); call the history URL"), nil
	}
	var iam *events.LambdaFunctionURLRequestContextAuthorizerIAMDescription
	if a := req.RequestContext.Authorizer; a != nil {
		iam = a.IAM
	}
	if iam == nil || iam.AccountID == "" {
		return problem(http.StatusForbidden, "this URL needs IAM authentication (SigV4); the request carried no verified caller"), nil
	}
	if caller, err := arn.Parse(iam.UserARN); err != nil || caller.AccountID != iam.AccountID {
		return problem(http.StatusForbidden, fmt.Sprintf("caller %q does not belong to account %s", iam.UserARN, iam.AccountID)), nil
	}
	log := h.logger.With("caller", iam.UserARN, "caller_account", iam.AccountID)
	if m := req.RequestContext.HTTP.Method; m != http.MethodGet {
		return problem(http.StatusMethodNotAllowed, fmt.Sprintf("method %s: only GET is served", m)), nil
	}
	path := req.RequestContext.HTTP.Path
	if path == "" {
		path = req.RawPath
	}
	if path != "/history" && path != "/latest" {
		return problem(http.StatusNotFound, fmt.Sprintf("path %q: want /history or /latest", path)), nil
	}

	p := req.QueryStringParameters
	for k := range p {
		switch k {
		case "account", "region", "model", "since", "until", "limit", "page_token":
		default:
			return problem(http.StatusBadRequest, fmt.Sprintf("unknown parameter %q", k)), nil
		}
	}
	account := p["account"]
	if account == "" {
		account = iam.AccountID
	}
	if !config.ValidAccountID(account) {
		return problem(http.StatusBadRequest, fmt.Sprintf("account %q is not 12 digits", account)), nil
	}
	if account != iam.AccountID && !h.governance(iam.UserARN) {
		log.WarnContext(ctx, "refused a read of another account", "account", account)
		return problem(http.StatusForbidden, fmt.Sprintf("%s may read only account %s", iam.UserARN, iam.AccountID)), nil
	}

	resp := Response{Account: account}
	var err error
	if path == "/latest" {
		resp.Entries, err = h.store.LatestOf(ctx, account)
	} else {
		q, qerr := h.query(account, p)
		if qerr != nil {
			return problem(http.StatusBadRequest, qerr.Error()), nil
		}
		resp.Entries, resp.NextPageToken, err = h.store.History(ctx, q)
	}
	if err != nil {
		if errors.Is(err, history.ErrBadQuery) {
			return problem(http.StatusBadRequest, err.Error()), nil
		}
		log.ErrorContext(ctx, "history read failed", "error", err)
		return problem(http.StatusInternalServerError, "reading the history failed; try again"), nil
	}
	if resp.Entries == nil {
		resp.Entries = []history.Entry{}
	}
	body, err := json.Marshal(resp)
	if err != nil {
		return problem(http.StatusInternalServerError, "encoding the answer failed"), nil
	}
	return events.LambdaFunctionURLResponse{StatusCode: http.StatusOK, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(body)}, nil
}

func (h *Handler) query(account string, p map[string]string) (history.Query, error) {
	q := history.Query{Account: account, Region: p["region"], Model: p["model"], PageToken: p["page_token"]}
	if v := p["limit"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return q, fmt.Errorf("limit %q: want a number from 1 to 1000", v)
		}
		q.Limit = n
	}
	for name, dst := range map[string]*time.Time{"since": &q.Since, "until": &q.Until} {
		v := p[name]
		if v == "" {
			continue
		}
		if d, err := config.ParseDuration(v); err == nil {
			*dst = h.now().Add(-d)
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			if t, err = time.Parse("2006-01-02", v); err != nil {
				return q, fmt.Errorf("%s %q: want a duration back from now (7d) or a date (2026-11-01 or RFC 3339)", name, v)
			}
		}
		*dst = t
	}
	if q.Since.After(h.now()) {
		return q, fmt.Errorf("since %q is in the future", p["since"])
	}
	return q, nil
}

// governance reports whether principal is a governance reader. An assumed
// role session arn:aws:sts::A:assumed-role/NAME/SESSION matches the role
// arn:aws:iam::A:role/[path/]NAME.
func (h *Handler) governance(principal string) bool {
	for _, r := range h.readers {
		if r == principal {
			return true
		}
		account, role, ok := roleOf(r)
		if !ok {
			continue
		}
		parts := strings.Split(principal, ":")
		if len(parts) == 6 && parts[2] == "sts" && parts[4] == account {
			res := strings.Split(parts[5], "/")
			if len(res) == 3 && res[0] == "assumed-role" && res[1] == role {
				return true
			}
		}
	}
	return false
}

func roleOf(arn string) (account, role string, ok bool) {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[2] != "iam" || !strings.HasPrefix(parts[5], "role/") {
		return "", "", false
	}
	path := strings.Split(parts[5], "/")
	return parts[4], path[len(path)-1], true
}

func problem(status int, msg string) events.LambdaFunctionURLResponse {
	body, _ := json.Marshal(map[string]string{"error": msg})
	return events.LambdaFunctionURLResponse{StatusCode: status, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(body)}
}
