// A direct path for the run's two most frequent calls (issue 22):
// GetFoundationModelAvailability (five per account-region) and
// SimulatePrincipalPolicy (eighty per account) are most of an audit's calls,
// and the SDK spends more CPU on its per-call middleware stack (about
// thirty handlers, each a frame and allocations, and a goroutine stack that
// grows through them) than on the request itself. The direct path sends the
// very request the SDK sends, without the stack:
//
//   - It is learned, not written: the first call of each operation from a
//     client configuration (the region) goes through the SDK, and what the
//     SDK sent is kept as the template: the URL up to the operation's own
//     path, every header (User-Agent, Amz-Sdk-Request, Content-Type, ...)
//     and the signing name and region of its SigV4 scope. A later call
//     copies the template, sets a new invocation id (as the SDK's
//     ClientRequestID does) and is signed as the SDK's SigV4 signer signs
//     it (lean_sign.go), with the client's credentials, through an HTTP client with the SDK's timeout and
//     redirect rule (directHTTPClient). TestDirectRequestsAreTheSDKs
//     compares both requests; the simulator checks every signature.
//   - Only an HTTP 200 answer in the exact shape the direct decoder knows is
//     decoded here. Anything else (a transport error, another status, an
//     answer it does not recognise) is handed to the SDK as the answer to
//     its first attempt (replayFirst), so errors, their codes, retries,
//     backoff and the clock-skew correction are the SDK's, and no request
//     is sent twice; but when the SDK's client has corrected its clock
//     already, it signs at another time than the direct request was, and
//     its own request goes out (replayFirst).
//   - A configuration with its own APIOptions, Interceptors,
//     ServiceOptions or a ClientLogMode (they act on the SDK's stack
//     only), a call with per-call options, a client
//     that does not sign with SigV4
//     (a Bedrock API key), or an answer handed to the SDK whose Date is
//     more than the SDK's skew threshold away from the local clock turns
//     the direct path off: from then on the SDK does everything. (An answer
//     decoded here is not checked: AWS took the request, signed on the
//     local clock, so the skew is within its window.)
//   - The templates are the Checker's, one per operation and region, and
//     serve every account's client there: those differ only in their
//     credentials, and the user agent's credential features come from the
//     provider's type, the same for every account (run.assume).
//
// The output's ResultMetadata stays empty on the direct path; nothing in
// grantwatch reads it (request ids are read from errors, which the SDK
// makes). ledger: PROTO-sdk-direct-path

package check

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go/middleware"
	smithyrand "github.com/aws/smithy-go/rand"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// skewThreshold is the SDK's: beyond it, it takes a signature error for
// clock skew (aws/retry's skewThreshold, v1.48). ledger: PROTO-clock-skew
const skewThreshold = 4 * time.Minute

// maxDirectAnswer bounds the answer the direct path reads into memory; a
// longer one is handed to the SDK whole. A simulation answer for a round's
// resources and actions is tens of kilobytes.
const maxDirectAnswer = 4 << 20

// directState is one Checker's direct path, shared by all its clients:
// the templates learned so far and the switch that turns it off.
type directState struct {
	templates sync.Map // templateKey -> *template (nil: the SDK's request did not fit)
	off       atomic.Bool
	// sent and decoded count direct requests and the answers decoded here
	// (the others went to the SDK): tests read them.
	sent, decoded atomic.Int64
	// strs is the decoders' one copy of each string (lean_json.go).
	strs *interner
}

func newDirectState() *directState { return &directState{strs: newInterner()} }

type templateKey struct{ op, region string }

// template is what the SDK sent for one operation from one client
// configuration, less the per-call parts.
type template struct {
	method        string
	base          string      // scheme, host and the endpoint's own path
	header        http.Header // without Authorization, X-Amz-Date, X-Amz-Security-Token, Amz-Sdk-Invocation-Id
	signingName   string
	signingRegion string
	// plan signs with the template's headers in canonical form
	// (lean_sign.go); nil: the SDK's signer signs.
	plan *signPlan
}

// perCallHeaders are the headers each request gets anew: the signature's,
// the invocation id and, in Lambda, the invocation's trace id.
var perCallHeaders = []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "Amz-Sdk-Invocation-Id", "Content-Length", "X-Amzn-Trace-Id"}

// labelled are the operations whose path carries a label of the input.
var labelled = map[string]bool{opAvailability: true}

