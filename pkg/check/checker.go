package check

import (
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/defaults"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/account"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/grantwatch/grantwatch/pkg/config"
)

// BedrockFactory returns a Bedrock client for one region signing with creds.
type BedrockFactory func(region string, creds aws.CredentialsProvider) BedrockAPI

// IAMFactory returns an IAM client signing with creds.
type IAMFactory func(creds aws.CredentialsProvider) IAMAPI

// AccountFactory returns an Account Management client signing with creds.
type AccountFactory func(creds aws.CredentialsProvider) RegionLister

// Checker runs the checks of a plan for one configuration. It is safe to
// reuse across runs.
type Checker struct {
	cfg        *config.Config
	sts        stscreds.AssumeRoleAPIClient
	newBedrock BedrockFactory
	newIAM     IAMFactory
	newAccount AccountFactory
	logger     *slog.Logger
	progress   func(done, total int)
	now        func() time.Time
	// exhaustive turns off the principal simulations' shortcuts; only
	// tests set it, to show the shortcuts keep every verdict.
	exhaustive bool
	// direct is the direct path of the most frequent calls (lean.go).
	direct *directState
}

// Option changes how New builds a Checker.
type Option func(*Checker)

// WithLogger sets the logger; by default nothing is logged.
func WithLogger(l *slog.Logger) Option { return func(c *Checker) { c.logger = l } }

// WithProgress calls fn after every finished check with the checks done so far
// and planned. It is called from many goroutines at once.
func WithProgress(fn func(done, total int)) Option { return func(c *Checker) { c.progress = fn } }

// WithSTS replaces the STS client that assumes the audit roles.
func WithSTS(api stscreds.AssumeRoleAPIClient) Option { return func(c *Checker) { c.sts = api } }

// WithBedrock replaces how Bedrock clients are made.
func WithBedrock(f BedrockFactory) Option { return func(c *Checker) { c.newBedrock = f } }

// WithIAM replaces how IAM clients are made.
func WithIAM(f IAMFactory) Option { return func(c *Checker) { c.newIAM = f } }

// WithAccount replaces how Account Management clients are made.
func WithAccount(f AccountFactory) Option { return func(c *Checker) { c.newAccount = f } }

// WithClock replaces time.Now for the run's finish time.
func WithClock(now func() time.Time) Option { return func(c *Checker) { c.now = now } }

// New builds a Checker. awsCfg is the auditor's own configuration (credentials,
// endpoints from AWS_ENDPOINT_URL*, region); New tunes its retries and connection
// pool for the configured limits.
func New(cfg *config.Config, awsCfg aws.Config, opts ...Option) *Checker {
	// The direct path of the run's most frequent calls (see lean.go). It
	// stays off for a configuration that adds its own middleware,
	// interceptors or per-service options, or asks the SDK to log
	// requests: those run only on the SDK's stack.
	direct := newDirectState()
	if len(awsCfg.APIOptions) > 0 || awsCfg.ClientLogMode != 0 || len(awsCfg.ServiceOptions) > 0 || anyInterceptor(awsCfg.Interceptors) {
		direct.off.Store(true)
	}
	awsCfg = tune(awsCfg, cfg.Limits)
	directHTTP := directHTTPClient(awsCfg.HTTPClient)
	if awsCfg.Region == "" {
		awsCfg.Region = cfg.Regions[0]
	}
	// One memoized endpoint resolver per service for all the Checker's
	// clients (see endpoints).
	bedrockEP, iamEP, accountEP := bedrockEndpoints(), iamEndpoints(), accountEndpoints()
	c := &Checker{
		cfg:    cfg,
		sts:    sts.NewFromConfig(awsCfg),
		logger: slog.New(slog.DiscardHandler),
		now:    time.Now,
		direct: direct,
		newBedrock: func(region string, creds aws.CredentialsProvider) BedrockAPI {
			client := bedrock.NewFromConfig(awsCfg, func(o *bedrock.Options) {
				o.Region = region
				o.Credentials = creds
				o.EndpointResolverV2 = bedrockEP
			})
			return &directBedrock{Client: client, d: direct.client(region, directHTTP, creds)}
		},
		// IAM is global: any region of the partition reaches its endpoint.
		newIAM: func(creds aws.CredentialsProvider) IAMAPI {
			client := iam.NewFromConfig(awsCfg, func(o *iam.Options) {
				o.Region = cfg.Regions[0]
				o.Credentials = creds
				o.EndpointResolverV2 = iamEP
			})
			return &directIAM{Client: client, d: direct.client(cfg.Regions[0], directHTTP, creds)}
		},
		// The Account Management API is global too: the SDK sends any
		// region of the partition to its one endpoint.
		newAccount: func(creds aws.CredentialsProvider) RegionLister {
			return account.NewFromConfig(awsCfg, func(o *account.Options) {
				o.Region = cfg.Regions[0]
				o.Credentials = creds
				o.EndpointResolverV2 = accountEP
			})
		},
	}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// anyInterceptor reports whether r holds an interceptor of any kind (the
// SDK's configuration loading leaves every list empty, not nil).
func anyInterceptor(r smithyhttp.InterceptorRegistry) bool {
	v := reflect.ValueOf(r)
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Slice && f.Len() > 0 {
			return true
		}
	}
	return false
}

