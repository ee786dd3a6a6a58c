package historyurl

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/grantwatch/grantwatch/pkg/history"
)

// session credentials carry a token, as an SSO or assumed-role session does.
var session = aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("ASIAOWNER", "secret", "session-token-of-the-owner")}

func newClient(t *testing.T, url string, opts ...Option) *Client {
	t.Helper()
	c, err := New(url, session, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Each case is a server that would hold, loop or flood a client without
// bounds; the client must stop with an error that says why, quickly.
func TestClientStopsMisbehavingServers(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		max     int
		wantErr string
		timeout time.Duration // per request; 200ms when zero
	}{
		{"hangs before answering", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}, 10, "no complete answer within 200ms", 0},
		{"drips its answer a byte at a time", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			for {
				if _, err := w.Write([]byte(" ")); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}, 10, "no complete answer within 200ms", 0},
		{"alternates two page tokens", func(w http.ResponseWriter, r *http.Request) {
			next := "A"
			if r.URL.Query().Get("page_token") == "A" {
				next = "B"
			}
			fmt.Fprintf(w, `{"entries": [], "next_page_token": %q}`, next)
		}, 10, `next_page_token "A" was seen before`, 0},
		{"hands out new tokens for empty pages for ever", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"entries": [], "next_page_token": "t%s"}`, r.URL.Query().Get("page_token"))
		}, 10, fmt.Sprintf("more than %d pages", MaxPages), 0},
		{"answers more than a function URL can", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"entries": [], "error": "`))
			_, _ = w.Write([]byte(strings.Repeat("x", MaxBodyBytes)))
		}, 10, fmt.Sprintf("larger than %d bytes", MaxBodyBytes), 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			// The test's own bound: a client without bounds fails here instead of hanging.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			timeout := cmp.Or(tt.timeout, 200*time.Millisecond)
			_, _, err := newClient(t, srv.URL, WithRequestTimeout(timeout)).History(ctx, history.Query{}, tt.max)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %v; want an error with %q", err, tt.wantErr)
			}
			if ctx.Err() != nil {
				t.Errorf("the client ran until the test's own 20 s bound")
			}
		})
	}
}

// A redirect to another host is refused before anything is sent there: Go
// would drop Authorization but keep X-Amz-Security-Token.
func TestClientFollowsNoRedirectToAnotherHost(t *testing.T) {
	var reached atomic.Int32
	var token atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		token.Store(r.Header.Get("X-Amz-Security-Token"))
		fmt.Fprint(w, `{"entries": []}`)
	}))
	defer other.Close()
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	defer redirecting.Close()

	_, _, err := newClient(t, redirecting.URL).History(context.Background(), history.Query{}, 10)
	if err == nil || !strings.Contains(err.Error(), "redirect to "+other.URL) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("got %v; want the redirect to %s refused", err, other.URL)
	}
	if n := reached.Load(); n != 0 {
		t.Errorf("other host: got %d requests (session token %q); want none", n, token.Load())
	}
}

// A redirect within the URL's own host is followed, as before.
func TestClientFollowsARedirectWithinItsHost(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/history" {
			http.Redirect(w, r, "/moved", http.StatusFound)
			return
		}
		fmt.Fprint(w, `{"entries": [{"account": "111111111111", "model": "m"}]}`)
	}))
	defer srv.Close()
	entries, _, err := newClient(t, srv.URL).History(context.Background(), history.Query{}, 10)
	if err != nil || len(entries) != 1 {
		t.Errorf("got %d entries, %v; want 1, nil", len(entries), err)
	}
}
