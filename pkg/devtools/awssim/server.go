package awssim

import (
	"context"
	cryptorand "crypto/rand"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// operations are every protocol's operations (its own file declares them),
// as counted by [Server.Calls].
var operations = func() []string {
	var ops []string
	for _, service := range slices.Sorted(maps.Keys(protocols)) {
		ops = append(ops, protocols[service].operations()...)
	}
	return ops
}()

// Server is the simulator. It is an http.Handler; Start serves it on an address.
type Server struct {
	// scMu guards sc and the indexes built from it, which Update replaces.
	scMu     sync.RWMutex
	sc       *Scenario
	accounts map[string]*Account
	parentOf map[string]string // OU or account id -> parent id
	children map[string][]child
	writes   *writes // what the Bedrock writes changed (agreements.go)

	mu       sync.RWMutex
	sessions map[string]session // by access key id

	calls      map[string]*atomic.Int64
	assumes    sync.Map // account -> *atomic.Int64
	signers    sync.Map // access key id and secret -> *v4.Signer (see signer)
	ruleHits   []atomic.Int64
	httpServer *http.Server
	url        string
}

type child struct {
	id, kind string // kind: ACCOUNT or ORGANIZATIONAL_UNIT
}

type session struct {
	principal    Principal
	secret       string
	sessionToken string
	expires      time.Time
}

// New validates the scenario and builds a simulator for it.
func New(sc *Scenario) (*Server, error) {
	if err := sc.prepare(); err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	s := &Server{
		sessions: map[string]session{},
		calls:    map[string]*atomic.Int64{},
		writes:   newWrites(),
	}
	for _, op := range operations {
		s.calls[op] = new(atomic.Int64)
	}
	s.index(sc)
	return s, nil
}

// signer is the SigV4 signer that checks the requests of one access key
// and secret. A signer keeps the signing key it derived (four HMACs) per
// region and service for the last access key it saw, not telling secrets
// apart, so each access key and secret gets its own and derives its key once
// a day instead of on every request.
func (s *Server) signer(accessKey, secret string) *v4.Signer {
	key := accessKey + "\x00" + secret
	if v, ok := s.signers.Load(key); ok {
		return v.(*v4.Signer)
	}
	v, _ := s.signers.LoadOrStore(key, v4.NewSigner())
	return v.(*v4.Signer)
}

// index makes sc the scenario served and builds its lookup tables.
func (s *Server) index(sc *Scenario) {
	s.sc = sc
	s.accounts = make(map[string]*Account, len(sc.Accounts))
	s.parentOf = map[string]string{}
	s.children = map[string][]child{}
	s.ruleHits = make([]atomic.Int64, len(sc.Throttling)+len(sc.Faults))
	var addOUs func(parent string, ous []OU)
	addOUs = func(parent string, ous []OU) {
		for _, ou := range ous {
			s.parentOf[ou.ID] = parent
			s.children[parent] = append(s.children[parent], child{ou.ID, "ORGANIZATIONAL_UNIT"})
			addOUs(ou.ID, ou.OUs)
		}
	}
	addOUs(sc.Organization.Root, sc.Organization.OUs)
	for i := range sc.Accounts {
		a := &sc.Accounts[i]
		parent := a.Parent
		if parent == "" {
			parent = sc.Organization.Root
		}
		s.accounts[a.ID] = a
		s.parentOf[a.ID] = parent
		s.children[parent] = append(s.children[parent], child{a.ID, "ACCOUNT"})
	}
}

// Update changes the scenario while the server runs, as an organization
// changes between two audits. fn edits a copy; the copy is validated and
// then served. Sessions already issued stay valid.
func (s *Server) Update(fn func(*Scenario)) error {
	s.scMu.Lock()
	defer s.scMu.Unlock()
	next := s.sc.clone()
	fn(next)
	if err := next.prepare(); err != nil {
		return fmt.Errorf("scenario: %w", err)
	}
	s.index(next)
	return nil
}

// Start serves the simulator on addr (such as 127.0.0.1:0) until Close and
// returns its endpoint URL.
func (s *Server) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listen %s: %w", addr, err)
	}
	s.httpServer = &http.Server{Handler: s, ReadHeaderTimeout: connTimeout, IdleTimeout: connTimeout}
	s.url = "http://" + ln.Addr().String()
	go func() { _ = s.httpServer.Serve(ln) }()
	return s.url, nil
}

