package awssim

import (
	"context"
	cryptorand "crypto/rand"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// The operations the simulator answers, as counted by [Server.Calls].
const (
	OpAssumeRole                     = "AssumeRole"
	OpGetCallerIdentity              = "GetCallerIdentity"
	OpListAccounts                   = "ListAccounts"
	OpListAccountsForParent          = "ListAccountsForParent"
	OpListChildren                   = "ListChildren"
	OpListParents                    = "ListParents"
	OpListRoots                      = "ListRoots"
	OpListTagsForResource            = "ListTagsForResource"
	OpListFoundationModels           = "ListFoundationModels"
	OpGetFoundationModelAvailability = "GetFoundationModelAvailability"
	OpListInferenceProfiles          = "ListInferenceProfiles"
	OpGetInferenceProfile            = "GetInferenceProfile"
	OpGetUseCaseForModelAccess       = "GetUseCaseForModelAccess"
)

var operations = []string{
	OpAssumeRole, OpGetCallerIdentity, OpListAccounts, OpListAccountsForParent, OpListChildren,
	OpListParents, OpListRoots, OpListTagsForResource, OpListFoundationModels, OpGetFoundationModelAvailability,
	OpListInferenceProfiles, OpGetInferenceProfile, OpGetUseCaseForModelAccess,
}

// Server is the simulator. It is an http.Handler; Start serves it on an address.
type Server struct {
	// scMu guards sc and the indexes built from it, which Update replaces.
	scMu     sync.RWMutex
	sc       *Scenario
	accounts map[string]*Account
	parentOf map[string]string // OU or account id -> parent id
	children map[string][]child

	mu       sync.RWMutex
	sessions map[string]session // by access key id

	calls      map[string]*atomic.Int64
	assumes    sync.Map // account -> *atomic.Int64
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
	}
	for _, op := range operations {
		s.calls[op] = new(atomic.Int64)
	}
	s.index(sc)
	return s, nil
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
	s.httpServer = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.url = "http://" + ln.Addr().String()
	go func() { _ = s.httpServer.Serve(ln) }()
	return s.url, nil
}

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
}

// ServeHTTP authenticates the call from its SigV4 Authorization header, then
// answers in the protocol of the service named in the credential scope.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	auth, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		// Without a scope we cannot tell the protocol; answer as REST-JSON does.
		writeRESTError(w, http.StatusForbidden, "MissingAuthenticationTokenException", err.Error())
		return
	}
	req := &request{service: auth.service, region: auth.region, body: body, http: r}
	p := protocolFor(auth.service)
	if p == nil {
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
	operation(*request) string
	serve(*Server, http.ResponseWriter, *request)
	writeError(http.ResponseWriter, error)
}

func protocolFor(service string) protocol {
	switch service {
	case "sts":
		return stsProtocol{}
	case "organizations":
		return orgProtocol{}
	case "bedrock":
		return bedrockProtocol{}
	}
	return nil
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
			return &apiError{status: http.StatusForbidden, code: invalidTokenCode(req.service), message: "The security token included in the request is invalid.", sender: true}
		}
		if time.Now().After(sess.expires) {
			return &apiError{status: http.StatusForbidden, code: "ExpiredTokenException", message: "The security token included in the request is expired", sender: true}
		}
		req.caller, secret, token = sess.principal, sess.secret, sess.sessionToken
	}
	if token != "" && req.http.Header.Get("X-Amz-Security-Token") != token {
		return &apiError{status: http.StatusForbidden, code: invalidTokenCode(req.service), message: "The security token included in the request is invalid.", sender: true}
	}
	if err := verifySignature(req.http, body, auth, secret, token); err != nil {
		return &apiError{status: http.StatusForbidden, code: badSignatureCode(req.service),
			message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details. (" + err.Error() + ")", sender: true}
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
func badSignatureCode(service string) string {
	if service == "sts" {
		return "SignatureDoesNotMatch"
	}
	return "InvalidSignatureException"
}

func invalidTokenCode(service string) string {
	if service == "sts" {
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
		if s.fires(len(s.sc.Throttling)+i, rule, req) {
			code := map[int]string{500: "InternalServerException", 503: "ServiceUnavailableException"}[rule.Status]
			if code == "" {
				code = "InternalFailure"
			}
			return &apiError{status: rule.Status, code: code, message: "simulated fault"}
		}
	}
	return nil
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

func throttled(service string) *apiError {
	switch service {
	case "sts":
		return &apiError{status: http.StatusBadRequest, code: "Throttling", message: "Rate exceeded", sender: true}
	case "organizations":
		return &apiError{status: http.StatusBadRequest, code: "TooManyRequestsException", message: "AWS Organizations can't complete your request because another request is already in progress. Try again later."}
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
