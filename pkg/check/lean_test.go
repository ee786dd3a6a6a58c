package check

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/auth/bearer"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/devtools/awssim"
	"github.com/grantwatch/grantwatch/pkg/devtools/testenv"
)

// sent is one request as it reached the HTTP client, with its body read.
type sent struct {
	req  *http.Request
	body []byte
	// direct: the request came from the direct path, not from the SDK's
	// stack (whose context always carries the operation's name).
	direct bool
}

// capturingHTTP keeps every request and sends it on through next, or
// answers it with an HTTP 200 with the operation's canned body.
type capturingHTTP struct {
	mu   sync.Mutex
	sent []sent
	next aws.HTTPClient
}

func (c *capturingHTTP) Do(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
	}
	c.mu.Lock()
	c.sent = append(c.sent, sent{req: req, body: body, direct: awsmiddleware.GetOperationName(req.Context()) == ""})
	c.mu.Unlock()
	if c.next != nil {
		if body != nil {
			req.Body = io.NopCloser(bytes.NewReader(body))
		}
		return c.next.Do(req)
	}
	return cannedOK(req), nil
}

func (c *capturingHTTP) all() []sent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sent)
}

func (c *capturingHTTP) last() sent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent[len(c.sent)-1]
}

// cannedOK answers a request with an HTTP 200 in the shape its operation
// answers (the SDK's and the direct decoders both take it).
func cannedOK(req *http.Request) *http.Response {
	h := http.Header{"Date": {time.Now().UTC().Format(http.TimeFormat)}, "X-Amzn-Requestid": {"4b1e0f6c-0000-4000-8000-000000000000"}}
	body := emptySimulateAnswer
	h.Set("Content-Type", "application/json")
	switch path := req.URL.EscapedPath(); {
	case strings.Contains(path, "/foundation-model-availability/"):
		body = `{"modelId":"m","agreementAvailability":{"status":"AVAILABLE"},"authorizationStatus":"AUTHORIZED","entitlementAvailability":"AVAILABLE","regionAvailability":"AVAILABLE"}`
	case strings.HasSuffix(path, "/foundation-models"):
		body = `{"modelSummaries":[]}`
	case strings.HasSuffix(path, "/inference-profiles"):
		body = `{"inferenceProfileSummaries":[]}`
	default:
		h.Set("Content-Type", "text/xml")
	}
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Header: h, Body: io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)), Request: req}
}

// forceSDK is a per-call option that changes nothing but sends the call
// through the SDK's stack (the direct path takes no per-call options).
func forceSDKBedrock(*bedrock.Options) {}
func forceSDKIAM(*iam.Options)         {}

// directClients builds a Checker with New and returns its Bedrock client
// for regions[0] and its IAM client, both sending through h: the clients
// New builds, with only their HTTP client replaced (New's tune puts its
// own HTTP client in the configuration); with forward, h sends on
// through the HTTP client New made.
func directClients(t *testing.T, awsCfg aws.Config, regions []string, h *capturingHTTP, forward bool) (*directBedrock, *directIAM, *Checker) {
	t.Helper()
	cfg := &config.Config{Accounts: config.Accounts{Static: []string{"111122223333"}}, Regions: regions, Models: config.Models{Required: []string{nova}}}
	cfg.ApplyDefaults()
	cfg.Limits.MaxBackoff = config.Duration(time.Millisecond)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	c := New(cfg, awsCfg)
	creds := awsCfg.Credentials
	b, ok := c.newBedrock(regions[0], creds).(*directBedrock)
	if !ok {
		t.Fatalf("New's Bedrock client is %T; want *directBedrock", c.newBedrock(regions[0], creds))
	}
	i, ok := c.newIAM(creds).(*directIAM)
	if !ok {
		t.Fatalf("New's IAM client is %T; want *directIAM", c.newIAM(creds))
	}
	if h != nil {
		if forward {
			h.next = b.Client.Options().HTTPClient
		}
		sendThrough(b, i, h)
	}
	return b, i, c
}

// sendThrough makes b and i (either may be nil) send through h.
func sendThrough(b *directBedrock, i *directIAM, h *capturingHTTP) {
	if b != nil {
		b.Client = bedrock.New(b.Client.Options(), func(o *bedrock.Options) { o.HTTPClient = h })
		b.d.http = h
	}
	if i != nil {
		i.Client = iam.New(i.Client.Options(), func(o *iam.Options) { o.HTTPClient = h })
		i.d.http = h
	}
}