// connTimeout is how long the simulator waits for a request on a connection,
// new or kept alive. Go's server times the first request of a connection
// from its accept with ReadHeaderTimeout, which was 10 s; Go's transport
// pools connections it dialed for a request that another connection then
// served, unused. The server closed such a connection 10 s after it was
// opened while the SDK kept it for 90 s, and a request sent on it just then
// failed with "use of closed network connection", "broken pipe" or
// "connection reset". Go's transport does not replay a POST (every
// Organizations call), and with max_attempts 1 neither does the SDK, so a
// page was lost. Longer than the SDK's idle timeout
// (awshttp.DefaultHTTPTransportIdleConnTimeout), the client always closes
// first. The simulator listens on loopback, so a slow client costs nothing.
// ledger: PROTO-idle-connections
const connTimeout = 3 * time.Minute

// URL is the endpoint Start returned.
func (s *Server) URL() string { return s.url }

// Close stops the server started by Start.
func (s *Server) Close() error {
	if s.httpServer == nil {
		return nil
	}
	return s.httpServer.Close()
}

// Auditor is the principal whose keys a client should sign with.
func (s *Server) Auditor() Principal {
	s.scMu.RLock()
	defer s.scMu.RUnlock()
	return s.sc.Auditor
}

// Calls returns how many requests of an operation arrived, whatever their answer.
func (s *Server) Calls(op string) int64 {
	if c, ok := s.calls[op]; ok {
		return c.Load()
	}
	return 0
}

// TotalCalls is the sum of Calls over every operation.
func (s *Server) TotalCalls() int64 {
	var n int64
	for _, c := range s.calls {
		n += c.Load()
	}
	return n
}

// Stats are the simulator's counters, for a process that audits it from
// another process.
type Stats struct {
	Calls map[string]int64 `json:"calls"`
	// AssumeRoleAccounts is how many accounts' roles were asked for, and
	// AssumeRoleMax the most AssumeRole calls one of them got.
	AssumeRoleAccounts int   `json:"assume_role_accounts"`
	AssumeRoleMax      int64 `json:"assume_role_max"`
}

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	st := Stats{Calls: map[string]int64{}}
	for _, op := range operations {
		st.Calls[op] = s.Calls(op)
	}
	for _, n := range s.AssumeRoleCalls() {
		st.AssumeRoleAccounts++
		st.AssumeRoleMax = max(st.AssumeRoleMax, n)
	}
	return st
}

// AssumeRoleCalls returns how many AssumeRole requests named each account's role.
func (s *Server) AssumeRoleCalls() map[string]int64 {
	out := map[string]int64{}
	s.assumes.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

// request is one parsed, authenticated call.
type request struct {
	op      string
	service string
	region  string
	caller  Principal
	body    []byte
	http    *http.Request

	// The body read as a query form (STS, IAM), once: see query.
	form    url.Values
	formErr error
	parsed  bool
}

// query is the body parsed as a query-protocol form, and the parse error;
// the form is parsed once per request, for its operation and its answer.
func (r *request) query() (url.Values, error) {
	if !r.parsed {
		r.form, r.formErr = url.ParseQuery(string(r.body))
		r.parsed = true
	}
	return r.form, r.formErr
}

// ServeHTTP authenticates the call from its SigV4 Authorization header, then
// answers in the protocol of the service named in the credential scope.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	w.Header().Set("Date", s.now().Format(http.TimeFormat))
	auth, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		unauthenticated(w, r, body, err)
		return
	}
	req := &request{service: auth.service, region: auth.region, body: body, http: r}
	p := protocolFor(auth.service)
	if p == nil {
		// ledger: PROTO-unknown-service
		writeRESTError(w, http.StatusBadRequest, "UnknownService", fmt.Sprintf("the simulator does not serve %q", auth.service))
		return
	}
	req.op = p.operation(req)
	if c, ok := s.calls[req.op]; ok {
		c.Add(1)
	}
	s.scMu.RLock()
	err = s.authenticate(req, auth, body)
	delay := s.delay(req)
	s.scMu.RUnlock()
	if err != nil {
		p.writeError(w, err)
		return
	}
	if !wait(r.Context(), delay) {
		return
	}
	s.scMu.RLock()
	defer s.scMu.RUnlock()
	if err := s.inject(req); err != nil {
		p.writeError(w, err)
		return
	}
	p.serve(s, w, req)
}

