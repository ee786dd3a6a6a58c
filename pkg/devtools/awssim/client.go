package awssim

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// ClientConfig is an SDK configuration that signs as the scenario's auditor and
// sends every service to the simulator, as AWS_ENDPOINT_URL would. Extra load
// options come last, so they win.
func (s *Server) ClientConfig(ctx context.Context, region string, opts ...func(*config.LoadOptions) error) (aws.Config, error) {
	return ClientConfigFor(ctx, s.url, s.Auditor(), region, opts...)
}

// ClientConfigFor is ClientConfig for a simulator served elsewhere, such as
// in another process, at url.
func ClientConfigFor(ctx context.Context, url string, a Principal, region string, opts ...func(*config.LoadOptions) error) (aws.Config, error) {
	base := []func(*config.LoadOptions) error{
		config.WithRegion(region),
		config.WithBaseEndpoint(url),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(a.AccessKeyID, a.SecretAccessKey, "")),
		// Ignore the developer's own ~/.aws files: the simulator is the only AWS here.
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
	}
	cfg, err := config.LoadDefaultConfig(ctx, append(base, opts...)...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("simulator client config: %w", err)
	}
	return cfg, nil
}