var (
	uuidV4    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	sigV4Auth = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$`)
)

// sameRequest reports how the direct request differs from the SDK's: it
// must be the same but for the signing time, the signature and the
// invocation id, which must be a fresh UUID.
func sameRequest(t *testing.T, direct, sdk sent) {
	t.Helper()
	d, s := direct.req, sdk.req
	if d.Method != s.Method {
		t.Errorf("method: got %s; want the SDK's %s", d.Method, s.Method)
	}
	if d.URL.String() != s.URL.String() || d.URL.EscapedPath() != s.URL.EscapedPath() || d.URL.RawQuery != s.URL.RawQuery || d.URL.Host != s.URL.Host || d.URL.Scheme != s.URL.Scheme {
		t.Errorf("URL: got %s (escaped path %q, query %q); want the SDK's %s (escaped path %q, query %q)",
			d.URL, d.URL.EscapedPath(), d.URL.RawQuery, s.URL, s.URL.EscapedPath(), s.URL.RawQuery)
	}
	if d.URL.RequestURI() != s.URL.RequestURI() {
		t.Errorf("request URI on the wire: got %q; want the SDK's %q", d.URL.RequestURI(), s.URL.RequestURI())
	}
	// net/http sends req.Host, or the URL's host when it is empty.
	if got, want := cmp.Or(d.Host, d.URL.Host), cmp.Or(s.Host, s.URL.Host); got != want {
		t.Errorf("Host: got %q; want the SDK's %q", got, want)
	}
	if !bytes.Equal(direct.body, sdk.body) {
		t.Errorf("body: got %q; want the SDK's %q", direct.body, sdk.body)
	}
	if d.ContentLength != s.ContentLength || !slices.Equal(d.TransferEncoding, s.TransferEncoding) || d.Close != s.Close || (d.GetBody == nil) != (s.GetBody == nil) {
		t.Errorf("framing: got length %d, transfer encoding %v, close %v, GetBody %v; want the SDK's %d, %v, %v, %v",
			d.ContentLength, d.TransferEncoding, d.Close, d.GetBody != nil, s.ContentLength, s.TransferEncoding, s.Close, s.GetBody != nil)
	}
	var keys []string
	for k := range s.Header {
		keys = append(keys, k)
	}
	for k := range d.Header {
		if !slices.Contains(keys, k) {
			t.Errorf("header %s: got %q; the SDK sends none", k, d.Header[k])
		}
	}
	for _, k := range keys {
		got, want := d.Header[k], s.Header[k]
		switch k {
		case "X-Amz-Date":
			if len(got) != 1 {
				t.Errorf("X-Amz-Date: got %q; want one", got)
			} else if _, err := time.Parse("20060102T150405Z", got[0]); err != nil {
				t.Errorf("X-Amz-Date: got %q; want a SigV4 date: %v", got[0], err)
			}
		case "Amz-Sdk-Invocation-Id":
			if len(got) != 1 || !uuidV4.MatchString(got[0]) || got[0] == want[0] {
				t.Errorf("Amz-Sdk-Invocation-Id: got %q; want a fresh UUID (the SDK's was %q)", got, want)
			}
		case "Authorization":
			gm, wm := sigV4Auth.FindStringSubmatch(strings.Join(got, ",")), sigV4Auth.FindStringSubmatch(strings.Join(want, ","))
			if gm == nil || wm == nil {
				t.Errorf("Authorization: got %q; want SigV4 as the SDK's %q", got, want)
				continue
			}
			// Key, signing region and service, signed headers: the same;
			// the scope's date is the request's own.
			if gm[1] != wm[1] || gm[3] != wm[3] || gm[4] != wm[4] || gm[5] != wm[5] || gm[2] != d.Header.Get("X-Amz-Date")[:8] {
				t.Errorf("Authorization: got credential %s/%s/%s/%s, signed headers %s; want the SDK's %s/%s/%s/%s, %s",
					gm[1], gm[2], gm[3], gm[4], gm[5], wm[1], d.Header.Get("X-Amz-Date")[:8], wm[3], wm[4], wm[5])
			}
		default:
			if !slices.Equal(got, want) {
				t.Errorf("header %s: got %q; want the SDK's %q", k, got, want)
			}
		}
	}
	verifySignature(t, direct)
	verifySignature(t, sdk)
}

// verifySignature signs a copy of the request as it was sent, at its own
// X-Amz-Date, and requires the same Authorization: the signature covers
// the request as it left, nothing was changed after signing.
func verifySignature(t *testing.T, s sent) {
	t.Helper()
	m := sigV4Auth.FindStringSubmatch(s.req.Header.Get("Authorization"))
	if m == nil {
		t.Errorf("Authorization %q is not SigV4", s.req.Header.Get("Authorization"))
		return
	}
	at, err := time.Parse("20060102T150405Z", s.req.Header.Get("X-Amz-Date"))
	if err != nil {
		t.Error(err)
		return
	}
	req := s.req.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(s.body))
	for _, k := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
		req.Header.Del(k)
	}
	sum := sha256.Sum256(s.body)
	if err := v4.NewSigner().SignHTTP(context.Background(), testCreds, req, hex.EncodeToString(sum[:]), m[4], m[3], at); err != nil {
		t.Error(err)
		return
	}
	if got, want := s.req.Header.Get("Authorization"), req.Header.Get("Authorization"); got != want {
		t.Errorf("signature (direct %v): got %q; want %q, SigV4 of the request as sent", s.direct, got, want)
	}
}

// testCreds are temporary credentials, as the audit role's are, so that
// X-Amz-Security-Token is part of every request.
var testCreds = aws.Credentials{AccessKeyID: "ASIAEXAMPLEEXAMPLE01", SecretAccessKey: "secret", SessionToken: "session/token+with=odd&chars"}

func staticTestCreds() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(testCreds.AccessKeyID, testCreds.SecretAccessKey, testCreds.SessionToken)
}

// loadTestConfig is the SDK's own configuration loading (as the run's
// loadAWSConfig does), without the developer's files.
func loadTestConfig(t *testing.T, region string, opts ...func(*awsconfig.LoadOptions) error) aws.Config {
	t.Helper()
	base := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRegion(region), awsconfig.WithCredentialsProvider(staticTestCreds()),
		awsconfig.WithSharedConfigFiles([]string{}), awsconfig.WithSharedCredentialsFiles([]string{}),
	}
	cfg, err := awsconfig.LoadDefaultConfig(context.Background(), append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// endpointConfigs are the configurations the direct path must copy the
// SDK's request for: AWS's endpoints as the SDK's default resolver gives
// them, in the commercial, China and GovCloud partitions, FIPS and dual
// stack, and a base endpoint as AWS_ENDPOINT_URL gives (with a path too).
var endpointConfigs = []struct {
	name            string
	region          string
	opts            []func(*awsconfig.LoadOptions) error
	wantBedrockHost string
	wantIAMURL      string
	// The SDK's request cannot be copied from a template (see below):
	// every call must be the SDK's.
	bedrockSDKOnly, iamSDKOnly bool
}{
	{name: "commercial", region: "us-east-1", wantBedrockHost: "https://bedrock.us-east-1.amazonaws.com", wantIAMURL: "https://iam.amazonaws.com/"},
	{name: "commercial, another region", region: "eu-central-1", wantBedrockHost: "https://bedrock.eu-central-1.amazonaws.com", wantIAMURL: "https://iam.amazonaws.com/"},
	{name: "FIPS", region: "us-east-1", opts: []func(*awsconfig.LoadOptions) error{awsconfig.WithUseFIPSEndpoint(aws.FIPSEndpointStateEnabled)},
		wantBedrockHost: "https://bedrock-fips.us-east-1.amazonaws.com", wantIAMURL: "https://iam-fips.amazonaws.com/"},
	{name: "dual stack", region: "us-west-2", opts: []func(*awsconfig.LoadOptions) error{awsconfig.WithUseDualStackEndpoint(aws.DualStackEndpointStateEnabled)},
		wantBedrockHost: "https://bedrock.us-west-2.api.aws", wantIAMURL: "https://iam.global.api.aws/"},
	{name: "China", region: "cn-north-1", wantBedrockHost: "https://bedrock.cn-north-1.amazonaws.com.cn", wantIAMURL: "https://iam.cn-north-1.amazonaws.com.cn/"},
	{name: "GovCloud", region: "us-gov-west-1", wantBedrockHost: "https://bedrock.us-gov-west-1.amazonaws.com", wantIAMURL: "https://iam.us-gov.amazonaws.com/"},
	{name: "base endpoint", region: "us-east-1", opts: []func(*awsconfig.LoadOptions) error{awsconfig.WithBaseEndpoint("http://127.0.0.1:4566")},
		wantBedrockHost: "http://127.0.0.1:4566", wantIAMURL: "http://127.0.0.1:4566/"},
	{name: "base endpoint with a path", region: "us-east-1", opts: []func(*awsconfig.LoadOptions) error{awsconfig.WithBaseEndpoint("https://proxy.example.com:8443/aws/")},
		wantBedrockHost: "https://proxy.example.com:8443/aws", wantIAMURL: "https://proxy.example.com:8443/aws/"},
	// awsQuery's request path is "/" only when the endpoint has none
	// (smithy-go awsquery SerializeRequest): IAM's request is sent to
	// "/aws", no path of its own to cut, so no template fits (the SDK
	// sends them).
	{name: "base endpoint with a path, no trailing slash", region: "us-east-1", opts: []func(*awsconfig.LoadOptions) error{awsconfig.WithBaseEndpoint("https://proxy.example.com/aws")},
		wantBedrockHost: "https://proxy.example.com/aws", wantIAMURL: "https://proxy.example.com/aws", iamSDKOnly: true},
	// An escaped byte in the endpoint's path leaves the SDK's raw path
	// invalid, so net/http escapes the path itself and the model id's ':'
	// is sent as is: not the label the direct path would send, so no
	// template fits (the SDK sends them).
	{name: "base endpoint with an escaped path", region: "us-east-1", opts: []func(*awsconfig.LoadOptions) error{awsconfig.WithBaseEndpoint("https://proxy.example.com/aws%20x/")},
		wantBedrockHost: "https://proxy.example.com/aws%20x", wantIAMURL: "https://proxy.example.com/aws%20x/", bedrockSDKOnly: true},
}

// availabilityIDs are model ids as the run sends them, and ids whose
// every kind of byte the path label escapes.
var availabilityIDs = []string{
	nova,
	claude35,
	"arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-sonnet-20240620-v1:0",
	"arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
	"a b+c&d=e?f#g%h",
	"model/../..;x",
	"modèle-é~_.-",
	"a%2Fb",
}

// TestDirectRequestsAreTheSDKs compares the request the direct path sends
// with the one the SDK sends for the same input from the same client: the
// same method, URL (escaped path and query), body and headers, but for the
// signing time, signature and invocation id. The template is learned from
// the first input and serves every other.
func TestDirectRequestsAreTheSDKs(t *testing.T) {
	simulations := []struct {
		name string
		in   *iam.SimulatePrincipalPolicyInput
	}{
		{name: "one action", in: &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String("arn:aws:iam::111122223333:role/ChatApp"), ActionNames: []string{"bedrock:InvokeModel"}}},
		{name: "actions, resources, context, marker", in: &iam.SimulatePrincipalPolicyInput{
			PolicySourceArn: aws.String("arn:aws:iam::111122223333:role/path/Chat App+1=2&x"),
			ActionNames:     []string{"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream", "bedrock:Converse"},
			ResourceArns:    []string{"arn:aws:bedrock:us-east-1::foundation-model/" + claude35, "arn:aws:bedrock:us-east-1:111122223333:inference-profile/us." + claude35},
			ContextEntries: []iamtypes.ContextEntry{
				{ContextKeyName: aws.String("aws:RequestedRegion"), ContextKeyType: iamtypes.ContextKeyTypeEnumString, ContextKeyValues: []string{"us-east-1"}},
				{ContextKeyName: aws.String("aws:PrincipalTag/team name"), ContextKeyType: iamtypes.ContextKeyTypeEnumStringList, ContextKeyValues: []string{"a b", "c&d=e", "f+g", "héllo wörld", "", "~*.-_"}},
				{ContextKeyName: aws.String("bedrock:InferenceProfileArn"), ContextKeyType: iamtypes.ContextKeyTypeEnumString, ContextKeyValues: []string{"arn:aws:bedrock:us-east-1:111122223333:inference-profile/us." + claude35}},
			},
			Marker:   aws.String("AAEAAX/+tokens==&more"),
			MaxItems: aws.Int32(1000),
		}},
		{name: "more than nine of each list", in: &iam.SimulatePrincipalPolicyInput{
			PolicySourceArn: aws.String("arn:aws:iam::111122223333:role/ChatApp"),
			ActionNames:     numbered("bedrock:Action", 12),
			ResourceArns:    numbered("arn:aws:bedrock:eu-central-1::foundation-model/m", 11),
			ContextEntries: func() []iamtypes.ContextEntry {
				var e []iamtypes.ContextEntry
				for i, k := range numbered("aws:PrincipalTag/k", 10) {
					e = append(e, iamtypes.ContextEntry{ContextKeyName: aws.String(k), ContextKeyType: iamtypes.ContextKeyTypeEnumStringList, ContextKeyValues: numbered(fmt.Sprintf("v%d ", i), 10+i)})
				}
				return e
			}(),
			Marker: aws.String(""),
		}},
	}
	for _, ec := range endpointConfigs {
		t.Run(ec.name, func(t *testing.T) {
			h := &capturingHTTP{}
			b, i, _ := directClients(t, loadTestConfig(t, ec.region, ec.opts...), []string{ec.region}, h, false)
			ctx := context.Background()

			for n, id := range availabilityIDs {
				if _, err := b.GetFoundationModelAvailability(ctx, &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String(id)}); err != nil {
					t.Fatalf("%s: %v", id, err)
				}
				direct := h.last()
				if n == 0 {
					// The first call is the SDK's, and teaches the template.
					if direct.direct {
						t.Fatalf("first call went direct; want the SDK's, to learn from")
					}
					if got := direct.req.URL.String(); !strings.HasPrefix(got, ec.wantBedrockHost+"/foundation-model-availability/") {
						t.Errorf("SDK's Bedrock URL: got %s; want it at %s", got, ec.wantBedrockHost)
					}
					continue
				}
				if ec.bedrockSDKOnly {
					if direct.direct {
						t.Errorf("%s: went direct; want the SDK's request, which no template fits", id)
					}
					continue
				}
				if _, err := b.GetFoundationModelAvailability(ctx, &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String(id)}, forceSDKBedrock); err != nil {
					t.Fatalf("%s: %v", id, err)
				}
				sdk := h.last()
				if !direct.direct || sdk.direct {
					t.Fatalf("%s: got direct %v and SDK %v; want the first direct, the second the SDK's", id, direct.direct, sdk.direct)
				}
				t.Run("availability "+id, func(t *testing.T) { sameRequest(t, direct, sdk) })
			}

			// The list operations: only the unfiltered ListFoundationModels
			// goes direct; ListInferenceProfiles with its query.
			if _, err := b.ListFoundationModels(ctx, &bedrock.ListFoundationModelsInput{}); err != nil { // learns
				t.Fatal(err)
			}
			if got := h.last().req.URL.String(); got != ec.wantBedrockHost+"/foundation-models" {
				t.Errorf("SDK's ListFoundationModels URL: got %s; want %s/foundation-models", got, ec.wantBedrockHost)
			}
			if _, err := b.ListFoundationModels(ctx, &bedrock.ListFoundationModelsInput{}); err != nil {
				t.Fatal(err)
			}
			direct := h.last()
			if _, err := b.ListFoundationModels(ctx, &bedrock.ListFoundationModelsInput{}, forceSDKBedrock); err != nil {
				t.Fatal(err)
			}
			if !direct.direct {
				t.Error("ListFoundationModels: the call after learning was not direct")
			} else {
				t.Run("models", func(t *testing.T) { sameRequest(t, direct, h.last()) })
			}
			for n, in := range profileInputs {
				if _, err := b.ListInferenceProfiles(ctx, in); err != nil {
					t.Fatalf("profiles %d: %v", n, err)
				}
				direct := h.last()
				if n == 0 {
					continue // learns
				}
				if _, err := b.ListInferenceProfiles(ctx, in, forceSDKBedrock); err != nil {
					t.Fatalf("profiles %d: %v", n, err)
				}
				if !direct.direct {
					t.Errorf("profiles %d: not direct", n)
					continue
				}
				t.Run(fmt.Sprintf("profiles %d", n), func(t *testing.T) { sameRequest(t, direct, h.last()) })
			}

			for n, s := range simulations {
				if _, err := i.SimulatePrincipalPolicy(ctx, s.in); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				direct := h.last()
				if n == 0 {
					if direct.direct {
						t.Fatalf("first call went direct; want the SDK's, to learn from")
					}
					if got := direct.req.URL.String(); got != ec.wantIAMURL {
						t.Errorf("SDK's IAM endpoint: got %s; want %s", got, ec.wantIAMURL)
					}
					continue
				}
				if ec.iamSDKOnly {
					if direct.direct {
						t.Errorf("%s: went direct; want the SDK's request, which no template fits", s.name)
					}
					continue
				}
				if _, err := i.SimulatePrincipalPolicy(ctx, s.in, forceSDKIAM); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				sdk := h.last()
				if !direct.direct || sdk.direct {
					t.Fatalf("%s: got direct %v and SDK %v; want the first direct, the second the SDK's", s.name, direct.direct, sdk.direct)
				}
				t.Run("simulation "+s.name, func(t *testing.T) { sameRequest(t, direct, sdk) })
			}
		})
	}
}

// profileInputs are ListInferenceProfiles inputs: the first teaches the
// template; the others set each query member, with bytes the query
// escapes.
var profileInputs = []*bedrock.ListInferenceProfilesInput{
	{},
	{MaxResults: aws.Int32(1000)},
	{NextToken: aws.String("eyJhIjoiYiJ9 +/=&é~")},
	{TypeEquals: "SYSTEM_DEFINED", MaxResults: aws.Int32(5), NextToken: aws.String("t")},
	{TypeEquals: "APPLICATION"},
}

func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i+1)
	}
	return out
}

// canned is one scripted answer: a status, headers and body, or hangUp:
// the connection is closed once the request is read, without an answer.
type canned struct {
	status int
	header map[string]string
	body   string
	hangUp bool
}

// scriptedServer answers its requests with script in order (the last
// repeats) and counts them.
type scriptedServer struct {
	*httptest.Server
	mu     sync.Mutex
	n      int
	script []canned
}

func newScriptedServer(t *testing.T, script []canned) *scriptedServer {
	s := &scriptedServer{script: script}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		s.mu.Lock()
		a := s.script[min(s.n, len(s.script)-1)]
		s.n++
		s.mu.Unlock()
		if a.hangUp {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return
		}
		w.Header().Set("Date", time.Now().UTC().Format(http.TimeFormat))
		w.Header().Set("X-Amzn-Requestid", "5c3a3d4e-0000-4000-8000-000000000001")
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *scriptedServer) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// The answers of the scripted cases, in each service's wire shape (the
// bodies as the simulator, following the SDK's deserializers, writes them).
var (
	availabilityOK = canned{status: 200, header: map[string]string{"Content-Type": "application/json"}, body: `{"modelId":"amazon.nova-pro-v1:0","agreementAvailability":{"status":"AVAILABLE"},"authorizationStatus":"AUTHORIZED","entitlementAvailability":"AVAILABLE","regionAvailability":"AVAILABLE"}`}
	bedrockError   = func(status int, code, msg string) canned {
		return canned{status: status, header: map[string]string{"Content-Type": "application/json", "X-Amzn-Errortype": code + ":http://internal.amazon.com/coral/com.amazon.bedrock/"}, body: `{"message":"` + msg + `"}`}
	}
	profilesOK   = canned{status: 200, header: map[string]string{"Content-Type": "application/json"}, body: `{"inferenceProfileSummaries":[{"inferenceProfileName":"US Nova Pro","inferenceProfileArn":"arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.amazon.nova-pro-v1:0","inferenceProfileId":"us.amazon.nova-pro-v1:0","models":[{"modelArn":"arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0"}],"status":"ACTIVE","type":"SYSTEM_DEFINED"}]}`}
	simulationOK = canned{status: 200, header: map[string]string{"Content-Type": "text/xml"}, body: `<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults><member><EvalActionName>bedrock:InvokeModel</EvalActionName><EvalResourceName>*</EvalResourceName><EvalDecision>allowed</EvalDecision></member></EvaluationResults></SimulatePrincipalPolicyResult><ResponseMetadata><RequestId>5c3a3d4e-0000-4000-8000-000000000001</RequestId></ResponseMetadata></SimulatePrincipalPolicyResponse>`}
	iamError     = func(status int, typ, code, msg string) canned {
		return canned{status: status, header: map[string]string{"Content-Type": "text/xml"}, body: `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>` + typ + `</Type><Code>` + code + `</Code><Message>` + msg + `</Message></Error><RequestId>5c3a3d4e-0000-4000-8000-000000000001</RequestId></ErrorResponse>`}
	}
)

// outcome is a call's result with what differs between two servers taken
// out: ResultMetadata, request ids and the server's address.
type outcome struct {
	out      any
	err      string
	code     string
	status   int
	attempts int
}

var requestIDs = regexp.MustCompile(`(RequestID: |<RequestId>|"RequestId":")[0-9A-Za-z-]*`)

func outcomeOf(out any, err error, serverURL string) outcome {
	o := outcome{}
	if v := reflect.ValueOf(out); v.Kind() == reflect.Pointer && !v.IsNil() {
		c := reflect.New(v.Elem().Type())
		c.Elem().Set(v.Elem())
		c.Elem().FieldByName("ResultMetadata").Set(reflect.Zero(c.Elem().FieldByName("ResultMetadata").Type()))
		o.out = c.Interface()
	}
	if err != nil {
		o.err = requestIDs.ReplaceAllString(strings.ReplaceAll(err.Error(), serverURL, "SERVER"), "${1}ID")
		var api smithy.APIError
		if errors.As(err, &api) {
			o.code = api.ErrorCode()
		}
		var re *awshttp.ResponseError
		if errors.As(err, &re) {
			o.status = re.HTTPStatusCode()
		}
		var max *retry.MaxAttemptsError
		if errors.As(err, &max) {
			o.attempts = max.Attempt
		}
	}
	return o
}

// fallbackCall makes a first call of op with first, which teaches the
// template, then lets between change the server, then makes one call
// with in, direct or with the SDK alone. It returns that call's outcome,
// its requests as the HTTP client saw them, and how many requests the
// server counted for it.
func fallbackCall(t *testing.T, awsCfg aws.Config, op string, first, in any, sdkAlone bool, between func(), served func() int) (outcome, []sent, int) {
	t.Helper()
	h := &capturingHTTP{}
	b, i, _ := directClients(t, awsCfg, []string{"us-east-1"}, h, true)
	ctx := context.Background()
	var call func(in any, sdkAlone bool) (any, error)
	switch op {
	case opAvailability:
		call = func(in any, sdkAlone bool) (any, error) {
			if sdkAlone {
				return b.GetFoundationModelAvailability(ctx, in.(*bedrock.GetFoundationModelAvailabilityInput), forceSDKBedrock)
			}
			return b.GetFoundationModelAvailability(ctx, in.(*bedrock.GetFoundationModelAvailabilityInput))
		}
	case opProfiles:
		call = func(in any, sdkAlone bool) (any, error) {
			if sdkAlone {
				return b.ListInferenceProfiles(ctx, in.(*bedrock.ListInferenceProfilesInput), forceSDKBedrock)
			}
			return b.ListInferenceProfiles(ctx, in.(*bedrock.ListInferenceProfilesInput))
		}
	case opSimulate:
		call = func(in any, sdkAlone bool) (any, error) {
			if sdkAlone {
				return i.SimulatePrincipalPolicy(ctx, in.(*iam.SimulatePrincipalPolicyInput), forceSDKIAM)
			}
			return i.SimulatePrincipalPolicy(ctx, in.(*iam.SimulatePrincipalPolicyInput))
		}
	default:
		t.Fatalf("no operation %s", op)
	}
	if _, err := call(first, false); err != nil {
		t.Fatalf("first call: %v", err)
	}
	if between != nil {
		between()
	}
	before, n := len(h.all()), served()
	out, err := call(in, sdkAlone)
	return outcomeOf(out, err, *awsCfg.BaseEndpoint), h.all()[before:], served() - n
}

// checkFallback requires the direct call's outcome and request count to
// be the SDK's alone, its first request the direct path's and every other
// one the SDK's (the direct answer was the SDK's first attempt's).
func checkFallback(t *testing.T, got, want outcome, gotSent, wantSent []sent, gotRequests, wantRequests, wantN int, wantCode string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v; want the SDK's %+v", got, want)
	}
	if got.code != wantCode {
		t.Errorf("got error code %q; want %q", got.code, wantCode)
	}
	if gotRequests != wantRequests || gotRequests != wantN {
		t.Errorf("requests the server saw: got %d; want the SDK's alone, %d, and %d", gotRequests, wantRequests, wantN)
	}
	if len(gotSent) == 0 || !gotSent[0].direct {
		t.Errorf("got no direct request first (%d requests); want the direct path's", len(gotSent))
	}
	for k, s := range gotSent[min(1, len(gotSent)):] {
		if s.direct {
			t.Errorf("request %d went direct; want only the first", k+2)
		}
	}
	for _, s := range wantSent {
		if s.direct {
			t.Errorf("the SDK alone sent a direct request")
		}
	}
}

// TestDirectFallbackIsTheSDKs: any answer but a recognised HTTP 200 to a
// direct request becomes the SDK's first attempt's answer, so the call
// ends exactly as with the SDK alone (error, code, retries, result), and
// the server sees exactly as many requests: none sent twice.
func TestDirectFallbackIsTheSDKs(t *testing.T) {
	availability := &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String(nova)}
	simulation := &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String("arn:aws:iam::111122223333:role/ChatApp"),
		ActionNames: []string{"bedrock:InvokeModel"}, ResourceArns: []string{"*"}}
	throttled := bedrockError(429, "ThrottlingException", "Too many requests, please wait before trying again.")
	tests := []struct {
		name         string
		op           string
		answers      []canned // after the first call's
		wantRequests int
		wantCode     string
	}{
		{name: "AccessDeniedException", op: opAvailability, answers: []canned{bedrockError(403, "AccessDeniedException", "User: arn:aws:sts::111122223333:assumed-role/GrantwatchAudit/s is not authorized to perform: bedrock:GetFoundationModelAvailability")}, wantRequests: 1, wantCode: "AccessDeniedException"},
		{name: "ThrottlingException, then the answer", op: opAvailability, answers: []canned{throttled, availabilityOK}, wantRequests: 2},
		{name: "ThrottlingException until the attempts run out", op: opAvailability, answers: []canned{throttled}, wantRequests: config.DefaultMaxAttempts, wantCode: "ThrottlingException"},
		{name: "ValidationException", op: opAvailability, answers: []canned{bedrockError(400, "ValidationException", "The provided model identifier is invalid.")}, wantRequests: 1, wantCode: "ValidationException"},
		{name: "HTTP 500 every time", op: opAvailability, answers: []canned{bedrockError(500, "InternalServerException", "Internal error")}, wantRequests: config.DefaultMaxAttempts, wantCode: "InternalServerException"},
		{name: "HTTP 500, then the answer", op: opAvailability, answers: []canned{bedrockError(500, "InternalServerException", "Internal error"), availabilityOK}, wantRequests: 2},
		{name: "a 500 that is not JSON", op: opAvailability, answers: []canned{{status: 502, body: "<html>Bad Gateway</html>"}, availabilityOK}, wantRequests: 2},
		// The SDK's HTTP client follows a 307 to a GET (awshttp's
		// limitedRedirect), in the direct path as in the SDK's.
		{name: "a redirect, then the answer", op: opAvailability, answers: []canned{{status: 307, header: map[string]string{"Location": "/elsewhere"}}, availabilityOK}, wantRequests: 2},
		// The connection closes on a GET read on a reused connection:
		// net/http sends it again itself (transportReadFromServerError),
		// in the direct path as in the SDK's.
		{name: "connection closed, then the answer", op: opAvailability, answers: []canned{{hangUp: true}, availabilityOK}, wantRequests: 2},
		{name: "a 200 with a member the direct decoder does not know", op: opAvailability, answers: []canned{{status: 200, header: map[string]string{"Content-Type": "application/json"},
			body: `{"modelId":"amazon.nova-pro-v1:0","agreementAvailability":{"status":"AVAILABLE"},"authorizationStatus":"AUTHORIZED","entitlementAvailability":"AVAILABLE","regionAvailability":"AVAILABLE","newMember":{"a":[1,2]}}`}}, wantRequests: 1},
		{name: "a 200 with an escape", op: opAvailability, answers: []canned{{status: 200, header: map[string]string{"Content-Type": "application/json"},
			body: `{"modelId":"amazon.nova-pro-v1:0","agreementAvailability":{"status":"ERROR","errorMessage":"Payment \u0026 billing: \"invalid\""},"authorizationStatus":"AUTHORIZED","entitlementAvailability":"AVAILABLE","regionAvailability":"AVAILABLE"}`}}, wantRequests: 1},
		{name: "a 200 that is not JSON", op: opAvailability, answers: []canned{{status: 200, body: "not json"}}, wantRequests: 1, wantCode: ""},

		{name: "AccessDeniedException", op: opProfiles, answers: []canned{bedrockError(403, "AccessDeniedException", "not authorized to perform: bedrock:ListInferenceProfiles")}, wantRequests: 1, wantCode: "AccessDeniedException"},
		{name: "ThrottlingException, then the answer", op: opProfiles, answers: []canned{throttled, profilesOK}, wantRequests: 2},
		{name: "a 200 with a member the direct decoder does not know", op: opProfiles, answers: []canned{{status: 200, header: map[string]string{"Content-Type": "application/json"},
			body: `{"inferenceProfileSummaries":[],"newMember":1}`}}, wantRequests: 1},

		{name: "AccessDenied", op: opSimulate, answers: []canned{iamError(403, "Sender", "AccessDenied", "User: arn:aws:sts::111122223333:assumed-role/GrantwatchAudit/s is not authorized to perform: iam:SimulatePrincipalPolicy")}, wantRequests: 1, wantCode: "AccessDenied"},
		{name: "Throttling, then the answer", op: opSimulate, answers: []canned{iamError(400, "Sender", "Throttling", "Rate exceeded"), simulationOK}, wantRequests: 2},
		{name: "NoSuchEntity", op: opSimulate, answers: []canned{iamError(404, "Sender", "NoSuchEntity", "The role with name ChatApp cannot be found.")}, wantRequests: 1, wantCode: "NoSuchEntity"},
		{name: "InvalidInput", op: opSimulate, answers: []canned{iamError(400, "Sender", "InvalidInput", "ARN x is not valid.")}, wantRequests: 1, wantCode: "InvalidInput"},
		{name: "ServiceFailure every time", op: opSimulate, answers: []canned{iamError(500, "Receiver", "ServiceFailure", "failure")}, wantRequests: config.DefaultMaxAttempts, wantCode: "ServiceFailure"},
		// A POST is not sent again by net/http: the SDK retries it.
		{name: "connection closed, then the answer", op: opSimulate, answers: []canned{{hangUp: true}, simulationOK}, wantRequests: 2},
		{name: "a 200 the lean decoder does not know", op: opSimulate, answers: []canned{{status: 200, header: map[string]string{"Content-Type": "text/xml"},
			body: `<SimulatePrincipalPolicyResponse><SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><NewField>x</NewField></SimulatePrincipalPolicyResult></SimulatePrincipalPolicyResponse>`}}, wantRequests: 1},
	}
	for _, tc := range tests {
		t.Run(tc.op+": "+tc.name, func(t *testing.T) {
			run := func(sdkAlone bool) (outcome, []sent, int) {
				first := availabilityOK
				var in any = availability
				switch tc.op {
				case opSimulate:
					first, in = simulationOK, simulation
				case opProfiles:
					first, in = profilesOK, &bedrock.ListInferenceProfilesInput{MaxResults: aws.Int32(1000)}
				}
				srv := newScriptedServer(t, append([]canned{first}, tc.answers...))
				awsCfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: staticTestCreds()}
				return fallbackCall(t, awsCfg, tc.op, in, in, sdkAlone, nil, srv.requests)
			}
			want, wantSent, wantN := run(true)
			got, gotSent, gotN := run(false)
			checkFallback(t, got, want, gotSent, wantSent, gotN, wantN, tc.wantRequests, tc.wantCode)
			t.Logf("%d requests; error %q", gotN, got.err)
			if tc.wantCode == "" && got.err == "" && got.out == nil {
				t.Errorf("got neither a result nor an error")
			}
		})
	}
}