// templateOf reads a template from the SDK's first attempt at op, whose
// own path (escaped) is suffix. It returns nil when the request is not the
// SigV4-signed shape the direct path can copy.
func templateOf(req *http.Request, op, suffix string) *template {
	if !strings.HasPrefix(req.Header.Get("Amz-Sdk-Request"), "attempt=1;") || req.Host != "" || req.URL.User != nil || req.URL.Fragment != "" {
		return nil
	}
	// The query is each call's own (and the signer rewrites it in place).
	base, ok := strings.CutSuffix(req.URL.EscapedPath(), suffix)
	if !ok {
		return nil
	}
	// net/http sends the SDK's raw path (the endpoint's path, then the
	// escaped label) only when it is a valid encoding of the whole path.
	// Behind an endpoint path it cannot take (a space in it, say) net/http
	// escapes the path itself, the label too: a label it escapes otherwise
	// (":" it leaves as is) would go out unlike the SDK's.
	if labelled[op] && req.URL.RawPath != req.URL.EscapedPath() {
		return nil
	}
	// Credential=AKID/yyyymmdd/region/service/aws4_request
	const algorithm = "AWS4-HMAC-SHA256 Credential="
	auth := req.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, algorithm)
	if !ok {
		return nil
	}
	scope, _, _ := strings.Cut(rest, ",")
	parts := strings.Split(scope, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" || parts[2] == "" || parts[3] == "" {
		return nil
	}
	h := req.Header.Clone()
	for _, k := range perCallHeaders {
		delete(h, k)
	}
	// The retry middleware appends "; ttl=" (the call's deadline, moved by
	// the clock skew its client measured) when that skew is ahead: the
	// learning call's own. The direct request is signed on the local
	// clock, an attempt without skew, for which the SDK sends none.
	if v, _, ok := strings.Cut(h.Get("Amz-Sdk-Request"), "; ttl="); ok {
		h.Set("Amz-Sdk-Request", v)
	}
	t := &template{
		method: req.Method, base: req.URL.Scheme + "://" + req.URL.Host + base, header: h,
		signingRegion: parts[2], signingName: parts[3],
	}
	if p, ok := planOf(h); ok {
		t.plan = p
	}
	return t
}

// direct is one client's direct path.
type direct struct {
	state  *directState
	region string // the client's region: templates are per region
	http   aws.HTTPClient
	creds  aws.CredentialsProvider
	// signer is the client's own, as each SDK client has one: its cache
	// keeps one derived signing key per service and region, for one
	// access key, so a signer shared by the accounts would derive the key
	// again on every call.
	signer *v4.Signer
	keys   keyCache
}

// directHTTPClient is the direct requests' HTTP client, made from the
// run's (sdk, as tune makes it): the *http.Client the SDK's BuildableClient
// builds (Freeze: the attempt timeout and the SDK's redirect rule, which
// follows only 307 and 308), over a transport of the same settings
// (GetTransport), without the SDK's transport wrapper. net/http bounds a
// request to a transport it knows with a context deadline; through any
// other RoundTripper it arms a second timer, two channels and a goroutine
// per request (net/http client.go setRequestCancel, knownRoundTripperImpl:
// 5% of the audit's CPU). The wrapper only adds a stand-in Location to a
// 301 or 302 that has none (S3's), which net/http then returns as it is
// and the redirect rule would not follow anyway; such an answer is handed
// to the SDK, whose error reads no Location. A timeout reads "context
// deadline exceeded (Client.Timeout exceeded ...)" instead of "request
// canceled (Client.Timeout exceeded ...)", a *url.Error whose Timeout() is
// true either way (ledger: PROTO-sdk-direct-path). Any other client, or one
// with the SDK's opt-in read timeout, is used as it is.
func directHTTPClient(sdk aws.HTTPClient) aws.HTTPClient {
	s, ok := sdk.(sendBodyWithHeaders)
	if !ok {
		return sdk
	}
	b, ok := s.next.(*awshttp.BuildableClient)
	if !ok {
		return s.next
	}
	if d, ok := b.GetReadTimeout(); ok && d > 0 {
		return s.next
	}
	frozen, ok := b.Freeze().(*http.Client)
	if !ok {
		return s.next
	}
	return &http.Client{Timeout: frozen.Timeout, CheckRedirect: frozen.CheckRedirect, Transport: b.GetTransport()}
}

// client is one client's direct path; http is directHTTPClient's (a
// direct request's body is already a bytes.Reader, so it goes without
// sendBodyWithHeaders' copy).
func (s *directState) client(region string, http aws.HTTPClient, creds aws.CredentialsProvider) *direct {
	return &direct{state: s, region: region, http: http, creds: creds, signer: v4.NewSigner()}
}

// template returns the operation's template, or nil (with learn true when
// the SDK's next request should be learned from).
func (d *direct) template(op string) (t *template, learn bool) {
	if d == nil || d.state.off.Load() {
		return nil, false
	}
	v, ok := d.state.templates.Load(templateKey{op, d.region})
	if !ok {
		return nil, true
	}
	return v.(*template), false
}

