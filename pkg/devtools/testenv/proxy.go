package testenv

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Action is what a Proxy does with one request.
type Action int

// The actions.
const (
	// Pass forwards the request to the stand-in.
	Pass Action = iota
	// Refuse answers 500 InternalServerError without forwarding, as an outage does.
	Refuse
	// Hang accepts the request and never answers, until the caller gives up.
	Hang
)

// Proxy stands between grantwatch and a real local stand-in (dynalite,
// goaws) and injects faults into chosen calls, so that a test can show what
// grantwatch does when DynamoDB or SNS fails part way.
type Proxy struct {
	URL  string
	srv  *httptest.Server
	mu   sync.Mutex
	rule func(op string, n int) Action
	seen map[string]int
}

// NewProxy forwards to target (a stand-in's endpoint) from a loopback port
// until the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{seen: map[string]int{}}
	forward := httputil.NewSingleHostReverseProxy(u)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		op := operation(r, body)
		p.mu.Lock()
		p.seen[op]++
		n, rule := p.seen[op], p.rule
		p.mu.Unlock()
		action := Pass
		if rule != nil {
			action = rule(op, n)
		}
		switch action {
		case Refuse:
			// The JSON protocols' and the query protocol's 500 share the status;
			// the SDK retries it, and a rule that keeps refusing outlasts the retries.
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"injected by the test proxy"}`))
		case Hang:
			<-r.Context().Done()
		default:
			forward.ServeHTTP(w, r)
		}
	}))
	p.URL = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

// operation names a call: the X-Amz-Target operation (DynamoDB), or the
// query protocol's Action (SNS, SQS).
func operation(r *http.Request, body []byte) string {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		return t[strings.LastIndex(t, ".")+1:]
	}
	if form, err := url.ParseQuery(string(body)); err == nil {
		return form.Get("Action")
	}
	return ""
}

// SetRule decides from now on what happens to each request: op is the
// operation's name and n counts that operation's requests, this one included.
func (p *Proxy) SetRule(rule func(op string, n int) Action) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rule = rule
}

// Calls returns how many requests of op the proxy has seen.
func (p *Proxy) Calls(op string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen[op]
}