// TestDirectFallbackAgainstTheSimulator: the same against the simulator,
// which checks every request's signature and answers each error as the
// service does (ledger: PROTO-throttling, PROTO-server-faults).
func TestDirectFallbackAgainstTheSimulator(t *testing.T) {
	const management = "999999999999" // the auditor's account in testdata/org.yaml
	app := "arn:aws:iam::" + management + ":role/App"
	okAvailability := &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String(nova)}
	okSimulation := &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(app), ActionNames: []string{"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"}, ResourceArns: []string{"*"}}
	tests := []struct {
		name         string
		op           string
		in           any // default: the first call's
		edit         func(*awssim.Scenario)
		wantRequests int
		wantCode     string
	}{
		{name: "throttled once", op: opAvailability, wantRequests: 2,
			edit: func(sc *awssim.Scenario) {
				sc.Throttling = []awssim.Rule{{Operation: awssim.OpGetFoundationModelAvailability, Count: 1}}
			}},
		{name: "throttled every time", op: opAvailability, wantRequests: config.DefaultMaxAttempts, wantCode: "ThrottlingException",
			edit: func(sc *awssim.Scenario) {
				sc.Throttling = []awssim.Rule{{Operation: awssim.OpGetFoundationModelAvailability, Rate: 1}}
			}},
		{name: "HTTP 503 twice", op: opAvailability, wantRequests: 3,
			edit: func(sc *awssim.Scenario) {
				sc.Faults = []awssim.Rule{{Operation: awssim.OpGetFoundationModelAvailability, Count: 2, Status: 503}}
			}},
		{name: "HTTP 500 every time", op: opAvailability, wantRequests: config.DefaultMaxAttempts, wantCode: "InternalServerException",
			edit: func(sc *awssim.Scenario) {
				sc.Faults = []awssim.Rule{{Operation: awssim.OpGetFoundationModelAvailability, Rate: 1, Status: 500}}
			}},
		{name: "an SCP denies the region", op: opAvailability, wantRequests: 1, wantCode: "AccessDeniedException",
			edit: func(sc *awssim.Scenario) { sc.Account(management).DenyRegions = []string{"us-east-1"} }},
		{name: "an unknown model id", op: opAvailability, in: &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String(typo)}, wantRequests: 1, wantCode: "ValidationException"},
		{name: "throttled once", op: opSimulate, wantRequests: 2,
			edit: func(sc *awssim.Scenario) {
				sc.Throttling = []awssim.Rule{{Operation: awssim.OpSimulatePrincipalPolicy, Count: 1}}
			}},
		{name: "HTTP 500 every time", op: opSimulate, wantRequests: config.DefaultMaxAttempts, wantCode: "ServiceFailure",
			edit: func(sc *awssim.Scenario) {
				sc.Faults = []awssim.Rule{{Operation: awssim.OpSimulatePrincipalPolicy, Rate: 1, Status: 500}}
			}},
		{name: "a role that does not exist", op: opSimulate, in: &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String("arn:aws:iam::" + management + ":role/Gone"), ActionNames: []string{"bedrock:InvokeModel"}},
			wantRequests: 1, wantCode: "NoSuchEntity"},
		{name: "another account's role", op: opSimulate, in: &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String("arn:aws:iam::111111111111:role/App"), ActionNames: []string{"bedrock:InvokeModel"}},
			wantRequests: 1, wantCode: "AccessDenied"},
	}
	for _, tc := range tests {
		t.Run(tc.op+": "+tc.name, func(t *testing.T) {
			run := func(sdkAlone bool) (outcome, []sent, int) {
				sim := testenv.Simulator(t, "testdata/org.yaml", func(sc *awssim.Scenario) {
					sc.Accounts = append(sc.Accounts, awssim.Account{ID: management, Name: "management",
						Roles: []awssim.IAMRole{{Name: "App", Policies: map[string]string{"invoke": benchPolicy}}}})
				})
				awsCfg, err := sim.ClientConfig(context.Background(), "us-east-1")
				if err != nil {
					t.Fatal(err)
				}
				var first any = okAvailability
				if tc.op == opSimulate {
					first = okSimulation
				}
				in := cmp.Or(tc.in, first)
				between := func() {
					if tc.edit != nil {
						if err := sim.Update(tc.edit); err != nil {
							t.Fatal(err)
						}
					}
				}
				simOp := map[string]string{opAvailability: awssim.OpGetFoundationModelAvailability, opSimulate: awssim.OpSimulatePrincipalPolicy}[tc.op]
				return fallbackCall(t, awsCfg, tc.op, first, in, sdkAlone, between, func() int { return int(sim.Calls(simOp)) })
			}
			want, wantSent, wantN := run(true)
			got, gotSent, gotN := run(false)
			checkFallback(t, got, want, gotSent, wantSent, gotN, wantN, tc.wantRequests, tc.wantCode)
			t.Logf("%d requests; error %q", gotN, got.err)
			if tc.wantCode == "" && got.out == nil {
				t.Errorf("got no result; want one")
			}
		})
	}
}

