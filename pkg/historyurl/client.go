// Package historyurl is the client of grantwatch's history URL: it signs
// each request with the caller's own AWS credentials (SigV4 for the lambda
// service, as Lambda function URLs with IAM authentication require), pages
// through next_page_token and returns the same entries as the DynamoDB
// path, so account owners need neither awscurl nor access to the table.
package historyurl

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/grantwatch/grantwatch/pkg/history"
)

// HTTPDoer is the part of *http.Client the client uses.
type HTTPDoer interface {
	Do(*http.Request) (*http.Response, error)
}

var _ HTTPDoer = (*http.Client)(nil)

// Client reads one history URL.
type Client struct {
	base    *url.URL
	creds   aws.CredentialsProvider
	region  string
	http    HTTPDoer
	signer  *v4.Signer
	now     func() time.Time
	timeout time.Duration
}

// Bounds of one command's conversation with the URL, so that a server that
// hangs, drips bytes, loops its page tokens or answers without end cannot
// hold the client (the command's --timeout bounds the whole).
const (
	// DefaultRequestTimeout bounds one request, its answer read included.
	DefaultRequestTimeout = 30 * time.Second
	// MaxPages bounds the pages one History call follows. Pages may be
	// empty (a filter on region or model reads past entries it drops), so
	// this is far above max / history.MaxLimit.
	MaxPages = 1000
	// MaxBodyBytes bounds one answer: a Lambda function URL answers at most
	// 6 MB (ledger: LAM-url-payload-6mb).
	MaxBodyBytes = 7 << 20
	// maxRedirects bounds redirects within the URL's own host.
	maxRedirects = 3
)

// WithRequestTimeout replaces DefaultRequestTimeout.
func WithRequestTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// httpClient follows no redirect to another host or scheme: Go drops
// Authorization on such a redirect but keeps X-Amz-Security-Token, so the
// caller's session token would go to the other host (ledger:
// PROTO-sigv4-session-token-header). A function URL does not redirect.
func httpClient() *http.Client {
	return &http.Client{CheckRedirect: func(req *http.Request, via []*http.Request) error {
		first := via[0].URL
		if req.URL.Host != first.Host || req.URL.Scheme != first.Scheme {
			return fmt.Errorf("redirect to %s refused: the history URL answers itself, and a signed request is not sent to another host", req.URL.Redacted())
		}
		if len(via) > maxRedirects {
			return fmt.Errorf("more than %d redirects", maxRedirects)
		}
		return nil
	}}
}

// Option changes how New builds a Client.
type Option func(*Client)

// WithHTTPClient replaces the client's own *http.Client, which refuses
// redirects to another host.
func WithHTTPClient(d HTTPDoer) Option { return func(c *Client) { c.http = d } }

// New returns a client for the history URL rawURL (the stack's HistoryUrl
// output), signing with cfg's credentials. The signing region is the URL's
// (https://ID.lambda-url.REGION.on.aws/), else cfg.Region.
func New(rawURL string, cfg aws.Config, opts ...Option) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("history URL %q: want https://ID.lambda-url.REGION.on.aws/", rawURL)
	}
	if cfg.Credentials == nil {
		return nil, errors.New("history URL: no AWS credentials to sign with")
	}
	c := &Client{base: u, creds: cfg.Credentials, region: regionOf(u.Host, cfg.Region), http: httpClient(), signer: v4.NewSigner(), now: time.Now, timeout: DefaultRequestTimeout}
	for _, o := range opts {
		o(c)
	}
	if c.region == "" {
		return nil, fmt.Errorf("history URL %q: no region in the URL and none configured (--region of the AWS configuration, AWS_REGION)", rawURL)
	}
	return c, nil
}

// regionOf reads the region of a function URL host, ID.lambda-url.REGION.on.aws.
func regionOf(host, fallback string) string {
	parts := strings.Split(strings.Split(host, ":")[0], ".")
	if len(parts) >= 5 && parts[1] == "lambda-url" {
		return parts[2]
	}
	return fallback
}

