// Signature Version 4 for the direct path (lean.go).
//
// The SDK's v4.Signer builds a map of the signed headers, sorts their
// names, joins strings and derives or looks up the signing key under a
// lock on every call: about fifty allocations, the largest single share of
// a direct call's. A template's headers are the same on every call, so
// they are put in canonical form once (signPlan); a call then adds its own
// (host, content-length, x-amz-date, x-amz-security-token,
// amz-sdk-invocation-id) in order and writes the canonical request into one
// buffer. The steps are the SDK's (aws-sdk-go-v2 v1.48, aws/signer/v4
// httpSigner.Build), which follow AWS's "Create a signed AWS API request":
// the same canonical URI, query, headers and scope, so the signature is the
// same byte for byte (TestDirectSignatureIsTheSDKs, FuzzDirectSignature).
// A request outside what the plan covers (an opaque URL, a template header
// that collides with a per-call one) is signed by the SDK's signer.
// ledger: PROTO-sigv4-canonical

package check

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/encoding/httpbinding"
)

// signIgnored are the header keys the SDK's signer leaves unsigned
// (v4Internal.IgnoredHeaders, looked up by the header map's own key).
var signIgnored = map[string]bool{"Authorization": true, "User-Agent": true, "X-Amzn-Trace-Id": true, "Expect": true, "Transfer-Encoding": true}

// perCallSigned are the lower-case names of the signed headers each call
// sets itself.
var perCallSigned = map[string]bool{"host": true, "content-length": true, "x-amz-date": true, "x-amz-security-token": true, "amz-sdk-invocation-id": true, "authorization": true}

type canonHeader struct{ name, value string }

// signPlan is a template's signed headers in canonical form: lower-case
// names, sorted, each value trimmed and its runs of spaces made one, the
// values of a name joined with commas.
type signPlan struct {
	headers []canonHeader
}

func planOf(h http.Header) (*signPlan, bool) {
	p := &signPlan{}
	for k, vs := range h {
		if signIgnored[k] || strings.EqualFold(k, "Content-Length") {
			continue
		}
		name := strings.ToLower(k)
		if perCallSigned[name] || slices.ContainsFunc(p.headers, func(c canonHeader) bool { return c.name == name }) {
			// The SDK would merge these in its map's order: not for the plan.
			return nil, false
		}
		p.headers = append(p.headers, canonHeader{name, canonValue(vs)})
	}
	slices.SortFunc(p.headers, func(a, b canonHeader) int { return strings.Compare(a.name, b.name) })
	return p, true
}