// directStateOf is the direct path New gave c's clients.
func directStateOf(t *testing.T, c *Checker) *directState {
	t.Helper()
	b, ok := c.newBedrock("us-east-1", aws.AnonymousCredentials{}).(*directBedrock)
	if !ok {
		t.Fatal("New's Bedrock client does not take the direct path")
	}
	return b.d.state
}

// learned lists the operations and regions with a template.
func learned(s *directState) []string {
	var out []string
	s.templates.Range(func(k, v any) bool {
		if v.(*template) != nil {
			out = append(out, k.(templateKey).op+"/"+k.(templateKey).region)
		}
		return true
	})
	slices.Sort(out)
	return out
}

// TestDirectPathTurnsOffOnClockSkew audits the check organization, with
// principals, with AWS's clock 20 minutes ahead: the SDK corrects its
// clock (a refused first attempt, then a signed-again retry) and the
// direct path, which signs with the local clock, turns itself off at its
// first refused request, so that every verdict is the one of an audit
// without skew. ledger: PROTO-clock-skew
func TestDirectPathTurnsOffOnClockSkew(t *testing.T) {
	invoke := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:InvokeModel*","Resource":"*"}}`
	audit := func(offset time.Duration) (map[string]string, *directState, *awssim.Server) {
		a, sim := fixture(t, func(sc *awssim.Scenario) {
			sc.ClockOffset = awssim.Duration(offset)
			for _, id := range []string{"111111111111", "222222222222", "333333333333"} {
				sc.Account(id).Roles = []awssim.IAMRole{{Name: "AppRole", Policies: map[string]string{"invoke": invoke}}}
			}
		}, func(c *config.Config) {
			c.Principals = config.Principals{PrincipalSet: config.PrincipalSet{Roles: []string{"AppRole"}}}
		})
		rep := a.Run(context.Background(), "skew")
		got := map[string]string{}
		for _, r := range rep.Results {
			got[r.Account+"/"+r.Region+"/"+r.Model+"/"+r.Principal] = string(r.Status) + ": " + requestIDs.ReplaceAllString(r.Cause, "${1}ID")
		}
		if rep.Summary.Checked != rep.Summary.Planned || rep.Summary.PrincipalChecks == 0 {
			t.Errorf("clock %s ahead: checked %d of %d, principal checks %d; want all, with principals", offset, rep.Summary.Checked, rep.Summary.Planned, rep.Summary.PrincipalChecks)
		}
		return got, directStateOf(t, a.checker), sim
	}
	want, plain, _ := audit(0)
	got, skewed, sim := audit(20 * time.Minute)

	for key, w := range want {
		if got[key] != w {
			t.Errorf("%s: got %q; want %q, as without skew", key, got[key], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("results: got %d; want %d", len(got), len(want))
	}
	if plain.off.Load() {
		t.Error("without skew: the direct path turned off")
	}
	var wantLearned []string
	for _, op := range []string{opAvailability, opModels, opProfiles} {
		for _, region := range []string{"eu-central-1", "us-east-1", "us-west-2"} {
			wantLearned = append(wantLearned, op+"/"+region)
		}
	}
	wantLearned = append(wantLearned, opSimulate+"/us-east-1")
	if l := learned(plain); !slices.Equal(l, wantLearned) {
		t.Errorf("without skew: templates %v; want %v", l, wantLearned)
	}
	if !skewed.off.Load() {
		t.Error("with AWS's clock 20 minutes ahead: the direct path is still on; want it off")
	}
	t.Logf("with skew: %d availability and %d simulation requests", sim.Calls(awssim.OpGetFoundationModelAvailability), sim.Calls(awssim.OpSimulatePrincipalPolicy))
}

// TestDirectCallsWithAClockBehindAWSs: AWS's clock 20 minutes ahead, a
// template learned (the SDK corrected its clock on that first call). A
// fresh client's first direct request is refused and that refusal is its
// SDK call's first attempt, which the SDK then takes for skew and retries
// corrected: two requests, as with the SDK alone. A client that has
// corrected its clock already would sign its first attempt 20 minutes
// ahead, and would not take the refusal of a request signed with the
// local clock for skew: its own request goes out (two requests where the
// SDK alone sends one, once). Either way the direct path is then off.
func TestDirectCallsWithAClockBehindAWSs(t *testing.T) {
	const management = "999999999999"
	tests := []struct {
		name       string
		op         string
		sameClient bool
	}{
		{name: "a fresh client", op: opAvailability},
		{name: "the client that corrected its clock", op: opAvailability, sameClient: true},
		{name: "a fresh client", op: opSimulate},
		{name: "the client that corrected its clock", op: opSimulate, sameClient: true},
	}
	for _, tc := range tests {
		t.Run(tc.op+": "+tc.name, func(t *testing.T) {
			sim := testenv.Simulator(t, "testdata/org.yaml", func(sc *awssim.Scenario) {
				sc.ClockOffset = awssim.Duration(20 * time.Minute)
				sc.Accounts = append(sc.Accounts, awssim.Account{ID: management, Name: "management",
					Roles: []awssim.IAMRole{{Name: "App", Policies: map[string]string{"invoke": benchPolicy}}}})
			})
			awsCfg, err := sim.ClientConfig(context.Background(), "us-east-1")
			if err != nil {
				t.Fatal(err)
			}
			h := &capturingHTTP{}
			b, i, c := directClients(t, awsCfg, []string{"us-east-1"}, h, true)
			ctx := context.Background()
			simOp := awssim.OpGetFoundationModelAvailability
			call := func() error {
				_, err := b.GetFoundationModelAvailability(ctx, &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String(nova)})
				return err
			}
			if tc.op == opSimulate {
				simOp = awssim.OpSimulatePrincipalPolicy
				call = func() error {
					_, err := i.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String("arn:aws:iam::" + management + ":role/App"), ActionNames: []string{"bedrock:InvokeModel"}})
					return err
				}
			}
			if err := call(); err != nil {
				t.Fatalf("first call: %v", err)
			}
			if n := sim.Calls(simOp); n != 2 {
				t.Errorf("first call: got %d requests; want 2 (refused, then corrected by the SDK)", n)
			}
			if !tc.sameClient {
				fb, _ := c.newBedrock("us-east-1", awsCfg.Credentials).(*directBedrock)
				fi, _ := c.newIAM(awsCfg.Credentials).(*directIAM)
				sendThrough(fb, fi, h)
				b, i = fb, fi
			}
			for k, wantRequests := range []int64{2, 1} {
				before, sentBefore := sim.Calls(simOp), len(h.all())
				if err := call(); err != nil {
					t.Fatalf("call %d: got %v; want the answer", k+2, err)
				}
				if got := sim.Calls(simOp) - before; got != wantRequests {
					t.Errorf("call %d: got %d requests; want %d", k+2, got, wantRequests)
				}
				sent := h.all()[sentBefore:]
				if direct := len(sent) > 0 && sent[0].direct; direct != (k == 0) {
					t.Errorf("call %d: first request direct %v; want %v", k+2, direct, k == 0)
				}
			}
			if !directStateOf(t, c).off.Load() {
				t.Error("the direct path is still on; want it off")
			}
		})
	}
}

