package check

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// signBoth signs two copies of one request, with the SDK's signer and with
// the plan, at the same time, and returns both.
func signBoth(t testing.TB, method, target string, header http.Header, body []byte, creds aws.Credentials, service, region string, at time.Time) (sdk, direct *http.Request, ok bool) {
	t.Helper()
	build := func() *http.Request {
		req, err := http.NewRequest(method, target, bytes.NewReader(body))
		if err != nil {
			t.Skip(err)
		}
		if len(body) == 0 {
			req.Body, req.ContentLength = nil, 0
		}
		req.Header = header.Clone()
		return req
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	sdk = build()
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, sdk, hash, service, region, at); err != nil {
		t.Fatal(err)
	}
	direct = build()
	// The plan is made from the template, which has no per-call headers.
	static := header.Clone()
	for _, k := range perCallHeaders {
		delete(static, k)
	}
	plan, planned := planOf(static)
	if !planned {
		return sdk, direct, false
	}
	var keys keyCache
	return sdk, direct, plan.sign(direct, &keys, creds, hash, service, region, at)
}

// TestDirectSignatureIsTheSDKs: for the requests the direct path sends and
// for headers, hosts, paths and queries that exercise each canonical form
// rule, the plan's signature, headers, Host and query are the SDK
// signer's, byte for byte.
func TestDirectSignatureIsTheSDKs(t *testing.T) {
	at := time.Date(2026, 11, 30, 6, 49, 4, 0, time.UTC)
	sdkHeaders := http.Header{
		"User-Agent":            {"aws-sdk-go-v2/1.48.0 ua/2.1 os/linux lang/go#1.26.8 md/GOOS#linux md/GOARCH#amd64 api/bedrock#1.63.0 m/E"},
		"Amz-Sdk-Request":       {"attempt=1; max=3"},
		"Amz-Sdk-Invocation-Id": {"1abec973-1a6d-41ee-bc73-afe73cf4c46e"},
	}
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Amz-Sdk-Request": {"attempt=1; max=3"}, "Amz-Sdk-Invocation-Id": {"6d55cd3c-6b03-4502-8f0b-91342d459d3e"}}
	spaced := http.Header{"X-Custom": {"  a   b  ", "c"}, "X-Amz-Meta": {"x  y"}, "Expect": {"100-continue"}, "Amz-Sdk-Invocation-Id": {"id"}}
	session := aws.Credentials{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", SessionToken: "FwoGZXIvYXdzEJr//////////wEaDExample+token=="}
	long := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	tests := []struct {
		name, method, target string
		header               http.Header
		body                 string
		creds                aws.Credentials
		service, region      string
	}{
		{name: "availability of a model ARN", method: "GET", target: "https://bedrock.us-east-1.amazonaws.com/foundation-model-availability/arn%3Aaws%3Abedrock%3Aus-east-1%3A%3Afoundation-model%2Famazon.nova-pro-v1%3A0", header: sdkHeaders, creds: session, service: "bedrock", region: "us-east-1"},
		{name: "model list", method: "GET", target: "https://bedrock.eu-central-1.amazonaws.com/foundation-models", header: sdkHeaders, creds: session, service: "bedrock", region: "eu-central-1"},
		{name: "profile list with a token", method: "GET", target: "https://bedrock.us-west-2.amazonaws.com/inference-profiles?maxResults=1000&nextToken=a+b%2Fc%3D&type=SYSTEM_DEFINED", header: sdkHeaders, creds: session, service: "bedrock", region: "us-west-2"},
		{name: "query sorted after escaping", method: "GET", target: "https://example.com/x?b=a-b&b=a%2Fb&a=%7E&a=~", header: sdkHeaders, creds: long, service: "bedrock", region: "us-east-1"},
		{name: "simulation form", method: "POST", target: "https://iam.amazonaws.com/", header: form, body: "Action=SimulatePrincipalPolicy&ActionNames.member.1=bedrock%3AInvokeModel&PolicySourceArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx+y&Version=2010-05-08", creds: session, service: "iam", region: "us-east-1"},
		{name: "custom endpoint with a port", method: "POST", target: "http://127.0.0.1:4566/", header: form, body: "Action=SimulatePrincipalPolicy", creds: long, service: "iam", region: "us-east-1"},
		{name: "default port dropped", method: "GET", target: "https://bedrock.us-east-1.amazonaws.com:443/foundation-models", header: sdkHeaders, creds: long, service: "bedrock", region: "us-east-1"},
		{name: "IPv6 host with its default port", method: "GET", target: "http://[::1]:80/foundation-models", header: sdkHeaders, creds: long, service: "bedrock", region: "us-east-1"},
		{name: "endpoint path prefix and escapes", method: "GET", target: "http://localhost:8080/prefix/foundation-model-availability/a%20b%2Fc", header: sdkHeaders, creds: long, service: "bedrock", region: "us-gov-west-1"},
		{name: "spaces, several values, an ignored header", method: "GET", target: "https://bedrock.us-east-1.amazonaws.com/", header: spaced, creds: session, service: "bedrock", region: "us-east-1"},
		{name: "empty path", method: "GET", target: "https://bedrock.us-east-1.amazonaws.com", header: sdkHeaders, creds: long, service: "bedrock", region: "us-east-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sdk, direct, ok := signBoth(t, tc.method, tc.target, tc.header, []byte(tc.body), tc.creds, tc.service, tc.region, at)
			if !ok {
				t.Fatalf("the plan did not sign it; want it signed")
			}
			if got, want := direct.Header.Get("Authorization"), sdk.Header.Get("Authorization"); got != want {
				t.Errorf("Authorization:\n got %s\nwant %s", got, want)
			}
			for _, k := range []string{"X-Amz-Date", "X-Amz-Security-Token"} {
				if got, want := direct.Header.Values(k), sdk.Header.Values(k); !equalStrings(got, want) {
					t.Errorf("%s: got %q; want %q", k, got, want)
				}
			}
			if got, want := direct.Host, sdk.Host; got != want {
				t.Errorf("Host: got %q; want %q", got, want)
			}
			if got, want := direct.URL.String(), sdk.URL.String(); got != want {
				t.Errorf("URL: got %s; want %s", got, want)
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FuzzDirectSignature: whatever the path, query, header value and body,
// the plan either declines or signs exactly as the SDK's signer.
func FuzzDirectSignature(f *testing.F) {
	f.Add("/foundation-model-availability/a%3Ab", "maxResults=10&type=SYSTEM_DEFINED", "attempt=1; max=3", "Action=X", "tok")
	f.Add("/", "", "  a  b ", "", "")
	f.Add("/x%20y/z", "a=1&a=0&b=%2F", "v", "body", "t o k")
	f.Fuzz(func(t *testing.T, path, query, value, body, token string) {
		target := "https://bedrock.us-east-1.amazonaws.com" + path
		if query != "" {
			target += "?" + query
		}
		header := http.Header{"Amz-Sdk-Request": {value}, "Content-Type": {"application/x-www-form-urlencoded"}, "Amz-Sdk-Invocation-Id": {"id"}}
		creds := aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret", SessionToken: token}
		sdk, direct, ok := signBoth(t, "POST", target, header, []byte(body), creds, "bedrock", "us-east-1", time.Unix(1_790_000_000, 0))
		if !ok {
			return
		}
		if got, want := direct.Header.Get("Authorization"), sdk.Header.Get("Authorization"); got != want {
			t.Errorf("Authorization:\n got %s\nwant %s", got, want)
		}
		if got, want := direct.URL.String(), sdk.URL.String(); got != want {
			t.Errorf("URL: got %s; want %s", got, want)
		}
	})
}

// TestDirectSignatureMatchesAWSExample signs AWS's own published example
// (IAM ListUsers, "Signature Version 4 signing process" examples of the
// AWS General Reference, the IAM user guide's "Create a signed AWS API
// request" steps) and wants AWS's published signature.
func TestDirectSignatureMatchesAWSExample(t *testing.T) {
	req, err := http.NewRequest(http.MethodGet, "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}}
	plan, ok := planOf(req.Header)
	if !ok {
		t.Fatal("no plan for the example's headers")
	}
	var keys keyCache
	creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	if !plan.sign(req, &keys, creds, emptySHA256, "iam", "us-east-1", time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)) {
		t.Fatal("the plan did not sign the example")
	}
	const want = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
	if got := req.Header.Get("Authorization"); got != want {
		t.Errorf("Authorization:\n got %s\nwant %s (AWS's example)", got, want)
	}
	if got, want := req.Header.Get("X-Amz-Date"), "20150830T123600Z"; got != want {
		t.Errorf("X-Amz-Date: got %s; want %s", got, want)
	}
}

// FuzzAppendQueryEscape: the form's escaping is url.QueryEscape's.
func FuzzAppendQueryEscape(f *testing.F) {
	f.Add("arn:aws:iam::111111111111:role/a b+c&d=é~_-.")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendQueryEscape(nil, s)), url.QueryEscape(s); got != want {
			t.Errorf("appendQueryEscape(%q): got %q; want %q", s, got, want)
		}
	})
}

// TestDirectSignatureMatchesAWSPostExample signs the POST example of AWS's
// General Reference ("Signed Signature Version 4 Requests Examples",
// http://docs.aws.amazon.com/general/latest/gr/sigv4-signed-request-examples.html:
// IAM ListUsers in the body, AKIDEXAMPLE, 20110909T233600Z) and wants its
// published signature: a body, its hash and content-type signed.
func TestDirectSignatureMatchesAWSPostExample(t *testing.T) {
	body := "Action=ListUsers&Version=2010-05-08"
	req, err := http.NewRequest(http.MethodPost, "http://iam.amazonaws.com/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = 0 // the example signs no content-length
	req.Header = http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}}
	plan, ok := planOf(req.Header)
	if !ok {
		t.Fatal("no plan for the example's headers")
	}
	sum := sha256.Sum256([]byte(body))
	var keys keyCache
	creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	if !plan.sign(req, &keys, creds, hex.EncodeToString(sum[:]), "iam", "us-east-1", time.Date(2011, 9, 9, 23, 36, 0, 0, time.UTC)) {
		t.Fatal("the plan did not sign the example")
	}
	const want = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20110909/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=ced6826de92d2bdeed8f846f0bf508e8559e98e4b0199114b84c54174deb456c"
	if got := req.Header.Get("Authorization"); got != want {
		t.Errorf("Authorization:\n got %s\nwant %s (AWS's example)", got, want)
	}
}
