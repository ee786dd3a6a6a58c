package awssim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// authorization is the parsed SigV4 Authorization header.
type authorization struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signature                        string
}

// parseAuthorization reads
// "AWS4-HMAC-SHA256 Credential=AKID/20261127/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=hex".
func parseAuthorization(h string) (authorization, error) {
	var a authorization
	rest, ok := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	if !ok {
		return a, errors.New("Missing Authentication Token")
	}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			scope := strings.Split(v, "/")
			if len(scope) != 5 || scope[4] != "aws4_request" {
				return a, fmt.Errorf("malformed credential scope %q", v)
			}
			a.accessKey, a.date, a.region, a.service = scope[0], scope[1], scope[2], scope[3]
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	if a.accessKey == "" || a.signature == "" || len(a.signedHeaders) == 0 {
		return a, errors.New("Authorization header lacks Credential, SignedHeaders or Signature")
	}
	return a, nil
}

// verifySignature signs a copy of the request, holding only the headers the
// client signed, with the SDK's own signer and compares the signatures. So a
// client with the wrong secret, a tampered body or a wrong scope is refused,
// as AWS refuses it.
func verifySignature(signer *v4.Signer, r *http.Request, body []byte, a authorization, secret, token string) error {
	signingTime, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return errors.New("missing or malformed X-Amz-Date")
	}
	c, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return fmt.Errorf("rebuild request: %w", err)
	}
	for _, h := range a.signedHeaders {
		switch h {
		case "host":
		case "content-length":
			c.ContentLength = int64(len(body))
		default:
			c.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: a.accessKey, SecretAccessKey: secret, SessionToken: token}
	if err := signer.SignHTTP(context.Background(), creds, c, hex.EncodeToString(sum[:]), a.service, a.region, signingTime); err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	want, _ := parseAuthorization(c.Header.Get("Authorization"))
	if want.signature != a.signature {
		return errors.New("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")
	}
	return nil
}

// VerifySignature checks a request's SigV4 signature as the simulator checks
// its own: secret gives the secret (and session token) of an access key, or
// false for a key it does not know. It returns the credential scope's access
// key and region. Other local stand-ins that AWS would sign for, such as the
// history URL's Lambda function URL in tests, use it to verify their callers.
func VerifySignature(r *http.Request, body []byte, service string, secret func(accessKey string) (string, string, bool)) (accessKey, region string, err error) {
	auth, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return "", "", err
	}
	if auth.service != service {
		return "", "", fmt.Errorf("credential scope names service %q; want %q", auth.service, service)
	}
	key, token, ok := secret(auth.accessKey)
	if !ok {
		return "", "", fmt.Errorf("unknown access key %s", auth.accessKey)
	}
	if err := verifySignature(v4.NewSigner(), r, body, auth, key, token); err != nil {
		return "", "", err
	}
	return auth.accessKey, auth.region, nil
}
