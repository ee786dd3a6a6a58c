package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/grantwatch/grantwatch/pkg/devtools/awssim"
	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/historyurl"
	"github.com/grantwatch/grantwatch/pkg/result"
)

// pagedReader answers History in pages of one entry, three pages in all.
type pagedReader struct{ queries []history.Query }

func (p *pagedReader) History(_ context.Context, q history.Query) ([]history.Entry, string, error) {
	p.queries = append(p.queries, q)
	n := len(p.queries)
	next := ""
	if n < 3 {
		next = "page-" + string(rune('0'+n))
	}
	return []history.Entry{{Account: q.Account, Region: "us-east-1", Model: "m" + string(rune('0'+n)), Status: result.Enabled}}, next, nil
}

func (p *pagedReader) LatestOf(_ context.Context, account string) ([]history.Entry, error) {
	return []history.Entry{{Account: account, Model: "m", Status: result.NotEntitled}}, nil
}

// functionURL stands in for the Lambda function URL: it verifies the SigV4
// signature with the simulator's verifier (service lambda), as the URL's IAM
// authentication does, and hands the handler the request as a function URL
// event with the verified caller.
func functionURL(t *testing.T, h *Handler, keys map[string]string, callers map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		key, _, err := awssim.VerifySignature(r, body, "lambda", func(k string) (string, string, bool) {
			s, ok := keys[k]
			return s, "", ok
		})
		if err != nil {
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"Message":"Forbidden"}`)
			return
		}
		params := map[string]string{}
		for k, v := range r.URL.Query() {
			params[k] = v[0]
		}
		caller := callers[key]
		event := request(r.Method, r.URL.Path, caller, strings.Split(caller, ":")[4], params)
		resp, err := h.Handle(r.Context(), event)
		if err != nil {
			t.Errorf("Handle: %v", err)
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.WriteString(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestSignedClientPagesThroughTheHandler(t *testing.T) {
	store := &pagedReader{}
	h := New(store, nil, slog.New(slog.DiscardHandler))
	keys := map[string]string{"AKIAOWNER": "owner-secret"}
	callers := map[string]string{"AKIAOWNER": "arn:aws:sts::111111111111:assumed-role/Developer/alice"}
	srv := functionURL(t, h, keys, callers)
	cfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIAOWNER", "owner-secret", "")}
	client, err := historyurl.New(srv.URL, cfg)
	if err != nil {
		t.Fatal(err)
	}
	entries, more, err := client.History(context.Background(), history.Query{Region: "us-east-1"}, 10)
	if err != nil {
		t.Fatal(err)
	}
	var models []string
	for _, e := range entries {
		models = append(models, e.Model)
	}
	if strings.Join(models, ",") != "m1,m2,m3" || more {
		t.Errorf("entries: got %v (more %v); want m1,m2,m3 from three pages", models, more)
	}
	if len(store.queries) != 3 || store.queries[1].PageToken != "page-1" || store.queries[2].PageToken != "page-2" || store.queries[0].Region != "us-east-1" {
		t.Errorf("queries: got %+v; want three, each with the previous page's token", store.queries)
	}
	if store.queries[0].Account != "111111111111" {
		t.Errorf("account: got %q; want the signed caller's", store.queries[0].Account)
	}
	store.queries = nil
	entries, more, err = client.History(context.Background(), history.Query{}, 2)
	if err != nil || len(entries) != 2 || !more {
		t.Errorf("a limit of 2: got %d entries, more %v, %v; want 2 and more", len(entries), more, err)
	}
	latest, err := client.Latest(context.Background(), "")
	if err != nil || len(latest) != 1 || latest[0].Status != result.NotEntitled {
		t.Errorf("latest: got %+v, %v", latest, err)
	}

	t.Run("another account without being a governance reader", func(t *testing.T) {
		_, _, err := client.History(context.Background(), history.Query{Account: "222222222222"}, 10)
		if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "may read only account 111111111111") {
			t.Errorf("got %v; want the handler's 403 with its reason", err)
		}
	})
	t.Run("a wrong secret fails the signature", func(t *testing.T) {
		bad, err := historyurl.New(srv.URL, aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIAOWNER", "guess", "")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bad.Latest(context.Background(), ""); err == nil || !strings.Contains(err.Error(), "403") {
			t.Errorf("got %v; want 403", err)
		}
	})
}

func TestSigningRegionFromTheURL(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, got, _ = awssim.VerifySignature(r, nil, "lambda", func(string) (string, string, bool) { return "s", "", true })
		_, _ = io.WriteString(w, `{"account":"111111111111","entries":[]}`)
	}))
	defer srv.Close()
	// The function URL's host names its region; the request goes to the
	// test server, with the URL's Host header.
	client, err := historyurl.New("https://abcdefghij.lambda-url.ap-southeast-2.on.aws/", aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIA", "s", "")},
		historyurl.WithHTTPClient(redirect{srv.URL}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Latest(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	if got != "ap-southeast-2" {
		t.Errorf("signing region: got %q; want the URL's ap-southeast-2", got)
	}
}

// redirect sends every request to a local server, keeping its Host.
type redirect struct{ to string }

func (r redirect) Do(req *http.Request) (*http.Response, error) {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host = "http", strings.TrimPrefix(r.to, "http://")
	out.Host = host
	out.RequestURI = ""
	return http.DefaultTransport.RoundTrip(out)
}