// apiError is an error the simulator answers with; each protocol encodes it its own way.
type apiError struct {
	status  int
	code    string
	message string
	sender  bool // STS's <Type>: Sender (client fault) or Receiver
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func accessDenied(code, msg string) *apiError {
	return &apiError{status: http.StatusForbidden, code: code, message: msg, sender: true}
}

// protocol is one service's wire format.
type protocol interface {
	// operations are the Op* constants the protocol answers.
	operations() []string
	operation(*request) string
	serve(*Server, http.ResponseWriter, *request)
	writeError(http.ResponseWriter, error)
}

// protocols are the services the simulator speaks, by signing name.
var protocols = map[string]protocol{
	"sts":           stsProtocol{},
	"iam":           iamProtocol{},
	"organizations": orgProtocol{},
	"bedrock":       bedrockProtocol{},
	"account":       accountProtocol{},
}

func protocolFor(service string) protocol { return protocols[service] }

// unauthenticated answers a request without a usable Authorization header
// in the protocol it was sent in, told apart by its shape since there is no
// credential scope: STS's query protocol answers XML
// MissingAuthenticationToken, 403 (the query APIs' Common Errors page; the
// message as in abuzuhri/Amazon-SP-API-CSharp#99), JSON 1.1 services (an
// X-Amz-Target header) a __type of MissingAuthenticationTokenException, and
// REST-JSON services the X-Amzn-ErrorType header ("Missing Authentication
// Token", common-voice/common-voice#1599; both inferred for Organizations
// and Bedrock from their protocols).
// ledger: PROTO-missing-auth
func unauthenticated(w http.ResponseWriter, r *http.Request, body []byte, err error) {
	form, _ := url.ParseQuery(string(body))
	switch {
	case form.Get("Action") != "" && form.Get("Version") != "":
		stsProtocol{}.writeError(w, &apiError{status: http.StatusForbidden, code: "MissingAuthenticationToken", message: "Request is missing Authentication Token", sender: true})
	case r.Header.Get("X-Amz-Target") != "":
		orgProtocol{}.writeError(w, &apiError{status: http.StatusForbidden, code: "MissingAuthenticationTokenException", message: "Missing Authentication Token"})
	default:
		writeRESTError(w, http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token ("+err.Error()+")")
	}
}

// now is the simulated AWS clock.
func (s *Server) now() time.Time {
	s.scMu.RLock()
	defer s.scMu.RUnlock()
	return time.Now().Add(time.Duration(s.sc.ClockOffset)).UTC()
}

// skewWindow is how far a request's X-Amz-Date may be from AWS's clock.
// The SigV4 documentation says 15 minutes, and DynamoDB answered so
// (aws/aws-sdk-js#254, #2565); most services' answers in public captures
// give 5 minutes (aws/aws-sdk-java#1764 Kinesis, convox/rack#235 a query
// service, mhart/aws4fetch#73 in 2024). Which STS, Organizations and
// Bedrock use is not known: the simulator takes the stricter 5.
// ledger: PROTO-clock-skew
const skewWindow = 5 * time.Minute

// dateOutsideWindow answers a request signed too far from the simulated AWS
// clock as those captures show: the protocol's bad-signature code
// (SignatureDoesNotMatch for STS, InvalidSignatureException for the JSON
// services) with "Signature expired: T is now earlier than T' (NOW - 5
// min.)" or "Signature not yet current: T is still later than T' (NOW + 5
// min.)"; 403, except 400 for the JSON 1.x protocol as DynamoDB answered
// (inferred for Organizations). The SDK reads the answer's Date header,
// corrects its clock and signs again (aws-sdk-go-v2 aws/retry clock skew
// correction, aws/aws-sdk-go-v2#2378).
func dateOutsideWindow(service string, signed, now time.Time) error {
	const f = "20060102T150405Z"
	var msg string
	switch {
	case signed.Before(now.Add(-skewWindow)):
		msg = fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 5 min.)", signed.Format(f), now.Add(-skewWindow).Format(f), now.Format(f))
	case signed.After(now.Add(skewWindow)):
		msg = fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 5 min.)", signed.Format(f), now.Add(skewWindow).Format(f), now.Format(f))
	default:
		return nil
	}
	return &apiError{status: authStatus(service), code: badSignatureCode(service), message: msg, sender: true}
}

