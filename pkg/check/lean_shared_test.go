package check

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/grantwatch/grantwatch/pkg/config"
)

// TestDirectRequestsLeaveTheTemplateAlone: a direct request shares the
// template's header value slices (send). Signed by the plan and by the
// SDK's signer (which writes X-Amz-Date, X-Amz-Security-Token and
// Authorization in place), and through a followed 307 (net/http's redirect
// copies headers, limitedRedirect deletes one), the template's headers are
// what they were, and each request carries its own signature.
func TestDirectRequestsLeaveTheTemplateAlone(t *testing.T) {
	var auths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			w.Header().Set("Location", "/ok")
			w.WriteHeader(http.StatusTemporaryRedirect)
			return
		}
		auths = append(auths, r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	header := http.Header{
		"User-Agent":      {"aws-sdk-go-v2/1.48.0"},
		"Amz-Sdk-Request": {"attempt=1; max=3"},
		"X-Custom":        {"a  b", " c "},
	}
	header = header.Clone() // as templateOf keeps it: no spare capacity
	want := header.Clone()
	plan, ok := planOf(header)
	if !ok {
		t.Fatal("no plan for the template's headers")
	}
	cfg := &config.Config{}
	cfg.ApplyDefaults()
	client := directHTTPClient(tune(aws.Config{}, cfg.Limits).HTTPClient)
	d := &direct{state: newDirectState(), region: "us-east-1", http: client,
		creds:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", "TOKEN"),
		signer: v4.NewSigner()}
	for _, tc := range []struct {
		name string
		plan *signPlan
		path string
	}{
		{name: "the plan signs", plan: plan, path: "/ok"},
		{name: "the SDK's signer signs", plan: nil, path: "/ok"},
		{name: "a followed 307", plan: plan, path: "/redirect"},
		{name: "a followed 307, the SDK's signer", plan: nil, path: "/redirect"},
	} {
		tpl := &template{method: http.MethodGet, base: srv.URL, header: header, signingName: "bedrock", signingRegion: "us-east-1", plan: tc.plan}
		x := d.send(context.Background(), tpl, tc.path, "", nil)
		if x.err != nil || x.resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: got %v, %v; want 200", tc.name, x.resp, x.err)
		}
		x.release()
		if !reflect.DeepEqual(tpl.header, want) {
			t.Errorf("%s: template headers got %v; want %v", tc.name, tpl.header, want)
		}
	}
	if len(auths) != 4 || auths[0] == "" || auths[1] == "" {
		t.Errorf("Authorization seen: got %q; want one per request", auths)
	}
}