// directCall makes one call of op on the direct path: through the SDK (sdk)
// while the operation has no template, learning one from the SDK's
// request; else a direct request, whose HTTP 200 answer decode takes, or
// which the SDK meets as its first attempt's answer. path is the
// operation's own path (escaped), query its query, body its request body;
// wrap replaces the HTTP client in the SDK's options with what it makes of
// the client there.
func directCall[Out, Opts any](ctx context.Context, d *direct, op, path, query string, body []byte,
	decode func([]byte) (Out, error), sdk func(...func(*Opts)) (Out, error), wrap func(*Opts, func(aws.HTTPClient) aws.HTTPClient)) (Out, error) {
	t, learn := d.template(op)
	if t == nil {
		if !learn {
			return sdk()
		}
		return sdk(func(o *Opts) {
			wrap(o, func(next aws.HTTPClient) aws.HTTPClient { return &learner{next: next, d: d, op: op, suffix: path} })
		})
	}
	x := d.send(ctx, t, path, query, body)
	if !x.sent {
		// Nothing went out (the credentials, say, could not be had): the
		// SDK's call meets the same in its own steps (GetIdentity, ...),
		// which are not its HTTP client's answer.
		return sdk()
	}
	if x.body != nil {
		if out, err := decode(x.body); err == nil {
			d.state.decoded.Add(1)
			x.release()
			return out, nil
		}
	}
	var r *replayFirst
	out, err := sdk(func(o *Opts) {
		wrap(o, func(next aws.HTTPClient) aws.HTTPClient { r = d.replay(x, next); return r })
	})
	// A call that ended before its first attempt reached the HTTP client
	// (its context done, say) leaves the answer unread: closed here, or
	// its connection would stay taken.
	if r != nil {
		r.discard()
	}
	return out, err
}

// learner is the HTTP client of a call the SDK makes in full: its first
// request becomes the operation's template.
type learner struct {
	next   aws.HTTPClient
	d      *direct
	op     string
	suffix string
	once   sync.Once
}

func (l *learner) Do(req *http.Request) (*http.Response, error) {
	l.once.Do(func() {
		l.d.state.templates.LoadOrStore(templateKey{l.op, l.d.region}, templateOf(req, l.op, l.suffix))
	})
	return l.next.Do(req)
}

// recursionDetection is the SDK's middleware that sets X-Amzn-Trace-Id;
// buildDone ends its chain.
var (
	recursionDetection = &awsmiddleware.RecursionDetection{}
	buildDone          = middleware.BuildHandlerFunc(func(context.Context, middleware.BuildInput) (middleware.BuildOutput, middleware.Metadata, error) {
		return middleware.BuildOutput{}, middleware.Metadata{}, nil
	})
)

// emptySHA256 is the payload hash of a request without a body.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// exchange is one direct request and what came back of it.
type exchange struct {
	resp *http.Response
	err  error
	// body is the whole answer of an HTTP 200 (a pooled buffer's bytes:
	// valid until release).
	body []byte
	buf  *bytes.Buffer
	// signedAt is the request's signing time (zero: not signed).
	signedAt time.Time
	// sent: the request went to the HTTP client.
	sent bool
}

