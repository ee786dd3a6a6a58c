// Package audit runs one audit: it finds the accounts, assumes the audit role
// once in each, checks every required model in every region with bounded
// concurrency, and returns the results in a stable order with a summary.
package audit

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/grantwatch/grantwatch/pkg/check"
	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/org"
	"github.com/grantwatch/grantwatch/pkg/result"
)

// Report is what a run found.
type Report struct {
	Summary result.Summary  `json:"run"`
	Results []result.Result `json:"results"`
}

// BedrockFactory returns a Bedrock client for one region signing with creds.
type BedrockFactory func(region string, creds aws.CredentialsProvider) check.BedrockAPI

// Auditor runs audits for one configuration. It is safe to reuse across runs.
type Auditor struct {
	cfg        *config.Config
	sts        stscreds.AssumeRoleAPIClient
	org        org.API
	newBedrock BedrockFactory
	logger     *slog.Logger
	progress   func(done, total int)
	now        func() time.Time
}

// Option changes how New builds an Auditor.
type Option func(*Auditor)

// WithLogger sets the logger; by default nothing is logged.
func WithLogger(l *slog.Logger) Option { return func(a *Auditor) { a.logger = l } }

// WithProgress calls fn after every finished check with the checks done so far
// and planned. It is called from many goroutines at once.
func WithProgress(fn func(done, total int)) Option { return func(a *Auditor) { a.progress = fn } }

// WithSTS replaces the STS client that assumes the audit roles.
func WithSTS(c stscreds.AssumeRoleAPIClient) Option { return func(a *Auditor) { a.sts = c } }

// WithOrganizations replaces the Organizations client used for discovery.
func WithOrganizations(c org.API) Option { return func(a *Auditor) { a.org = c } }

// WithBedrock replaces how Bedrock clients are made.
func WithBedrock(f BedrockFactory) Option { return func(a *Auditor) { a.newBedrock = f } }

// WithClock replaces time.Now for the run's timestamps.
func WithClock(now func() time.Time) Option { return func(a *Auditor) { a.now = now } }

// New builds an Auditor. awsCfg is the auditor's own configuration (credentials,
// endpoints from AWS_ENDPOINT_URL*, region); New tunes its retries and connection
// pool for the configured limits.
func New(cfg *config.Config, awsCfg aws.Config, opts ...Option) *Auditor {
	awsCfg = tune(awsCfg, cfg.Limits)
	if awsCfg.Region == "" {
		awsCfg.Region = cfg.Regions[0]
	}
	a := &Auditor{
		cfg:    cfg,
		sts:    sts.NewFromConfig(awsCfg),
		logger: slog.New(slog.DiscardHandler),
		now:    time.Now,
		newBedrock: func(region string, creds aws.CredentialsProvider) check.BedrockAPI {
			return bedrock.NewFromConfig(awsCfg, func(o *bedrock.Options) {
				o.Region = region
				o.Credentials = creds
			})
		},
	}
	if cfg.Accounts.Organizations.Enabled {
		a.org = organizations.NewFromConfig(awsCfg)
	}
	for _, opt := range opts {
		opt(a)
	}
	return a
}

// tune sets the SDK's retries and connection pool for an audit.
//
// Retries: the standard retryer, with the configured attempts and backoff, but
// without its client-side retry quota. A quota is shared by every call of a
// client, so one throttled account would drain it and make healthy accounts
// fail with "retry quota exceeded"; limits.concurrency and
// limits.per_account_region bound the load instead.
//
// Connections: every account signs its own requests but they go to the same
// regional endpoint, so keep as many idle connections per host as calls can be
// in flight; the default of 10 would reopen connections under load.
func tune(awsCfg aws.Config, l config.Limits) aws.Config {
	awsCfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = l.MaxAttempts
			o.MaxBackoff = l.MaxBackoff.Std()
			o.RateLimiter = ratelimit.None
		})
	}
	awsCfg.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = l.Concurrency * 2
		t.MaxIdleConnsPerHost = l.Concurrency
	})
	return awsCfg
}