// page is the URL's JSON answer.
type page struct {
	Account       string          `json:"account"`
	Entries       []history.Entry `json:"entries"`
	NextPageToken string          `json:"next_page_token"`
	Error         string          `json:"error"`
}

// History reads the changes of q.Account (empty: the caller's own), newest
// first, up to max entries, following next_page_token; more is set when the
// URL had more than max.
func (c *Client) History(ctx context.Context, q history.Query, max int) (entries []history.Entry, more bool, err error) {
	params := url.Values{}
	set := func(k, v string) {
		if v != "" {
			params.Set(k, v)
		}
	}
	set("account", q.Account)
	set("region", q.Region)
	set("model", q.Model)
	if !q.Since.IsZero() {
		set("since", q.Since.UTC().Format(time.RFC3339))
	}
	if !q.Until.IsZero() {
		set("until", q.Until.UTC().Format(time.RFC3339))
	}
	token := q.PageToken
	seen := map[string]bool{}
	for pages := 0; len(entries) < max; pages++ {
		if pages == MaxPages {
			return entries, false, fmt.Errorf("history URL: more than %d pages for %d entries; stopping", MaxPages, max)
		}
		params.Set("limit", strconv.Itoa(min(max-len(entries), history.MaxLimit)))
		if token != "" {
			params.Set("page_token", token)
		}
		p, err := c.get(ctx, "/history", params)
		if err != nil {
			return entries, false, err
		}
		entries = append(entries, p.Entries...)
		if p.NextPageToken == "" {
			return entries, false, nil
		}
		seen[token] = true
		if seen[p.NextPageToken] {
			return entries, false, fmt.Errorf("history URL: next_page_token %s was seen before; stopping", clip(p.NextPageToken, 40))
		}
		token = p.NextPageToken
	}
	return entries, true, nil
}

// Latest reads the current state of every check of account (empty: the caller's).
func (c *Client) Latest(ctx context.Context, account string) ([]history.Entry, error) {
	params := url.Values{}
	if account != "" {
		params.Set("account", account)
	}
	p, err := c.get(ctx, "/latest", params)
	if err != nil {
		return nil, err
	}
	return p.Entries, nil
}

// emptySHA256 is the payload hash of a GET without a body.
var emptySHA256 = func() string { s := sha256.Sum256(nil); return hex.EncodeToString(s[:]) }()

func (c *Client) get(ctx context.Context, path string, params url.Values) (*page, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = params.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("history URL: %w", err)
	}
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("history URL: AWS credentials: %w", err)
	}
	if err := c.signer.SignHTTP(ctx, creds, req, emptySHA256, "lambda", c.region, c.now()); err != nil {
		return nil, fmt.Errorf("history URL: sign: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("history URL %s: %w", path, c.timedOut(ctx, err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("history URL %s: read answer: %w", path, c.timedOut(ctx, err))
	}
	if len(body) > MaxBodyBytes {
		return nil, fmt.Errorf("history URL %s: the answer is larger than %d bytes; a function URL answers at most 6 MB", path, MaxBodyBytes)
	}
	var p page
	jsonErr := json.Unmarshal(body, &p)
	switch {
	case resp.StatusCode != http.StatusOK && jsonErr == nil && p.Error != "":
		return nil, fmt.Errorf("history URL %s: %d: %s", path, resp.StatusCode, p.Error[:min(len(p.Error), 300)])
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("history URL %s: %d: %s", path, resp.StatusCode, strings.TrimSpace(string(body[:min(len(body), 300)])))
	case jsonErr != nil:
		return nil, fmt.Errorf("history URL %s: the answer is not grantwatch's JSON: %w", path, jsonErr)
	}
	return &p, nil
}

// timedOut names the per-request timeout when it is what ended a request.
func (c *Client) timedOut(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no complete answer within %s (or the command's --timeout): %w", c.timeout, err)
	}
	return err
}

// clip shortens a text from the server for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%q... (%d bytes)", s[:n], len(s))
}