// send makes one request from t. It never fails on its own: a request it
// cannot make is an exchange with an error that was not sent, and the SDK
// makes the call.
func (d *direct) send(ctx context.Context, t *template, path, query string, body []byte) *exchange {
	x := &exchange{}
	var rd io.Reader
	hash := emptySHA256
	if body != nil {
		rd = bytes.NewReader(body)
		sum := sha256.Sum256(body)
		hash = hex.EncodeToString(sum[:])
	}
	target := t.base + path
	if query != "" {
		target += "?" + query
	}
	req, err := http.NewRequestWithContext(ctx, t.method, target, rd)
	if err != nil {
		x.err = err
		return x
	}
	// As the run's other requests: no GetBody, so a 307 to a POST is an
	// answer, not a resend (see sendBodyWithHeaders).
	req.GetBody = nil
	// The template's value slices are shared, not copied: every header
	// this request sets is a new slice under its key, and net/http (its
	// redirects copy a Header.Clone) and RecursionDetection (Header.Set)
	// only read the others. The SDK's signer writes into the slices of
	// X-Amz-Date, X-Amz-Security-Token and Authorization in place
	// (append(h[k][:0], v)): safe only because those are perCallHeaders,
	// which the template never holds. Clone's slices have no spare
	// capacity, so an append to a shared one copies it.
	req.Header = make(http.Header, len(t.header)+6)
	for k, v := range t.header {
		req.Header[k] = v
	}
	id, err := smithyrand.NewUUID(rand.Reader).GetUUID()
	if err != nil {
		x.err = err
		return x
	}
	req.Header["Amz-Sdk-Invocation-Id"] = []string{id}
	// In Lambda, the trace id of the current invocation, by the SDK's own
	// RecursionDetection: the Checker outlives an invocation, and the
	// template's is the learning call's.
	if _, _, err := recursionDetection.HandleBuild(ctx, middleware.BuildInput{Request: &smithyhttp.Request{Request: req}}, buildDone); err != nil {
		x.err = err
		return x
	}
	creds, err := d.creds.Retrieve(ctx)
	if err != nil {
		x.err = err
		return x
	}
	x.signedAt = time.Now().UTC()
	if t.plan == nil || !t.plan.sign(req, &d.keys, creds, hash, t.signingName, t.signingRegion, x.signedAt) {
		if err := d.signer.SignHTTP(ctx, creds, req, hash, t.signingName, t.signingRegion, x.signedAt); err != nil {
			x.err = err
			return x
		}
	}
	d.state.sent.Add(1)
	x.sent = true
	x.resp, x.err = d.http.Do(req)
	if x.err != nil || x.resp.StatusCode != http.StatusOK {
		return x
	}
	x.buf = bodies.Get().(*bytes.Buffer)
	x.buf.Reset()
	_, rerr := x.buf.ReadFrom(io.LimitReader(x.resp.Body, maxDirectAnswer+1))
	if rerr != nil || x.buf.Len() > maxDirectAnswer {
		// What was read, then the rest or the read's error, for the SDK.
		rest := io.Reader(x.resp.Body)
		if rerr != nil {
			rest = errReader{rerr}
		}
		x.resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(bytes.Clone(x.buf.Bytes())), rest), x.resp.Body}
		x.release()
		return x
	}
	_ = x.resp.Body.Close()
	x.body = x.buf.Bytes()
	return x
}

// release gives the answer's buffer back; body is invalid after it.
func (x *exchange) release() {
	if x.buf != nil {
		bodies.Put(x.buf)
		x.buf, x.body = nil, nil
	}
}

// replay returns the HTTP client the SDK's call gets: its first request is
// answered with this exchange (the answer, whole, or the error), any retry
// goes out through next. The Date of an answer far from the local clock
// turns the direct path off, as the SDK then corrects its own clock.
func (d *direct) replay(x *exchange, next aws.HTTPClient) *replayFirst {
	if x.resp != nil {
		if x.body != nil {
			x.resp.Body = io.NopCloser(bytes.NewReader(bytes.Clone(x.body)))
			x.release()
		}
		if date, err := smithyhttp.ParseTime(x.resp.Header.Get("Date")); err == nil {
			if skew := time.Since(date); skew > skewThreshold || skew < -skewThreshold {
				d.state.off.Store(true)
			}
		}
	}
	return &replayFirst{resp: x.resp, err: x.err, signedAt: x.signedAt, next: next}
}

// replayFirst answers the first request with a recorded answer.
type replayFirst struct {
	resp     *http.Response
	err      error
	signedAt time.Time
	next     aws.HTTPClient
	used     atomic.Bool
}

func (r *replayFirst) Do(req *http.Request) (*http.Response, error) {
	if r.used.CompareAndSwap(false, true) {
		if r.resp != nil && r.signedAtAnotherTime(req) {
			// The SDK's client corrects its clock by a skew it measured
			// earlier (retry's ClientSkew, per client), the direct request
			// was signed with the local clock: the answer is not the one
			// the SDK's request gets, and the SDK would not take a refusal
			// of it for clock skew (its attempt's skew already matches the
			// server's Date). Its own request goes out instead.
			_ = r.resp.Body.Close()
			return r.next.Do(req)
		}
		if r.resp != nil {
			r.resp.Request = req
		}
		return r.resp, r.err
	}
	return r.next.Do(req)
}

// discard closes the recorded answer if no request took it.
func (r *replayFirst) discard() {
	if r.used.CompareAndSwap(false, true) && r.resp != nil {
		_ = r.resp.Body.Close()
	}
}

// signedAtAnotherTime reports whether the SDK signed req at a time more
// than the skew threshold away from the direct request's.
func (r *replayFirst) signedAtAnotherTime(req *http.Request) bool {
	at, err := time.Parse("20060102T150405Z", req.Header.Get("X-Amz-Date"))
	if err != nil || r.signedAt.IsZero() {
		return false
	}
	d := at.Sub(r.signedAt)
	return d > skewThreshold || d < -skewThreshold
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// errNotDirect marks an answer the direct decoder does not take.
var errNotDirect = errors.New("not an answer the direct path decodes")

func notDirect(what string, pos int) error {
	return fmt.Errorf("%w: %s at byte %d", errNotDirect, what, pos)
}
