package awssim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Credentials of a session that has expired are refused with each
// protocol's expired-token code (ledger: PROTO-expired-token).
func TestExpiredSessionCredentials(t *testing.T) {
	ctx := context.Background()
	s := startSim(t, testScenario, nil)
	cfg := memberConfig(t, s, "111111111111", "ext-123")
	if _, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("the fresh session: %v", err)
	}
	// A session lasts at least 15 minutes: age every session instead of waiting.
	s.mu.Lock()
	for key, sess := range s.sessions {
		sess.expires = time.Now().Add(-time.Minute)
		s.sessions[key] = sess
	}
	s.mu.Unlock()

	_, stsErr := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	_, bedrockErr := bedrock.NewFromConfig(cfg).ListFoundationModels(ctx, &bedrock.ListFoundationModelsInput{})
	for _, tt := range []struct {
		service string
		err     error
		want    string
	}{
		{"sts (query protocol)", stsErr, "ExpiredToken"},
		{"bedrock (REST-JSON)", bedrockErr, "ExpiredTokenException"},
	} {
		if got := errorCode(tt.err); got != tt.want {
			t.Errorf("%s: got code %q (%v); want %q", tt.service, got, tt.err, tt.want)
		}
	}
}

// A request signed for a service the simulator does not serve gets 400
// UnknownService, so that a wrong endpoint setting fails loudly (ledger:
// PROTO-unknown-service).
func TestUnknownServiceIsRefused(t *testing.T) {
	s := startSim(t, testScenario, nil)
	cfg := clientConfig(t, s)
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, s.URL()+"/", strings.NewReader("Action=ListQueues&Version=2012-11-05"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sum := sha256.Sum256([]byte("Action=ListQueues&Version=2012-11-05"))
	hash := hex.EncodeToString(sum[:])
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hash, "sqs", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got := resp.Header.Get("X-Amzn-ErrorType"); resp.StatusCode != http.StatusBadRequest || got != "UnknownService" {
		t.Errorf("got %d %q; want 400 UnknownService", resp.StatusCode, got)
	}
}

// Refused credentials and signatures come back 403 from the query (STS) and
// REST-JSON (Bedrock) services and 400 from the JSON 1.1 ones
// (Organizations), as public captures show: Cognito's JSON 1.1 answer
// "400 Bad Request ... {"__type":"UnrecognizedClientException"}"
// (ArranJacques/laravel-aws-cognito-auth#25), Lambda's REST-JSON
// "StatusCode: 403 ... UnrecognizedClientException" (iann0036/iamlive#58)
// (ledger: PROTO-invalid-token, PROTO-bad-signature).
func TestAuthErrorStatusPerProtocol(t *testing.T) {
	ctx := context.Background()
	s := startSim(t, testScenario, nil)
	for _, tt := range []struct {
		name        string
		key, secret string
		wantCodes   map[string]string
	}{
		{"unknown access key", "AKIANOBODY", "x", map[string]string{"sts": "InvalidClientTokenId", "organizations": "UnrecognizedClientException", "bedrock": "UnrecognizedClientException"}},
		{"wrong secret", s.Auditor().AccessKeyID, "wrong", map[string]string{"sts": "SignatureDoesNotMatch", "organizations": "InvalidSignatureException", "bedrock": "InvalidSignatureException"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := clientConfig(t, s, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(tt.key, tt.secret, "")))
			_, stsErr := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			_, orgErr := organizations.NewFromConfig(cfg).ListRoots(ctx, &organizations.ListRootsInput{})
			_, bedrockErr := bedrock.NewFromConfig(cfg).ListFoundationModels(ctx, &bedrock.ListFoundationModelsInput{})
			for _, got := range []struct {
				service    string
				err        error
				wantStatus int
			}{
				{"sts", stsErr, http.StatusForbidden},
				{"organizations", orgErr, http.StatusBadRequest},
				{"bedrock", bedrockErr, http.StatusForbidden},
			} {
				var re *awshttp.ResponseError
				if !errors.As(got.err, &re) || re.HTTPStatusCode() != got.wantStatus || errorCode(got.err) != tt.wantCodes[got.service] {
					t.Errorf("%s: got %v; want %d %s", got.service, got.err, got.wantStatus, tt.wantCodes[got.service])
				}
			}
		})
	}
}
