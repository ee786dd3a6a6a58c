package check

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/grantwatch/grantwatch/pkg/config"
)

func TestEndpointsAnswerAsTheSDKResolver(t *testing.T) {
	sdk := bedrock.NewDefaultEndpointResolverV2()
	cached := bedrockEndpoints()
	tests := []struct {
		name   string
		params bedrock.EndpointParameters
	}{
		{name: "commercial region", params: bedrock.EndpointParameters{Region: aws.String("us-east-1"), UseFIPS: aws.Bool(false), UseDualStack: aws.Bool(false)}},
		{name: "another region", params: bedrock.EndpointParameters{Region: aws.String("eu-west-1"), UseFIPS: aws.Bool(false), UseDualStack: aws.Bool(false)}},
		{name: "FIPS", params: bedrock.EndpointParameters{Region: aws.String("us-east-1"), UseFIPS: aws.Bool(true), UseDualStack: aws.Bool(false)}},
		{name: "GovCloud", params: bedrock.EndpointParameters{Region: aws.String("us-gov-west-1"), UseFIPS: aws.Bool(false), UseDualStack: aws.Bool(false)}},
		{name: "base endpoint, as AWS_ENDPOINT_URL_BEDROCK sets it", params: bedrock.EndpointParameters{Region: aws.String("us-east-1"), UseFIPS: aws.Bool(false), UseDualStack: aws.Bool(false), Endpoint: aws.String("http://127.0.0.1:4566")}},
		{name: "the first region again", params: bedrock.EndpointParameters{Region: aws.String("us-east-1"), UseFIPS: aws.Bool(false), UseDualStack: aws.Bool(false)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, err := sdk.ResolveEndpoint(context.Background(), tc.params)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // the second answer comes from the cache
				got, err := cached.ResolveEndpoint(context.Background(), tc.params)
				if err != nil {
					t.Fatal(err)
				}
				if got.URI.String() != want.URI.String() {
					t.Errorf("got %s; want %s", got.URI.String(), want.URI.String())
				}
				// The signing name, region and scheme are in Properties.
				if !reflect.DeepEqual(got.Properties, want.Properties) || !reflect.DeepEqual(got.Headers, want.Headers) {
					t.Errorf("got properties %#v, headers %v; want %#v, %v", got.Properties, got.Headers, want.Properties, want.Headers)
				}
			}
		})
	}
}

// TestEndpointKeyReadsEveryParameter: the memo's key must tell apart any
// two parameter sets that differ in any field of the SDK's
// EndpointParameters, so a field a later SDK adds fails here instead of
// sharing an endpoint it should not.
func TestEndpointKeyReadsEveryParameter(t *testing.T) {
	t.Run("bedrock", func(t *testing.T) { keyReadsEveryField(t, bedrockEndpoints().key) })
	t.Run("iam", func(t *testing.T) { keyReadsEveryField(t, iamEndpoints().key) })
	t.Run("account", func(t *testing.T) { keyReadsEveryField(t, accountEndpoints().key) })
}

// keyReadsEveryField sets each field of P unset and to two values, and
// wants different keys wherever the parameters differ once the SDK's
// WithDefaults has filled them (it makes an unset UseFIPS false, as the
// rules read it).
func keyReadsEveryField[P interface{ WithDefaults() P }](t *testing.T, key func(P) endpointKey) {
	t.Helper()
	var base P
	v := reflect.ValueOf(&base).Elem()
	if v.Kind() != reflect.Struct {
		t.Fatalf("got %T; want a struct", base)
	}
	variants := func(f reflect.Value) []reflect.Value {
		switch f.Type() {
		case reflect.TypeFor[*string]():
			return []reflect.Value{reflect.ValueOf(aws.String("a")), reflect.ValueOf(aws.String("b"))}
		case reflect.TypeFor[*bool]():
			return []reflect.Value{reflect.ValueOf(aws.Bool(false)), reflect.ValueOf(aws.Bool(true))}
		}
		return nil
	}
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		vs := variants(v.Field(i))
		if vs == nil {
			t.Errorf("field %s (%s) of %T is not known to endpointKey: add it to the key and here", name, v.Field(i).Type(), base)
			continue
		}
		seen := map[endpointKey]P{key(base): base.WithDefaults()}
		for _, x := range vs {
			p := base
			reflect.ValueOf(&p).Elem().Field(i).Set(x)
			k := key(p)
			if prev, dup := seen[k]; dup && !reflect.DeepEqual(prev, p.WithDefaults()) {
				t.Errorf("%T.%s: %+v and %+v have the same key: the key leaves the field out", base, name, prev, p.WithDefaults())
			}
			seen[k] = p.WithDefaults()
		}
	}
}