func (s *Server) authenticate(req *request, auth authorization, body []byte) error {
	var secret, token string
	if auth.accessKey == s.sc.Auditor.AccessKeyID {
		req.caller, secret = s.sc.Auditor, s.sc.Auditor.SecretAccessKey
	} else {
		s.mu.RLock()
		sess, ok := s.sessions[auth.accessKey]
		s.mu.RUnlock()
		if !ok {
			return &apiError{status: authStatus(req.service), code: invalidTokenCode(req.service), message: "The security token included in the request is invalid.", sender: true}
		}
		if time.Now().After(sess.expires) {
			return &apiError{status: authStatus(req.service), code: expiredTokenCode(req.service), message: "The security token included in the request is expired", sender: true}
		}
		req.caller, secret, token = sess.principal, sess.secret, sess.sessionToken
	}
	if token != "" && req.http.Header.Get("X-Amz-Security-Token") != token {
		return &apiError{status: authStatus(req.service), code: invalidTokenCode(req.service), message: "The security token included in the request is invalid.", sender: true}
	}
	if signed, err := time.Parse("20060102T150405Z", req.http.Header.Get("X-Amz-Date")); err == nil {
		if err := dateOutsideWindow(req.service, signed, time.Now().Add(time.Duration(s.sc.ClockOffset)).UTC()); err != nil {
			return err
		}
	}
	if err := verifySignature(s.signer(auth.accessKey, secret), req.http, body, auth, secret, token); err != nil {
		return &apiError{status: authStatus(req.service), code: badSignatureCode(req.service),
			message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details. (" + err.Error() + ")", sender: true}
	}
	// An opt-in region the account has not enabled does not know its
	// credentials: public captures of calls there answer "The security
	// token included in the request is invalid" (UnrecognizedClientException
	// from JSON services, InvalidClientTokenId from query ones); that
	// Bedrock answers alike and the HTTP status are inferred.
	// ledger: ACC-region-not-enabled
	if req.service == "bedrock" && s.regionDisabled(req.caller.Account, req.region) {
		return &apiError{status: http.StatusForbidden, code: invalidTokenCode(req.service), message: "The security token included in the request is invalid.", sender: true}
	}
	return nil
}

// badSignatureCode is the error code of a request whose signature does not
// match. The query-protocol services (STS here) say SignatureDoesNotMatch
// (public CLI captures, e.g. aws/aws-cli#134); the JSON and REST-JSON
// services say InvalidSignatureException with the same message (public
// reports, e.g. smithy545/aws-apps-scripts#12 for a JSON service's
// {"__type":"InvalidSignatureException",...}; that Bedrock uses the same code
// is inferred from its REST-JSON protocol and BerriAI/litellm#14763's message).
// ledger: PROTO-bad-signature
func badSignatureCode(service string) string {
	if queryProtocol(service) {
		return "SignatureDoesNotMatch"
	}
	return "InvalidSignatureException"
}

// expiredTokenCode: STS says ExpiredToken ("An error occurred (ExpiredToken)
// when calling the GetCallerIdentity operation: The security token included
// in the request is expired", miquella/vaulted#107, prowler-cloud/prowler#789),
// the JSON services ExpiredTokenException (both in one run in
// cloud-custodian/cloud-custodian#9216).
// ledger: PROTO-expired-token
func expiredTokenCode(service string) string {
	if queryProtocol(service) {
		return "ExpiredToken"
	}
	return "ExpiredTokenException"
}

// authStatus is the HTTP status of a refused credential or signature: 400
// from the JSON 1.1 services (Organizations here), as Cognito's and
// DynamoDB's answers show ("400 Bad Request ...
// {"__type":"UnrecognizedClientException"}",
// ArranJacques/laravel-aws-cognito-auth#25), 403 from the query and REST-JSON
// services ("StatusCode: 403 ... UnrecognizedClientException" from Lambda's
// REST-JSON API, iann0036/iamlive#58). That Organizations answers as other
// JSON 1.1 services do is inferred.
// ledger: PROTO-invalid-token, PROTO-bad-signature, PROTO-expired-token, PROTO-clock-skew
func authStatus(service string) int {
	if service == "organizations" {
		return http.StatusBadRequest
	}
	return http.StatusForbidden
}

// queryProtocol reports whether a service speaks the query protocol, whose
// error codes differ from the JSON services' (STS and IAM here).
func queryProtocol(service string) bool { return service == "sts" || service == "iam" }

// ledger: PROTO-invalid-token
func invalidTokenCode(service string) string {
	if queryProtocol(service) {
		return "InvalidClientTokenId"
	}
	return "UnrecognizedClientException"
}

// delay is the scenario's latency for req.
func (s *Server) delay(req *request) time.Duration {
	l := s.sc.Latency
	if rl, ok := l.ByRegion[req.region]; ok {
		l = rl
	}
	if l.Max > l.Min {
		return time.Duration(l.Min) + rand.N(time.Duration(l.Max-l.Min))
	}
	return time.Duration(l.Fixed)
}

// wait sleeps for d; it reports false when the client went away meanwhile.
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// inject answers with a throttling error or a fault when a rule says so.
func (s *Server) inject(req *request) error {
	for i, rule := range s.sc.Throttling {
		if s.fires(i, rule, req) {
			return throttled(req.service)
		}
	}
	for i, rule := range s.sc.Faults {
		if !rule.AfterWrite && s.fires(len(s.sc.Throttling)+i, rule, req) {
			return &apiError{status: rule.Status, code: faultCode(req.service, rule.Status), message: "simulated fault"}
		}
	}
	return nil
}

// injectAfterWrite answers with a fault whose rule says after_write, once
// the write took effect.
func (s *Server) injectAfterWrite(req *request) error {
	for i, rule := range s.sc.Faults {
		if rule.AfterWrite && s.fires(len(s.sc.Throttling)+i, rule, req) {
			if rule.AnswerDelay > 0 {
				wait(req.http.Context(), time.Duration(rule.AnswerDelay))
				return nil
			}
			return &apiError{status: rule.Status, code: faultCode(req.service, rule.Status), message: "simulated fault after the write"}
		}
	}
	return nil
}

// faultCode is the code each service gives a server-side failure. STS:
// InternalFailure (500) and ServiceUnavailable (503), the query protocol's
// common errors (STS API reference, Common Errors). Organizations:
// ServiceException, its one modeled server error (Organizations API
// reference). Bedrock: InternalServerException (500, its API reference) and
// ServiceUnavailableException (503, Bedrock runtime's; inferred for the
// control plane).
// ledger: PROTO-server-faults
func faultCode(service string, status int) string {
	switch service {
	case "iam":
		// IAM's one modeled server error (IAM API reference, common errors).
		return "ServiceFailure"
	case "sts":
		if status == http.StatusServiceUnavailable {
			return "ServiceUnavailable"
		}
		return "InternalFailure"
	case "organizations":
		return "ServiceException"
	}
	if status == http.StatusServiceUnavailable {
		return "ServiceUnavailableException"
	}
	return "InternalServerException"
}

func (s *Server) fires(i int, r Rule, req *request) bool {
	if (r.Operation != "" && r.Operation != req.op) || (r.Region != "" && r.Region != req.region) || (r.Account != "" && r.Account != req.caller.Account) {
		return false
	}
	if r.Count > 0 {
		return s.ruleHits[i].Add(1) <= r.Count
	}
	return r.Rate > 0 && rand.Float64() < r.Rate
}

// ledger: PROTO-throttling
func throttled(service string) *apiError {
	switch service {
	case "sts", "iam":
		return &apiError{status: http.StatusBadRequest, code: "Throttling", message: "Rate exceeded", sender: true}
	case "organizations":
		return &apiError{status: http.StatusBadRequest, code: "TooManyRequestsException", message: "AWS Organizations can't complete your request because another request is already in progress. Try again later."}
	case "account":
		// The Account API's modeled throttling error (API reference,
		// ListRegions: TooManyRequestsException, HTTP 429); the message
		// is inferred. ledger: ACC-throttling
		return &apiError{status: http.StatusTooManyRequests, code: "TooManyRequestsException", message: "Too many requests."}
	}
	return &apiError{status: http.StatusTooManyRequests, code: "ThrottlingException", message: "Too many requests, please wait before trying again."}
}

// issue creates temporary credentials for p.
func (s *Server) issue(p Principal, d time.Duration) session {
	sess := session{
		principal:    p,
		secret:       randomString(26),
		sessionToken: "FwoGZXIvYXdzE" + randomString(26) + randomString(26),
		expires:      time.Now().Add(d).UTC().Truncate(time.Second),
	}
	sess.principal.AccessKeyID = "ASIA" + randomString(16)
	s.mu.Lock()
	s.sessions[sess.principal.AccessKeyID] = sess
	s.mu.Unlock()
	return sess
}

// randomString returns n random upper-case letters and digits (n <= 26).
func randomString(n int) string { return cryptorand.Text()[:n] }