// TestDirectPathNeedsSigV4: a client that does not sign with SigV4 (a
// Bedrock API key from AWS_BEARER_TOKEN_BEDROCK or the configuration)
// never takes the direct path: the template learned is nil,
// and every call is the SDK's, with the SDK's own Authorization.
func TestDirectPathNeedsSigV4(t *testing.T) {
	tests := []struct {
		name     string
		env      string
		edit     func(*aws.Config)
		wantAuth string
	}{
		{name: "AWS_BEARER_TOKEN_BEDROCK", env: "bedrock-api-key-example", wantAuth: "Bearer bedrock-api-key-example"},
		{name: "a bearer token in the configuration", edit: func(c *aws.Config) {
			c.BearerAuthTokenProvider = bearer.StaticTokenProvider{Token: bearer.Token{Value: "configured-key"}}
			c.AuthSchemePreference = []string{"httpBearerAuth"}
		}, wantAuth: "Bearer configured-key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("AWS_BEARER_TOKEN_BEDROCK", tc.env)
			}
			awsCfg := aws.Config{Region: "us-east-1", Credentials: staticTestCreds()}
			if tc.edit != nil {
				tc.edit(&awsCfg)
			}
			h := &capturingHTTP{}
			b, _, c := directClients(t, awsCfg, []string{"us-east-1"}, h, false)
			for _, id := range []string{nova, claude35, titan} {
				if _, err := b.GetFoundationModelAvailability(context.Background(), &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String(id)}); err != nil {
					t.Fatal(err)
				}
			}
			for k, s := range h.all() {
				if s.direct {
					t.Errorf("request %d went direct; want every one the SDK's", k+1)
				}
				if got := s.req.Header.Get("Authorization"); got != tc.wantAuth {
					t.Errorf("request %d: got Authorization %q; want %q", k+1, got, tc.wantAuth)
				}
			}
			v, ok := directStateOf(t, c).templates.Load(templateKey{opAvailability, "us-east-1"})
			if !ok || v.(*template) != nil {
				t.Errorf("got template %v (learned %v); want nil, learned", v, ok)
			}
		})
	}
}

