package check

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// credsFailingOnce fails its n-th Retrieve (from 1) and gives testCreds
// otherwise; failing from n on every time with always.
type credsFailingOnce struct {
	calls  atomic.Int32
	n      int32
	always bool
}

func (c *credsFailingOnce) Retrieve(context.Context) (aws.Credentials, error) {
	k := c.calls.Add(1)
	if k == c.n || (c.always && k > c.n) {
		return aws.Credentials{}, errors.New("refresh credentials: AccessDenied")
	}
	return testCreds, nil
}

// TestDirectRequestNotSentIsTheSDKsCall: when the direct path cannot make
// its request (here the credentials fail), nothing was sent, so the call
// is the SDK's own: its GetIdentity meets the failure, as with the SDK
// alone, rather than its HTTP client meeting it as a send error, which
// the SDK would retry as a connection error.
func TestDirectRequestNotSentIsTheSDKsCall(t *testing.T) {
	in := &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String(nova)}
	run := func(t *testing.T, creds *credsFailingOnce, sdkAlone bool) (error, []sent) {
		h := &capturingHTTP{}
		b, _, _ := directClients(t, loadTestConfig(t, "us-east-1"), []string{"us-east-1"}, h, false)
		b.Client = bedrock.New(b.Client.Options(), func(o *bedrock.Options) { o.Credentials = creds })
		b.d.creds = creds
		if _, err := b.GetFoundationModelAvailability(context.Background(), in); err != nil { // learns
			t.Fatal(err)
		}
		before := len(h.all())
		var err error
		if sdkAlone {
			_, err = b.GetFoundationModelAvailability(context.Background(), in, forceSDKBedrock)
		} else {
			_, err = b.GetFoundationModelAvailability(context.Background(), in)
		}
		return err, h.all()[before:]
	}
	t.Run("the credentials fail every time", func(t *testing.T) {
		want, wantSent := run(t, &credsFailingOnce{n: 2, always: true}, true)
		got, gotSent := run(t, &credsFailingOnce{n: 2, always: true}, false)
		if want == nil || got == nil || got.Error() != want.Error() {
			t.Errorf("got %v; want the SDK's alone, %v", got, want)
		}
		if len(gotSent) != 0 || len(wantSent) != 0 {
			t.Errorf("requests: got %d; want none, as the SDK alone (%d)", len(gotSent), len(wantSent))
		}
	})
	t.Run("the credentials fail once, for the direct request", func(t *testing.T) {
		got, gotSent := run(t, &credsFailingOnce{n: 2}, false)
		if got != nil {
			t.Errorf("got %v; want the SDK's call, with credentials, to succeed", got)
		}
		if len(gotSent) != 1 || gotSent[0].direct || !strings.HasPrefix(gotSent[0].req.Header.Get("Amz-Sdk-Request"), "attempt=1;") {
			t.Errorf("requests: got %d; want one, the SDK's first attempt", len(gotSent))
			for _, s := range gotSent {
				t.Logf("direct %v, %s", s.direct, s.req.Header.Get("Amz-Sdk-Request"))
			}
		}
	})
}

// closeCounting is an answer body that counts its Close calls.
type closeCounting struct {
	io.Reader
	closed *atomic.Int32
}

func (c closeCounting) Close() error { c.closed.Add(1); return nil }

// cancelsOnAnswer answers with an HTTP 500 and ends the call's context
// before the SDK's first attempt can take that answer.
type cancelsOnAnswer struct {
	cancel context.CancelFunc
	closed atomic.Int32
}

func (c *cancelsOnAnswer) Do(req *http.Request) (*http.Response, error) {
	c.cancel()
	return &http.Response{StatusCode: http.StatusInternalServerError, Header: http.Header{},
		Body: closeCounting{strings.NewReader(`{"message":"Internal error"}`), &c.closed}, Request: req}, nil
}

// TestDirectAnswerNoAttemptTookIsClosed: a direct answer the SDK's call
// never reached (its context ended first) is closed, so that its
// connection goes back to the pool.
func TestDirectAnswerNoAttemptTookIsClosed(t *testing.T) {
	b, _, _ := directClients(t, loadTestConfig(t, "us-east-1"), []string{"us-east-1"}, &capturingHTTP{}, false)
	in := &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String(nova)}
	if _, err := b.GetFoundationModelAvailability(context.Background(), in); err != nil { // learns
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := &cancelsOnAnswer{cancel: cancel}
	b.d.http = h
	if _, err := b.GetFoundationModelAvailability(ctx, in); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v; want the call canceled", err)
	}
	if got := h.closed.Load(); got != 1 {
		t.Errorf("answer body closed %d times; want once", got)
	}
}

// TestDirectPathOffForTheSDKsStackOptions: a configuration that acts on
// the SDK's stack (middleware, interceptors, per-service options, request
// logging) keeps every call on the SDK's stack, where those run.
func TestDirectPathOffForTheSDKsStackOptions(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*aws.Config)
		wantOff bool
	}{
		{name: "the SDK's defaults", edit: func(*aws.Config) {}},
		{name: "APIOptions", edit: func(c *aws.Config) {
			c.APIOptions = append(c.APIOptions, func(*middleware.Stack) error { return nil })
		}, wantOff: true},
		{name: "ClientLogMode", edit: func(c *aws.Config) { c.ClientLogMode = aws.LogRequest }, wantOff: true},
		{name: "an interceptor", edit: func(c *aws.Config) {
			c.Interceptors.AddBeforeTransmit(beforeTransmit(func(context.Context, *smithyhttp.InterceptorContext) error { return nil }))
		}, wantOff: true},
		{name: "ServiceOptions", edit: func(c *aws.Config) {
			c.ServiceOptions = append(c.ServiceOptions, func(string, any) {})
		}, wantOff: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			awsCfg := loadTestConfig(t, "us-east-1")
			tc.edit(&awsCfg)
			_, _, c := directClients(t, awsCfg, []string{"us-east-1"}, nil, false)
			if got := c.direct.off.Load(); got != tc.wantOff {
				t.Errorf("direct path off: got %v; want %v", got, tc.wantOff)
			}
		})
	}
}

type beforeTransmit func(context.Context, *smithyhttp.InterceptorContext) error

func (f beforeTransmit) BeforeTransmit(ctx context.Context, in *smithyhttp.InterceptorContext) error {
	return f(ctx, in)
}