func TestEndpointsKeepNoError(t *testing.T) {
	cached := iamEndpoints()
	// FIPS with a custom endpoint is refused by the rules.
	bad := iam.EndpointParameters{Region: aws.String("us-east-1"), UseFIPS: aws.Bool(true), UseDualStack: aws.Bool(false), Endpoint: aws.String("http://127.0.0.1:1")}
	for i := range 2 {
		if _, err := cached.ResolveEndpoint(context.Background(), bad); err == nil {
			t.Errorf("call %d: got no error; want the SDK's refusal", i)
		}
	}
	if len(cached.seen) != 0 {
		t.Errorf("got %d endpoints kept; want none after errors", len(cached.seen))
	}
}

// TestLeanClientsRequests checks what AWS still receives from the run's
// clients: signed requests with the user agent and the invocation id, the
// body whole, at the base endpoint the configuration names.
func TestLeanClientsRequests(t *testing.T) {
	var mu sync.Mutex
	var got []*http.Request
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, bodies = append(got, r), append(bodies, string(body))
		mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/foundation-model-availability/") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"modelId":"amazon.nova-pro-v1:0","agreementAvailability":{"status":"AVAILABLE"},"authorizationStatus":"AUTHORIZED","entitlementAvailability":"AVAILABLE","regionAvailability":"AVAILABLE"}`)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, `<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults><member><EvalActionName>bedrock:InvokeModel</EvalActionName><EvalResourceName>*</EvalResourceName><EvalDecision>allowed</EvalDecision></member></EvaluationResults></SimulatePrincipalPolicyResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></SimulatePrincipalPolicyResponse>`)
	}))
	defer srv.Close()
	cfg := &config.Config{Accounts: config.Accounts{Static: []string{"111122223333"}}, Regions: []string{"us-east-1"}, Models: config.Models{Required: []string{"amazon.nova-pro-v1:0"}}}
	cfg.ApplyDefaults()
	awsCfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}
	c := New(cfg, awsCfg)
	creds := awsCfg.Credentials
	ctx := context.Background()
	if _, err := Availability(ctx, c.newBedrock("us-east-1", creds), "amazon.nova-pro-v1:0"); err != nil {
		t.Fatal(err)
	}
	out, err := c.newIAM(creds).SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{
		PolicySourceArn: aws.String("arn:aws:iam::111122223333:role/ChatApp"), ActionNames: []string{"bedrock:InvokeModel"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(out.EvaluationResults); n != 1 {
		t.Errorf("got %d evaluation results; want 1", n)
	}
	if len(got) != 2 {
		t.Fatalf("got %d requests; want 2", len(got))
	}
	for i, r := range got {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") {
			t.Errorf("request %d: got Authorization %q; want a SigV4 signature", i, r.Header.Get("Authorization"))
		}
		if !strings.Contains(r.Header.Get("User-Agent"), "aws-sdk-go-v2") {
			t.Errorf("request %d: got User-Agent %q; want the SDK's", i, r.Header.Get("User-Agent"))
		}
		if v := r.Header.Get("Amz-Sdk-Invocation-Id"); len(v) != 36 {
			t.Errorf("request %d: got amz-sdk-invocation-id %q; want the SDK's UUID (AWS services read it)", i, v)
		}
		if v := r.Header.Get("Amz-Sdk-Request"); !strings.HasPrefix(v, "attempt=1") {
			t.Errorf("request %d: got amz-sdk-request %q; want the retry middleware's attempt=1", i, v)
		}
	}
	if r := got[1]; r.ContentLength != int64(len(bodies[1])) || !strings.Contains(bodies[1], "Action=SimulatePrincipalPolicy") ||
		!strings.Contains(bodies[1], "PolicySourceArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2FChatApp") {
		t.Errorf("got IAM body %q (Content-Length %d); want the whole query form", bodies[1], r.ContentLength)
	}
}

func TestWorkersDoEveryItemOnce(t *testing.T) {
	items := make([]int, 100)
	for i := range items {
		items[i] = i
	}
	var mu sync.Mutex
	seen := map[int]int{}
	workers(context.Background(), 7, items, func(it int) {
		mu.Lock()
		seen[it]++
		mu.Unlock()
	})
	for _, it := range items {
		if seen[it] != 1 {
			t.Errorf("item %d: done %d times; want once", it, seen[it])
		}
	}
}

func TestWorkersStopTakingItemsWhenCtxEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	done := 0
	workers(ctx, 1, []int{1, 2, 3, 4}, func(int) {
		mu.Lock()
		done++
		mu.Unlock()
		cancel()
	})
	if done != 1 {
		t.Errorf("got %d items done after the context ended at the first; want 1", done)
	}
}

// emptySimulateAnswer is a SimulatePrincipalPolicy answer with no results.
const emptySimulateAnswer = `<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults></EvaluationResults></SimulatePrincipalPolicyResult><ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata></SimulatePrincipalPolicyResponse>`

