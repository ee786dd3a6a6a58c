package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
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

// FromEnv builds the handler once, outside the handler function, from the
// environment the stack sets.
func FromEnv(ctx context.Context, logger *slog.Logger) *Handler {
	h := &Handler{readers: config.List(os.Getenv(config.EnvReaders)), logger: logger, now: time.Now}
	table := os.Getenv(config.EnvTable)
	if table == "" {
		h.setupErr = fmt.Errorf("%s is not set", config.EnvTable)
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
		return problem(http.StatusForbidden, fmt.Sprintf("caller %s does not belong to account %.12s", clip(iam.UserARN), iam.AccountID)), nil
	}
	log := h.logger.With("caller", iam.UserARN, "caller_account", iam.AccountID)
	if m := req.RequestContext.HTTP.Method; m != http.MethodGet {
		return problem(http.StatusMethodNotAllowed, fmt.Sprintf("method %s: only GET is served", clip(m))), nil
	}
	path := req.RequestContext.HTTP.Path
	if path == "" {
		path = req.RawPath
	}
	if path != "/history" && path != "/latest" {
		return problem(http.StatusNotFound, fmt.Sprintf("path %s: want /history or /latest", clip(path))), nil
	}

	p := req.QueryStringParameters
	for k, v := range p {
		switch k {
		case "account", "region", "model", "since", "until", "limit", "page_token":
		default:
			return problem(http.StatusBadRequest, fmt.Sprintf("unknown parameter %s", clip(k))), nil
		}
		if limit := maxParamBytes(k); len(v) > limit {
			return problem(http.StatusBadRequest, fmt.Sprintf("parameter %s is %d bytes; at most %d", k, len(v), limit)), nil
		}
	}
	account := p["account"]
	if account == "" {
		account = iam.AccountID
	}
	if !config.ValidAccountID(account) {
		return problem(http.StatusBadRequest, fmt.Sprintf("account %s is not 12 digits", clip(account))), nil
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
		if err != nil || n < 1 || n > history.MaxLimit {
			return q, fmt.Errorf("limit %s: want a number from 1 to %d", clip(v), history.MaxLimit)
		}
		q.Limit = n
	}
	var err error
	if q.Since, err = history.ParseTime(p["since"], h.now()); err != nil {
		return q, fmt.Errorf("since: %w", err)
	}
	if q.Until, err = history.ParseTime(p["until"], h.now()); err != nil {
		return q, fmt.Errorf("until: %w", err)
	}
	if q.Since.After(h.now()) {
		return q, fmt.Errorf("since %s is in the future", clip(p["since"]))
	}
	return q, nil
}

// governance reports whether principal is a governance reader: a reader
// given as a role ARN arn:aws:iam::A:role/[path/]NAME matches every session
// of it, arn:aws:sts::A:assumed-role/NAME/SESSION, in the same partition.
func (h *Handler) governance(principal string) bool {
	if slices.Contains(h.readers, principal) {
		return true
	}
	caller, err := arn.Parse(principal)
	session := strings.Split(caller.Resource, "/")
	if err != nil || caller.Service != "sts" || len(session) != 3 || session[0] != "assumed-role" {
		return false
	}
	for _, r := range h.readers {
		reader, err := arn.Parse(r)
		if err != nil || reader.Service != "iam" || !strings.HasPrefix(reader.Resource, "role/") {
			continue
		}
		role := reader.Resource[strings.LastIndexByte(reader.Resource, '/')+1:]
		if caller.Partition == reader.Partition && caller.AccountID == reader.AccountID && session[1] == role {
			return true
		}
	}
	return false
}

// maxParamBytes bounds each parameter before anything echoes it: a page
// token is at most history.MaxPageTokenBytes, a model id or an ARN 2 KB,
// the others a few dozen bytes.
func maxParamBytes(name string) int {
	switch name {
	case "page_token":
		return history.MaxPageTokenBytes
	case "model":
		return 2048
	}
	return 64
}

// clip quotes a caller's text for an answer, cut to 64 bytes.
func clip(s string) string {
	const n = 64
	if len(s) <= n {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%q... (%d bytes)", s[:n], len(s))
}

func problem(status int, msg string) events.LambdaFunctionURLResponse {
	body, _ := json.Marshal(map[string]string{"error": msg})
	return events.LambdaFunctionURLResponse{StatusCode: status, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(body)}
}