// tune sets the SDK's retries and connection pool for an audit.
//
// Retries: the standard retryer, with the configured attempts and backoff, but
// without its client-side retry quota. A quota is shared by every call of a
// client, so one throttled account would drain it and make healthy accounts
// fail with "retry quota exceeded"; limits.concurrency and
// limits.per_account_region bound the load instead.
//
// Attempts: each attempt is bounded by limits.attempt_timeout.
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
	// Each attempt is one HTTP request, bounded by limits.attempt_timeout,
	// so that a call's attempts and waits fit in limits.call_timeout.
	client := awshttp.NewBuildableClient().WithTimeout(l.AttemptTimeout.Std()).WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = l.Concurrency * 2
		t.MaxIdleConnsPerHost = l.Concurrency
	})
	awsCfg.HTTPClient = sendBodyWithHeaders{withDefaultsMode(client, awsCfg)}
	// Per-call work the audit does not need (see leanStack), and a lean
	// decoder for simulation answers (see leanSimulation).
	awsCfg.APIOptions = append(slices.Clip(awsCfg.APIOptions), leanStack, leanSimulationStack)
	return awsCfg
}

// withDefaultsMode applies the connect and TLS handshake timeouts of the
// SDK's defaults mode (AWS_DEFAULTS_MODE, defaults_mode). Each service
// client does so itself only for an *awshttp.BuildableClient (its
// resolveHTTPClient returns early for any other client), and the run's
// client is sendBodyWithHeaders around one, so tune does it here, once for
// the transport every client shares. "legacy" (the default) sets none, as
// before. "auto" resolves per client region to in-region (1.1 s) or
// cross-region (3.1 s); one transport serves every region, so it takes the
// longer. The opt-in read timeout of the IAM, STS and Organizations
// clients (AWS_ENABLE_DEFAULT_SOCKET_TIMEOUT_2026: 5 minutes) is not
// applied: limits.attempt_timeout bounds every attempt whole, 5 s by
// default. ledger: PROTO-sdk-defaults-mode
func withDefaultsMode(b *awshttp.BuildableClient, awsCfg aws.Config) *awshttp.BuildableClient {
	mode := awsCfg.DefaultsMode
	if mode == aws.DefaultsModeAuto {
		mode = aws.DefaultsModeCrossRegion
	}
	conf, err := defaults.GetModeConfiguration(mode)
	if err != nil { // legacy or unset: the SDK sets no timeout either
		return b
	}
	if d, ok := conf.GetConnectTimeout(); ok {
		b = b.WithDialerOptions(func(dialer *net.Dialer) { dialer.Timeout = d })
	}
	if d, ok := conf.GetTLSNegotiationTimeout(); ok {
		b = b.WithTransportOptions(func(t *http.Transport) { t.TLSHandshakeTimeout = d })
	}
	return b
}