// stripExcessSpaces is the SDK's v4Internal.StripExcessSpaces: trailing
// and leading spaces cut, each inner run of spaces made one.
func stripExcessSpaces(s string) string {
	s = strings.Trim(s, " ")
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	space := false
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// signingKey is the key derived for one secret, day, region and service.
type signingKey struct {
	secret, day, region, service string
	key                          []byte
	// macs are HMAC-SHA256 states keyed with key, reset for each use:
	// keying one costs two hash blocks and five allocations.
	macs sync.Pool
}

// keyCache keeps the last key a client derived: a client signs for one
// account, service and region, so it changes only with the day or the
// credentials.
type keyCache struct{ last atomic.Pointer[signingKey] }

func (c *keyCache) get(secret, day, region, service string) *signingKey {
	if k := c.last.Load(); k != nil && k.secret == secret && k.day == day && k.region == region && k.service == service {
		return k
	}
	key := hmacSHA256([]byte("AWS4"+secret), []byte(day))
	key = hmacSHA256(key, []byte(region))
	key = hmacSHA256(key, []byte(service))
	key = hmacSHA256(key, []byte("aws4_request"))
	k := &signingKey{secret: secret, day: day, region: region, service: service, key: key}
	k.macs.New = func() any { return hmac.New(sha256.New, key) }
	c.last.Store(k)
	return k
}

// appendSum appends the hex HMAC-SHA256 of data with the key.
func (k *signingKey) appendSum(dst, data []byte) []byte {
	mac := k.macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write(data)
	var sig [sha256.Size]byte
	dst = hex.AppendEncode(dst, mac.Sum(sig[:0]))
	k.macs.Put(mac)
	return dst
}

// appendScope appends the credential scope, day/region/service/aws4_request.
func appendScope(b []byte, day, region, service string) []byte {
	b = append(b, day...)
	b = append(b, '/')
	b = append(b, region...)
	b = append(b, '/')
	b = append(b, service...)
	return append(b, "/aws4_request"...)
}

func hmacSHA256(key, data []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(data)
	return h.Sum(nil)
}

var signBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// sign signs req as v4.Signer.SignHTTP signs it (no presigning, URI path
// escaping on, session token included), or says it cannot.
func (p *signPlan) sign(req *http.Request, keys *keyCache, creds aws.Credentials, payloadHash, service, region string, at time.Time) bool {
	if req.URL.Opaque != "" {
		return false
	}
	at = at.UTC()
	var stamp [16]byte
	amzDate := string(at.AppendFormat(stamp[:0], "20060102T150405Z"))
	day := amzDate[:8]

	req.Header["X-Amz-Date"] = []string{amzDate}
	if creds.SessionToken != "" {
		req.Header["X-Amz-Security-Token"] = []string{creds.SessionToken}
	}
	// v4Internal.SanitizeHostForHeader, then the host the signer reads.
	sanitizeHost(req)
	host := req.URL.Host
	if req.Host != "" {
		host = req.Host
	}

	// The per-call headers, in order, merged with the plan's below.
	var callsArray [5]canonHeader
	calls := callsArray[:0]
	calls = append(calls, canonHeader{"host", stripExcessSpaces(host)})
	if req.ContentLength > 0 {
		calls = append(calls, canonHeader{"content-length", strconv.FormatInt(req.ContentLength, 10)})
	}
	for _, k := range [...]string{"X-Amz-Date", "X-Amz-Security-Token", "Amz-Sdk-Invocation-Id"} {
		if vs, ok := req.Header[k]; ok {
			calls = append(calls, canonHeader{strings.ToLower(k), canonValue(vs)})
		}
	}
	slices.SortFunc(calls, func(a, b canonHeader) int { return strings.Compare(a.name, b.name) })

	query := ""
	if req.URL.RawQuery != "" {
		query = canonicalQuery(req.URL.Query())
	}
	uri := req.URL.EscapedPath()
	if uri == "" {
		uri = "/"
	}
	uri = httpbinding.EscapePath(uri, false)

	bp := signBuffers.Get().(*[]byte)
	defer signBuffers.Put(bp)
	b := (*bp)[:0]
	b = append(b, req.Method...)
	b = append(b, '\n')
	b = append(b, uri...)
	b = append(b, '\n')
	b = append(b, query...)
	b = append(b, '\n')
	// Canonical headers, then (after a blank line) the signed names: the
	// plan's and the call's, merged in order.
	merged := mergeHeaders(p.headers, calls)
	for _, h := range merged {
		b = append(b, h.name...)
		b = append(b, ':')
		b = append(b, h.value...)
		b = append(b, '\n')
	}
	b = append(b, '\n')
	signedStart := len(b)
	for i, h := range merged {
		if i > 0 {
			b = append(b, ';')
		}
		b = append(b, h.name...)
	}
	// The Authorization header up to its signature, while the signed
	// names are in the buffer: one allocation for the whole value.
	const credential, signedHeaders, signature = "AWS4-HMAC-SHA256 Credential=", ", SignedHeaders=", ", Signature="
	auth := make([]byte, 0, len(credential)+len(creds.AccessKeyID)+1+len(day)+len(region)+len(service)+16+
		len(signedHeaders)+(len(b)-signedStart)+len(signature)+2*sha256.Size)
	auth = append(auth, credential...)
	auth = append(auth, creds.AccessKeyID...)
	auth = append(auth, '/')
	auth = appendScope(auth, day, region, service)
	auth = append(auth, signedHeaders...)
	auth = append(auth, b[signedStart:]...)
	auth = append(auth, signature...)

	b = append(b, '\n')
	b = append(b, payloadHash...)
	sum := sha256.Sum256(b)
	b = append(b[:0], "AWS4-HMAC-SHA256\n"...)
	b = append(b, amzDate...)
	b = append(b, '\n')
	b = appendScope(b, day, region, service)
	b = append(b, '\n')
	b = hex.AppendEncode(b, sum[:])
	auth = keys.get(creds.SecretAccessKey, day, region, service).appendSum(auth, b)
	*bp = b

	// auth is not written again: the header is the buffer itself (a
	// string(auth) would be the value's second allocation).
	req.Header["Authorization"] = []string{unsafe.String(unsafe.SliceData(auth), len(auth))}
	req.URL.RawQuery = query
	return true
}

// canonValue is a header's values in canonical form: each trimmed, its
// runs of spaces made one, joined with commas (one value without spaces
// to strip is itself, with no allocation).
func canonValue(vs []string) string {
	if len(vs) == 1 {
		return strings.TrimSpace(stripExcessSpaces(vs[0]))
	}
	clean := make([]string, len(vs))
	for i, v := range vs {
		clean[i] = strings.TrimSpace(stripExcessSpaces(v))
	}
	return strings.Join(clean, ",")
}

// mergeHeaders merges two lists sorted by name (with no name in both).
func mergeHeaders(a, b []canonHeader) []canonHeader {
	out := make([]canonHeader, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		if j >= len(b) || (i < len(a) && a[i].name < b[j].name) {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	return out
}

// canonicalQuery is the SDK's v4Internal.EncodeQuery: each name and value
// escaped (url.QueryEscape, a space as %20), the pairs sorted after
// escaping, by name and then value.
func canonicalQuery(q url.Values) string {
	type pair struct{ k, v string }
	enc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
	var ps []pair
	for k, vs := range q {
		ek := enc(k)
		for _, v := range vs {
			ps = append(ps, pair{ek, enc(v)})
		}
	}
	slices.SortFunc(ps, func(a, b pair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// sanitizeHost is the SDK's v4Internal.SanitizeHostForHeader: a default
// port (80 for http, 443 for https) is dropped from the Host sent.
func sanitizeHost(r *http.Request) {
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	port := ""
	if colon := strings.IndexByte(host, ':'); colon >= 0 {
		switch i := strings.Index(host, "]:"); {
		case i >= 0:
			port = host[i+2:]
		case strings.Contains(host, "]"):
		default:
			port = host[colon+1:]
		}
	}
	if port == "" {
		return
	}
	scheme := strings.ToLower(r.URL.Scheme)
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		// stripPort
		if i := strings.IndexByte(host, ']'); i >= 0 {
			r.Host = strings.TrimPrefix(host[:i], "[")
		} else {
			r.Host = host[:strings.IndexByte(host, ':')]
		}
	}
}