// simulateAt sends one SimulatePrincipalPolicy through the run's IAM client
// to the server at url, with retries a millisecond apart.
func simulateAt(url string) error {
	cfg := &config.Config{Accounts: config.Accounts{Static: []string{"111122223333"}}, Regions: []string{"us-east-1"}, Models: config.Models{Required: []string{"amazon.nova-pro-v1:0"}}}
	cfg.ApplyDefaults()
	cfg.Limits.MaxBackoff = config.Duration(time.Millisecond)
	awsCfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(url), Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}
	c := New(cfg, awsCfg)
	_, err := c.newIAM(awsCfg.Credentials).SimulatePrincipalPolicy(context.Background(), &iam.SimulatePrincipalPolicyInput{
		PolicySourceArn: aws.String("arn:aws:iam::111122223333:role/ChatApp"), ActionNames: []string{"bedrock:InvokeModel"},
	})
	return err
}

// TestRetriedPostCarriesItsWholeBody: the body handed to net/http in memory
// (sendBodyWithHeaders) is read again from the SDK's rewound copy for a
// retry, so the second attempt sends what the first did.
func TestRetriedPostCarriesItsWholeBody(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(body))
		first := len(bodies) == 1
		mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		if first {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Receiver</Type><Code>ServiceFailure</Code><Message>failure</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`)
			return
		}
		_, _ = io.WriteString(w, emptySimulateAnswer)
	}))
	defer srv.Close()
	err := simulateAt(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if len(bodies) != 2 {
		t.Fatalf("got %d attempts; want 2", len(bodies))
	}
	if bodies[1] != bodies[0] || !strings.Contains(bodies[1], "Action=SimulatePrincipalPolicy") {
		t.Errorf("got second body %q; want the first's %q", bodies[1], bodies[0])
	}
}

// TestRedirectedPostIsNotFollowed: a 307 answer to a POST is returned to the
// SDK, not followed with the body resent elsewhere, as with the SDK's own
// body (net/http follows a 307/308 with a body only when GetBody is set).
func TestRedirectedPostIsNotFollowed(t *testing.T) {
	var mu sync.Mutex
	hits := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		if r.URL.Path != "/elsewhere" {
			w.Header().Set("Location", "/elsewhere")
			w.WriteHeader(http.StatusTemporaryRedirect)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, emptySimulateAnswer)
	}))
	defer srv.Close()
	err := simulateAt(srv.URL)
	if err == nil {
		t.Error("got no error; want the 307 answer as the call's error")
	}
	if hits["/elsewhere"] != 0 || hits["/"] == 0 {
		t.Errorf("got requests %v; want the POST to / only, the redirect not followed", hits)
	}
}

// TestTuneKeepsTheDefaultsModeTimeouts: the SDK applies AWS_DEFAULTS_MODE's
// connect and TLS timeouts only to an *awshttp.BuildableClient, which the
// run's wrapped client is not, so tune applies them.
func TestTuneKeepsTheDefaultsModeTimeouts(t *testing.T) {
	cfg := &config.Config{}
	cfg.ApplyDefaults()
	legacy := awshttp.NewBuildableClient()
	tests := []struct {
		name             string
		mode             aws.DefaultsMode
		wantDial, wantTL time.Duration
	}{
		{name: "unset is legacy: the SDK's own defaults", mode: "", wantDial: legacy.GetDialer().Timeout, wantTL: legacy.GetTransport().TLSHandshakeTimeout},
		{name: "standard", mode: aws.DefaultsModeStandard, wantDial: 3100 * time.Millisecond, wantTL: 3100 * time.Millisecond},
		{name: "in-region", mode: aws.DefaultsModeInRegion, wantDial: 1100 * time.Millisecond, wantTL: 1100 * time.Millisecond},
		{name: "auto takes cross-region's, the longer", mode: aws.DefaultsModeAuto, wantDial: 3100 * time.Millisecond, wantTL: 3100 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tune(aws.Config{DefaultsMode: tc.mode}, cfg.Limits)
			wrapped, ok := got.HTTPClient.(sendBodyWithHeaders)
			if !ok {
				t.Fatalf("got HTTPClient %T; want sendBodyWithHeaders", got.HTTPClient)
			}
			b, ok := wrapped.next.(*awshttp.BuildableClient)
			if !ok {
				t.Fatalf("got inner client %T; want *awshttp.BuildableClient", wrapped.next)
			}
			if d := b.GetDialer().Timeout; d != tc.wantDial {
				t.Errorf("got connect timeout %s; want %s", d, tc.wantDial)
			}
			tr := b.GetTransport()
			if d := tr.TLSHandshakeTimeout; d != tc.wantTL {
				t.Errorf("got TLS handshake timeout %s; want %s", d, tc.wantTL)
			}
			if tr.MaxIdleConnsPerHost != cfg.Limits.Concurrency {
				t.Errorf("got MaxIdleConnsPerHost %d; want limits.concurrency %d", tr.MaxIdleConnsPerHost, cfg.Limits.Concurrency)
			}
		})
	}
}