// gatedCreds holds every Retrieve until n have arrived (or a second
// passed): the SDK retrieves the credentials of a call before it sends,
// after the direct path looked for a template, so n first calls all look
// before any has sent, and all learn.
type gatedCreds struct {
	next    aws.CredentialsProvider
	mu      sync.Mutex
	n       int
	arrived int
	open    chan struct{}
}

func (g *gatedCreds) Retrieve(ctx context.Context) (aws.Credentials, error) {
	g.mu.Lock()
	g.arrived++
	if g.arrived == g.n {
		close(g.open)
	}
	g.mu.Unlock()
	select {
	case <-g.open:
	case <-time.After(time.Second):
	}
	return g.next.Retrieve(ctx)
}

// echoHTTP answers an availability request naming the model asked for,
// so that each call's answer is seen to be its own.
type echoHTTP struct{}

func (echoHTTP) Do(req *http.Request) (*http.Response, error) {
	id := strings.TrimPrefix(req.URL.EscapedPath(), "/foundation-model-availability/")
	body := `{"modelId":"` + id + `","agreementAvailability":{"status":"AVAILABLE"},"authorizationStatus":"AUTHORIZED","entitlementAvailability":"AVAILABLE","regionAvailability":"AVAILABLE"}`
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}, "Date": {time.Now().UTC().Format(http.TimeFormat)}},
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: req}, nil
}

