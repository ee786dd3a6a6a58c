// How the run's AWS clients are made lean: per-call SDK work the audit does
// not need is taken off every operation's middleware stack, and endpoint
// rules are evaluated once per distinct set of parameters rather than once
// per call, and a small request body leaves in one write with its headers
// (issue 22, measured in docs/benchmarks.md "Client CPU").
// SimulatePrincipalPolicy answers have their own lean decoder (simdecode.go).

package check

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"

	smithyendpoints "github.com/aws/smithy-go/endpoints"
	"github.com/aws/smithy-go/middleware"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/account"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// leanStack removes, from every operation's stack, middlewares whose work
// nothing reads (ledger: PROTO-sdk-lean-stack):
//   - RetryMetricsHeader sets amz-sdk-request (attempt=n; max=m). The SDK
//     marks it deprecated: the retry middleware itself sets the same
//     header, so removing it only drops duplicate work. Of the run's
//     clients only Bedrock (v1.63) and Account (v1.32) add it; for IAM, STS
//     and Organizations the Remove finds nothing.
//
// Kept on purpose: ClientRequestID (amz-sdk-invocation-id, one UUID per
// call: AWS services read it, so it stays although it costs 8 allocations
// a call), the retry middleware (docs/reliability.md), signing,
// RecordResponseTiming (the clock-skew correction that lets a retry
// recover from a skewed Lambda clock), the request-id and raw-response
// middlewares (errors name the request), and the user agent (AWS's
// CloudTrail names the SDK that called).
func leanStack(stack *middleware.Stack) error {
	// Remove fails only when the id is absent (another SDK version): then
	// there is nothing to save, and the call goes on as the SDK built it.
	_, _ = stack.Finalize.Remove("RetryMetricsHeader")
	return nil
}

// endpointKey is what the SDK's endpoint rules read for these services:
// the region, the FIPS and dual-stack switches, and the base endpoint
// (AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL or BaseEndpoint): every
// field of their EndpointParameters, which TestEndpointKeyReadsEveryParameter
// holds it to when an SDK update adds one.
type endpointKey struct {
	region, endpoint                   string
	hasRegion, hasEndpoint, fips, dual bool
}

func keyOf(region, endpoint *string, fips, dual *bool) endpointKey {
	return endpointKey{
		region: aws.ToString(region), hasRegion: region != nil,
		endpoint: aws.ToString(endpoint), hasEndpoint: endpoint != nil,
		fips: aws.ToBool(fips), dual: aws.ToBool(dual),
	}
}

// endpoints memoizes an SDK endpoint resolver: the rules are a pure function
// of their parameters, so the answer for one set of parameters is the
// answer for every call that binds the same ones. Errors are not kept.
// The SDK copies the endpoint it gets (a value) into each request and only
// reads its headers and properties (ledger: PROTO-sdk-endpoint-rules-pure).
type endpoints[P any] struct {
	next func(context.Context, P) (smithyendpoints.Endpoint, error)
	key  func(P) endpointKey
	mu   sync.RWMutex
	seen map[endpointKey]smithyendpoints.Endpoint
}

func newEndpoints[P any](next func(context.Context, P) (smithyendpoints.Endpoint, error), key func(P) endpointKey) *endpoints[P] {
	return &endpoints[P]{next: next, key: key, seen: map[endpointKey]smithyendpoints.Endpoint{}}
}

func (e *endpoints[P]) ResolveEndpoint(ctx context.Context, p P) (smithyendpoints.Endpoint, error) {
	k := e.key(p)
	e.mu.RLock()
	ep, ok := e.seen[k]
	e.mu.RUnlock()
	if ok {
		return ep, nil
	}
	ep, err := e.next(ctx, p)
	if err != nil {
		return ep, err
	}
	e.mu.Lock()
	e.seen[k] = ep
	e.mu.Unlock()
	return ep, nil
}

// The SDK's own resolvers, memoized, one per Checker and service.
var (
	_ bedrock.EndpointResolverV2 = (*endpoints[bedrock.EndpointParameters])(nil)
	_ iam.EndpointResolverV2     = (*endpoints[iam.EndpointParameters])(nil)
	_ account.EndpointResolverV2 = (*endpoints[account.EndpointParameters])(nil)
)

func bedrockEndpoints() *endpoints[bedrock.EndpointParameters] {
	return newEndpoints(bedrock.NewDefaultEndpointResolverV2().ResolveEndpoint, func(p bedrock.EndpointParameters) endpointKey {
		return keyOf(p.Region, p.Endpoint, p.UseFIPS, p.UseDualStack)
	})
}

func iamEndpoints() *endpoints[iam.EndpointParameters] {
	return newEndpoints(iam.NewDefaultEndpointResolverV2().ResolveEndpoint, func(p iam.EndpointParameters) endpointKey {
		return keyOf(p.Region, p.Endpoint, p.UseFIPS, p.UseDualStack)
	})
}

func accountEndpoints() *endpoints[account.EndpointParameters] {
	return newEndpoints(account.NewDefaultEndpointResolverV2().ResolveEndpoint, func(p account.EndpointParameters) endpointKey {
		return keyOf(p.Region, p.Endpoint, p.UseFIPS, p.UseDualStack)
	})
}

// maxInMemoryBody is the largest request body sendBodyWithHeaders copies:
// the audit's request bodies (IAM's and STS's query forms, Organizations'
// JSON) are a few kilobytes.
const maxInMemoryBody = 64 << 10

// sendBodyWithHeaders gives net/http each small request body as a
// bytes.Reader. The SDK hands it a wrapper net/http does not recognise as
// in memory, and then net/http flushes the headers before writing the body:
// two writes, two system calls, for every POST (Go's net/http transfer.go,
// isKnownInMemoryReader). With the body in memory, headers and body leave
// in one write. The SDK rewinds its own copy of the body for a retry; the
// copy here is per attempt.
type sendBodyWithHeaders struct {
	next aws.HTTPClient
}

func (c sendBodyWithHeaders) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody && req.ContentLength > 0 && req.ContentLength <= maxInMemoryBody {
		body := make([]byte, req.ContentLength)
		_, err := io.ReadFull(req.Body, body)
		_ = req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read request body of %s %s: %w", req.Method, req.URL.Redacted(), err)
		}
		// No GetBody: without it net/http (and the SDK's limitedRedirect)
		// returns a 307/308 answer to a POST instead of resending the
		// body elsewhere, as it did with the SDK's own body.
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	return c.next.Do(req)
}
