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
	a := s.sc.Auditor
	base := []func(*config.LoadOptions) error{
		config.WithRegion(region),
		config.WithBaseEndpoint(s.url),
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
