package check

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
)

// TestNoTemplateWhereNetHTTPEscapesTheLabel: behind an endpoint path
// net/http cannot send as the SDK's raw path, net/http escapes the model
// id itself (":" as is); a template learned from an id both escape alike
// (no ":") would send later ids escaped as the label is ("%3A"), unlike
// the SDK: no template is learned there, whatever the first id.
func TestNoTemplateWhereNetHTTPEscapesTheLabel(t *testing.T) {
	const plainID = "amazon.titan-embed-text-v1" // nothing the label escapes
	tests := []struct {
		name       string
		endpoint   string
		wantDirect bool
	}{
		{name: "an endpoint path net/http sends raw", endpoint: "https://proxy.example.com/aws/", wantDirect: true},
		{name: "an endpoint path with an escaped byte", endpoint: "https://proxy.example.com/aws%20x/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &capturingHTTP{}
			b, _, _ := directClients(t, loadTestConfig(t, "us-east-1", awsconfig.WithBaseEndpoint(tc.endpoint)), []string{"us-east-1"}, h, false)
			ctx := context.Background()
			for _, id := range []string{plainID, nova} {
				if _, err := b.GetFoundationModelAvailability(ctx, &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String(id)}); err != nil {
					t.Fatal(err)
				}
			}
			second := h.last()
			if _, err := b.GetFoundationModelAvailability(ctx, &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String(nova)}, forceSDKBedrock); err != nil {
				t.Fatal(err)
			}
			sdk := h.last()
			if second.direct != tc.wantDirect {
				t.Fatalf("second call direct: got %v; want %v", second.direct, tc.wantDirect)
			}
			if got, want := second.req.URL.RequestURI(), sdk.req.URL.RequestURI(); got != want {
				t.Errorf("request URI: got %s; want the SDK's %s", got, want)
			}
		})
	}
}
