package check

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/grantwatch/grantwatch/pkg/config"
)

// TestDirectHTTPClientIsTheSDKs sends the same requests through the run's
// HTTP client (tune's, the SDK's BuildableClient) and the direct path's
// (directHTTPClient) and wants the same outcome: the status reached, how
// many requests the server saw (which redirects are followed), and a
// timeout for a server slower than limits.attempt_timeout. And the direct
// client's transport is one net/http knows, so that it bounds a request
// with a context deadline rather than a timer goroutine.
func TestDirectHTTPClientIsTheSDKs(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/301-no-location":
			w.WriteHeader(http.StatusMovedPermanently)
		case "/302":
			w.Header().Set("Location", "/ok")
			w.WriteHeader(http.StatusFound)
		case "/303":
			w.Header().Set("Location", "/ok")
			w.WriteHeader(http.StatusSeeOther)
		case "/307":
			w.Header().Set("Location", "/ok")
			w.WriteHeader(http.StatusTemporaryRedirect)
		case "/308":
			w.Header().Set("Location", "/ok")
			w.WriteHeader(http.StatusPermanentRedirect)
		case "/slow":
			time.Sleep(300 * time.Millisecond)
		}
	}))
	defer srv.Close()
	cfg := &config.Config{}
	cfg.ApplyDefaults()
	cfg.Limits.AttemptTimeout = config.Duration(100 * time.Millisecond)
	sdk := tune(aws.Config{}, cfg.Limits).HTTPClient
	direct := directHTTPClient(sdk)
	c, ok := direct.(*http.Client)
	if !ok {
		t.Fatalf("direct client: got %T; want *http.Client", direct)
	}
	if _, ok := c.Transport.(*http.Transport); !ok {
		t.Errorf("direct client's transport: got %T; want *http.Transport", c.Transport)
	}
	type outcome struct {
		status  int
		hits    int64
		timeout bool
	}
	send := func(client aws.HTTPClient, path string) outcome {
		hits.Store(0)
		method, path, _ := strings.Cut(path, " ")
		if path == "" {
			method, path = http.MethodGet, method
		}
		var body io.Reader
		if method == http.MethodPost {
			body = strings.NewReader("Action=SimulatePrincipalPolicy")
		}
		req, _ := http.NewRequest(method, srv.URL+path, body)
		req.GetBody = nil // as send and sendBodyWithHeaders leave it: a 307 to a POST is an answer
		resp, err := client.Do(req)
		var o outcome
		if err != nil {
			var netErr net.Error
			o.timeout = errors.As(err, &netErr) && netErr.Timeout()
		} else {
			o.status = resp.StatusCode
			_ = resp.Body.Close()
		}
		o.hits = hits.Load()
		return o
	}
	for _, path := range []string{"/ok", "/301-no-location", "/302", "/303", "/307", "/308", "POST /307", "POST /308", "/slow"} {
		got, want := send(direct, path), send(sdk, path)
		if got != want {
			t.Errorf("%s: got %+v on the direct client; want %+v as on the SDK's", path, got, want)
		}
	}
	if got := send(direct, "/slow"); !got.timeout {
		t.Errorf("/slow: got %+v; want a timeout after limits.attempt_timeout", got)
	}
}