// TestConcurrentFirstCallsLearnOneTemplate: many first calls at once each
// get their own answer, one template is kept, and the calls after it go
// direct with the SDK's request.
func TestConcurrentFirstCallsLearnOneTemplate(t *testing.T) {
	const n = 16
	h := &capturingHTTP{next: echoHTTP{}}
	awsCfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:4566"), Credentials: &gatedCreds{next: staticTestCreds(), n: n, open: make(chan struct{})}}
	b, _, c := directClients(t, awsCfg, []string{"us-east-1"}, h, false)
	ctx := context.Background()
	ids := numbered("model.v", n)
	var wg sync.WaitGroup
	got := make([]string, n)
	errs := make([]error, n)
	for k := range ids {
		wg.Go(func() {
			out, err := b.GetFoundationModelAvailability(ctx, &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String(ids[k])})
			errs[k] = err
			if out != nil {
				got[k] = aws.ToString(out.ModelId)
			}
		})
	}
	wg.Wait()
	for k := range ids {
		if errs[k] != nil || got[k] != ids[k] {
			t.Errorf("call %d: got %q, %v; want its own answer, %q", k, got[k], errs[k], ids[k])
		}
	}
	learners := 0
	for _, s := range h.all() {
		if !s.direct {
			learners++
		}
	}
	if learners != n {
		t.Errorf("got %d first calls through the SDK; want all %d, learning at once", learners, n)
	}
	state := directStateOf(t, c)
	if l := learned(state); !slices.Equal(l, []string{opAvailability + "/us-east-1"}) {
		t.Fatalf("templates: got %v; want one, %s/us-east-1", l, opAvailability)
	}
	kept, _ := state.templates.Load(templateKey{opAvailability, "us-east-1"})
	for _, id := range []string{"after.one", "after:two/x"} {
		if _, err := b.GetFoundationModelAvailability(ctx, &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String(id)}); err != nil {
			t.Fatal(err)
		}
		direct := h.last()
		if _, err := b.GetFoundationModelAvailability(ctx, &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String(id)}, forceSDKBedrock); err != nil {
			t.Fatal(err)
		}
		if !direct.direct {
			t.Fatalf("%s: the call after the first ones was not direct", id)
		}
		sameRequest(t, direct, h.last())
	}
	if now, _ := state.templates.Load(templateKey{opAvailability, "us-east-1"}); now != kept {
		t.Error("the template changed after it was learned; want the first one kept")
	}
}

// TestDirectInputsCoverEveryMember: the direct path writes only the
// members grantwatch sets. Any other member set must send the call
// through the SDK, so that nothing asked for is dropped; a member an SDK
// update adds is caught here.
func TestDirectInputsCoverEveryMember(t *testing.T) {
	written := []string{"ActionNames", "ContextEntries", "Marker", "MaxItems", "PolicySourceArn", "ResourceArns"}
	typ := reflect.TypeFor[iam.SimulatePrincipalPolicyInput]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() || slices.Contains(written, f.Name) {
			continue
		}
		t.Run(f.Name, func(t *testing.T) {
			in := &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String("arn:aws:iam::111122223333:role/ChatApp"), ActionNames: []string{"bedrock:InvokeModel"}}
			v := reflect.ValueOf(in).Elem().Field(i)
			switch v.Kind() {
			case reflect.Pointer:
				v.Set(reflect.New(v.Type().Elem()))
			case reflect.Slice:
				v.Set(reflect.MakeSlice(v.Type(), 1, 1))
			case reflect.String:
				v.SetString("x")
			default:
				t.Fatalf("member %s is a %s; the test sets pointers, slices and strings", f.Name, v.Kind())
			}
			if form, ok := simulationForm(in); ok {
				t.Errorf("with %s set: got the direct form %q, which leaves it out; want the call sent by the SDK", f.Name, form)
			}
		})
	}
	exported := func(typ reflect.Type) []string {
		var names []string
		for f := range typ.Fields() {
			if f.IsExported() {
				names = append(names, f.Name)
			}
		}
		return names
	}
	// simulationForm writes every member of a context entry.
	if got, want := exported(reflect.TypeFor[iamtypes.ContextEntry]()), []string{"ContextKeyName", "ContextKeyType", "ContextKeyValues"}; !slices.Equal(got, want) {
		t.Errorf("ContextEntry members: got %v; want %v, those the direct form writes", got, want)
	}
	// The profile list's query writes these members.
	if got, want := exported(reflect.TypeFor[bedrock.ListInferenceProfilesInput]()), []string{"MaxResults", "NextToken", "TypeEquals"}; !slices.Equal(got, want) {
		t.Errorf("ListInferenceProfilesInput members: got %v; want %v, those the direct query writes", got, want)
	}
	// The availability path label is the input's one member.
	if got, want := exported(reflect.TypeFor[bedrock.GetFoundationModelAvailabilityInput]()), []string{"ModelId"}; !slices.Equal(got, want) {
		t.Errorf("GetFoundationModelAvailabilityInput members: got %v; want %v, those the direct request writes", got, want)
	}
}

// aheadHTTP answers as cannedOK, with a Date ahead of the local clock.
type aheadHTTP struct{ ahead time.Duration }

func (a aheadHTTP) Do(req *http.Request) (*http.Response, error) {
	resp := cannedOK(req)
	resp.Header.Set("Date", time.Now().Add(a.ahead).UTC().Format(http.TimeFormat))
	return resp, nil
}

// TestDirectRequestsCarryNoLearnedTTL: a client that measured AWS's clock
// ahead of its own (by less than the skew threshold, so the direct path
// stays on) adds "ttl=" (its call's deadline, corrected) to
// Amz-Sdk-Request when the call has a deadline, as each of the run's
// calls has (limits.call_timeout). A template learned from such a call
// must not hand that call's ttl to every later request: the direct
// request, signed on the local clock, is the SDK's request of an attempt
// without skew, "attempt=1; max=N".
func TestDirectRequestsCarryNoLearnedTTL(t *testing.T) {
	h := &capturingHTTP{next: aheadHTTP{ahead: 90 * time.Second}}
	awsCfg := aws.Config{Region: "us-east-1", Credentials: staticTestCreds()}
	b, i, _ := directClients(t, awsCfg, []string{"us-east-1"}, h, false)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	in := &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String(nova)}
	sim := &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String("arn:aws:iam::111122223333:role/ChatApp"), ActionNames: []string{"bedrock:InvokeModel"}}
	// A first call through the SDK measures the skew, as the run's
	// ListFoundationModels does before any availability call.
	if _, err := b.GetFoundationModelAvailability(ctx, in, forceSDKBedrock); err != nil {
		t.Fatal(err)
	}
	if _, err := i.SimulatePrincipalPolicy(ctx, sim, forceSDKIAM); err != nil {
		t.Fatal(err)
	}
	for _, call := range []func() error{
		func() error { _, err := b.GetFoundationModelAvailability(ctx, in); return err },
		func() error { _, err := i.SimulatePrincipalPolicy(ctx, sim); return err },
	} {
		if err := call(); err != nil { // learns
			t.Fatal(err)
		}
		learnedFrom := h.last().req.Header.Get("Amz-Sdk-Request")
		if !strings.Contains(learnedFrom, "ttl=") {
			t.Fatalf("the learning call sent Amz-Sdk-Request %q; want the SDK's ttl, the test's premise", learnedFrom)
		}
		if err := call(); err != nil {
			t.Fatal(err)
		}
		direct := h.last()
		if !direct.direct {
			t.Fatal("the call after learning was not direct")
		}
		if got, want := direct.req.Header.Get("Amz-Sdk-Request"), "attempt=1; max="+fmt.Sprint(config.DefaultMaxAttempts); got != want {
			t.Errorf("direct Amz-Sdk-Request: got %q; want %q (learned from %q)", got, want, learnedFrom)
		}
	}
}

// TestDirectRequestsCarryTheInvocationsTraceID: in Lambda the SDK sends
// the current invocation's X-Ray trace id (_X_AMZN_TRACE_ID, set anew
// for each invocation) as X-Amzn-Trace-Id (its RecursionDetection
// middleware). The Checker outlives an invocation (built once at init,
// functions/auditor FromEnv), so a direct request must carry the trace id
// of its own invocation, not the learning call's.
func TestDirectRequestsCarryTheInvocationsTraceID(t *testing.T) {
	t.Setenv("AWS_LAMBDA_FUNCTION_NAME", "grantwatch-auditor")
	t.Setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	h := &capturingHTTP{}
	b, i, _ := directClients(t, aws.Config{Region: "us-east-1", Credentials: staticTestCreds()}, []string{"us-east-1"}, h, false)
	ctx := context.Background()
	in := &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String(nova)}
	sim := &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String("arn:aws:iam::111122223333:role/ChatApp"), ActionNames: []string{"bedrock:InvokeModel"}}
	if _, err := b.GetFoundationModelAvailability(ctx, in); err != nil { // learns
		t.Fatal(err)
	}
	if _, err := i.SimulatePrincipalPolicy(ctx, sim); err != nil { // learns
		t.Fatal(err)
	}
	for _, next := range []struct {
		name, traceID string
		lambda        bool
	}{
		{name: "the next invocation", traceID: "Root=1-6a0b1c2d-0123456789abcdef01234567;Parent=0af7651916cd43dd;Sampled=0;Lineage=a87bd80c:0", lambda: true},
		{name: "a trace id the SDK percent-encodes", traceID: "Root=1-6a0b1c2d-0123456789abcdef01234567;Parent=x y\"ä", lambda: true},
		{name: "outside Lambda", traceID: "Root=1-6a0b1c2d-0123456789abcdef01234567"},
	} {
		t.Run(next.name, func(t *testing.T) {
			t.Setenv("_X_AMZN_TRACE_ID", next.traceID)
			if !next.lambda {
				if err := os.Unsetenv("AWS_LAMBDA_FUNCTION_NAME"); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := b.GetFoundationModelAvailability(ctx, in); err != nil {
				t.Fatal(err)
			}
			direct := h.last()
			if _, err := b.GetFoundationModelAvailability(ctx, in, forceSDKBedrock); err != nil {
				t.Fatal(err)
			}
			if !direct.direct {
				t.Fatal("the call after learning was not direct")
			}
			sameRequest(t, direct, h.last())
			if _, err := i.SimulatePrincipalPolicy(ctx, sim); err != nil {
				t.Fatal(err)
			}
			direct = h.last()
			if _, err := i.SimulatePrincipalPolicy(ctx, sim, forceSDKIAM); err != nil {
				t.Fatal(err)
			}
			sameRequest(t, direct, h.last())
			if got := h.last().req.Header.Get("X-Amzn-Trace-Id"); (got != "") != next.lambda {
				t.Errorf("the SDK's X-Amzn-Trace-Id: got %q; want one only in Lambda", got)
			}
		})
	}
}
