package awssim

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

const testScenario = `
organization:
  management_account: "999999999999"
  root: r-test
  ous:
    - id: ou-test-prod0001
      name: Production
      ous:
        - id: ou-test-pay00001
          name: Payments
    - id: ou-test-dev00001
      name: Development
role:
  name: GrantwatchAudit
  external_id: ext-123
catalog:
  - {id: "anthropic.claude-3-5-sonnet-20240620-v1:0", provider: Anthropic, regions: [us-east-1, us-west-2]}
  - {id: "amazon.titan-text-express-v1", provider: Amazon, lifecycle: LEGACY, regions: [us-east-1]}
accounts:
  - {id: "111111111111", parent: ou-test-prod0001, tags: {env: prod}}
  - id: "222222222222"
    parent: ou-test-pay00001
    tags: {env: prod, team: pay}
    deny_regions: [us-west-2]
    models:
      "anthropic.claude-3-5-sonnet-20240620-v1:0": {authorization: NOT_AUTHORIZED}
  - {id: "333333333333", parent: ou-test-dev00001, role: deny}
  - {id: "444444444444", state: SUSPENDED}
  - id: "555555555555"
    regions:
      us-west-2:
        models:
          "anthropic.claude-3-5-sonnet-20240620-v1:0": {agreement: ERROR, agreement_error: "No valid payment method"}
pagination: {page_size: 2, empty_pages: true}
`

func startSim(t *testing.T, yaml string, edit func(*Scenario)) *Server {
	t.Helper()
	sc, err := ParseScenario([]byte(yaml))
	if err != nil {
		t.Fatalf("ParseScenario: %v", err)
	}
	if edit != nil {
		edit(sc)
	}
	s, err := New(sc)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func clientConfig(t *testing.T, s *Server, opts ...func(*config.LoadOptions) error) aws.Config {
	t.Helper()
	cfg, err := s.ClientConfig(context.Background(), "us-east-1", opts...)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// memberConfig assumes the audit role in account with the real stscreds provider.
func memberConfig(t *testing.T, s *Server, account, externalID string) aws.Config {
	cfg := clientConfig(t, s)
	provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), "arn:aws:iam::"+account+":role/GrantwatchAudit", func(o *stscreds.AssumeRoleOptions) {
		o.ExternalID = aws.String(externalID)
		o.RoleSessionName = "grantwatch"
		o.Duration = 15 * time.Minute
	})
	cfg.Credentials = aws.NewCredentialsCache(provider)
	return cfg
}

func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

func TestSTS(t *testing.T) {
	s := startSim(t, testScenario, nil)
	ctx := context.Background()

	id, err := sts.NewFromConfig(clientConfig(t, s)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity as auditor: %v", err)
	}
	if got, want := aws.ToString(id.Account), "999999999999"; got != want {
		t.Errorf("auditor account: got %s; want %s", got, want)
	}

	member := memberConfig(t, s, "111111111111", "ext-123")
	id, err = sts.NewFromConfig(member).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity as member: %v", err)
	}
	if got, want := aws.ToString(id.Arn), "arn:aws:sts::111111111111:assumed-role/GrantwatchAudit/grantwatch"; got != want {
		t.Errorf("member arn: got %s; want %s", got, want)
	}

	refused := []struct {
		name, account, externalID, wantCode string
	}{
		{"wrong external id", "111111111111", "guess", "AccessDenied"},
		{"trust denies auditor", "333333333333", "ext-123", "AccessDenied"},
		{"suspended account", "444444444444", "ext-123", "AccessDenied"},
		{"account outside the scenario", "123456789012", "ext-123", "AccessDenied"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := memberConfig(t, s, tt.account, tt.externalID).Credentials.Retrieve(ctx)
			if got := errorCode(err); got != tt.wantCode {
				t.Errorf("AssumeRole: got code %q (%v); want %q", got, err, tt.wantCode)
			}
		})
	}
	t.Run("role chaining longer than an hour", func(t *testing.T) {
		client := sts.NewFromConfig(clientConfig(t, s))
		_, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{
			RoleArn: aws.String("arn:aws:iam::111111111111:role/GrantwatchAudit"), RoleSessionName: aws.String("grantwatch"),
			ExternalId: aws.String("ext-123"), DurationSeconds: aws.Int32(7200),
		})
		var apiErr smithy.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ValidationError" || !strings.Contains(apiErr.ErrorMessage(), "role chaining") {
			t.Errorf("AssumeRole for 2h from a role session: got %v; want ValidationError about role chaining", err)
		}
	})
	if got := s.AssumeRoleCalls()["111111111111"]; got != 3 {
		t.Errorf("AssumeRole calls for 111111111111: got %d; want 3", got)
	}

	t.Run("wrong secret", func(t *testing.T) {
		cfg := clientConfig(t, s, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(s.Auditor().AccessKeyID, "wrong", "")))
		_, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if got, want := errorCode(err), "SignatureDoesNotMatch"; got != want {
			t.Errorf("got code %q (%v); want %q", got, err, want)
		}
	})
	t.Run("wrong secret, JSON services", func(t *testing.T) {
		cfg := clientConfig(t, s, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(s.Auditor().AccessKeyID, "wrong", "")))
		_, orgErr := organizations.NewFromConfig(cfg).ListRoots(ctx, &organizations.ListRootsInput{})
		_, bedrockErr := bedrock.NewFromConfig(cfg).ListFoundationModels(ctx, &bedrock.ListFoundationModelsInput{})
		for name, err := range map[string]error{"organizations": orgErr, "bedrock": bedrockErr} {
			if got, want := errorCode(err), "InvalidSignatureException"; got != want {
				t.Errorf("%s: got code %q (%v); want %q", name, got, err, want)
			}
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		cfg := clientConfig(t, s, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIANOBODY", "x", "")))
		_, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if got, want := errorCode(err), "InvalidClientTokenId"; got != want {
			t.Errorf("got code %q (%v); want %q", got, err, want)
		}
	})
}

func TestOrganizationsPaginatesThroughEmptyPages(t *testing.T) {
	s := startSim(t, testScenario, nil)
	ctx := context.Background()
	client := organizations.NewFromConfig(clientConfig(t, s))

	var ids []string
	var states []orgtypes.AccountState
	pages := organizations.NewListAccountsPaginator(client, &organizations.ListAccountsInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListAccounts: %v", err)
		}
		for _, a := range page.Accounts {
			ids = append(ids, aws.ToString(a.Id))
			states = append(states, a.State)
		}
	}
	if want := []string{"111111111111", "222222222222", "333333333333", "444444444444", "555555555555"}; !slices.Equal(ids, want) {
		t.Errorf("ListAccounts: got %v; want %v", ids, want)
	}
	if states[3] != orgtypes.AccountStateSuspended {
		t.Errorf("state of 444444444444: got %s; want SUSPENDED", states[3])
	}
	// 5 accounts in pages of 2, each page preceded by an empty one.
	if got, want := s.Calls(OpListAccounts), int64(6); got != want {
		t.Errorf("ListAccounts calls: got %d; want %d", got, want)
	}

	children, err := client.ListChildren(ctx, &organizations.ListChildrenInput{ParentId: aws.String("ou-test-prod0001"), ChildType: orgtypes.ChildTypeOrganizationalUnit, NextToken: aws.String(token(0, true))})
	if err != nil || len(children.Children) != 1 || aws.ToString(children.Children[0].Id) != "ou-test-pay00001" {
		t.Errorf("ListChildren of ou-test-prod0001: got %+v, %v; want ou-test-pay00001", children, err)
	}
	parents, err := client.ListParents(ctx, &organizations.ListParentsInput{ChildId: aws.String("222222222222"), NextToken: aws.String(token(0, true))})
	if err != nil || aws.ToString(parents.Parents[0].Id) != "ou-test-pay00001" {
		t.Errorf("ListParents of 222222222222: got %+v, %v; want ou-test-pay00001", parents, err)
	}
	_, err = client.ListAccountsForParent(ctx, &organizations.ListAccountsForParentInput{ParentId: aws.String("ou-nope-00000000")})
	if got, want := errorCode(err), "ParentNotFoundException"; got != want {
		t.Errorf("unknown parent: got code %q; want %q", got, want)
	}

	member := organizations.NewFromConfig(memberConfig(t, s, "111111111111", "ext-123"))
	_, err = member.ListRoots(ctx, &organizations.ListRootsInput{})
	if got, want := errorCode(err), "AccessDeniedException"; got != want {
		t.Errorf("member account calling Organizations: got code %q; want %q", got, want)
	}
}

func TestBedrockAnswersPerAccountAndRegion(t *testing.T) {
	s := startSim(t, testScenario, nil)
	ctx := context.Background()
	claude := "anthropic.claude-3-5-sonnet-20240620-v1:0"

	availability := func(account, region, model string) (*bedrock.GetFoundationModelAvailabilityOutput, error) {
		cfg := memberConfig(t, s, account, "ext-123")
		return bedrock.NewFromConfig(cfg, func(o *bedrock.Options) { o.Region = region }).
			GetFoundationModelAvailability(ctx, &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String(model)})
	}
	tests := []struct {
		name, account, region, model string
		wantCode                     string
		want                         func(*bedrock.GetFoundationModelAvailabilityOutput) bool
	}{
		{"defaults are all positive", "111111111111", "us-east-1", claude, "", func(o *bedrock.GetFoundationModelAvailabilityOutput) bool {
			return o.AgreementAvailability.Status == types.AgreementStatusAvailable && o.AuthorizationStatus == types.AuthorizationStatusAuthorized && o.RegionAvailability == types.RegionAvailabilityAvailable
		}},
		{"account override", "222222222222", "us-east-1", claude, "", func(o *bedrock.GetFoundationModelAvailabilityOutput) bool {
			return o.AuthorizationStatus == types.AuthorizationStatusNotAuthorized
		}},
		{"region override with error message", "555555555555", "us-west-2", claude, "", func(o *bedrock.GetFoundationModelAvailabilityOutput) bool {
			return o.AgreementAvailability.Status == types.AgreementStatusError && aws.ToString(o.AgreementAvailability.ErrorMessage) == "No valid payment method"
		}},
		{"region override stays in its region", "555555555555", "us-east-1", claude, "", func(o *bedrock.GetFoundationModelAvailabilityOutput) bool {
			return o.AgreementAvailability.Status == types.AgreementStatusAvailable
		}},
		{"model not offered in region", "111111111111", "eu-west-1", claude, "", func(o *bedrock.GetFoundationModelAvailabilityOutput) bool {
			return o.RegionAvailability == types.RegionAvailabilityNotAvailable
		}},
		{"unknown model", "111111111111", "us-east-1", "anthropic.claude-typo", "ValidationException", nil},
		{"a profile id is not a model id", "111111111111", "us-east-1", "us." + claude, "ValidationException", nil},
		{"scp denies region", "222222222222", "us-west-2", claude, "AccessDeniedException", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := availability(tt.account, tt.region, tt.model)
			if got := errorCode(err); got != tt.wantCode {
				t.Fatalf("error code: got %q (%v); want %q", got, err, tt.wantCode)
			}
			if tt.want != nil && !tt.want(out) {
				t.Errorf("answer: got %+v %+v", out, out.AgreementAvailability)
			}
		})
	}

	list, err := bedrock.NewFromConfig(memberConfig(t, s, "111111111111", "ext-123")).ListFoundationModels(ctx, &bedrock.ListFoundationModelsInput{})
	if err != nil {
		t.Fatalf("ListFoundationModels: %v", err)
	}
	var lifecycles []string
	for _, m := range list.ModelSummaries {
		lifecycles = append(lifecycles, aws.ToString(m.ModelId)+"="+string(m.ModelLifecycle.Status))
	}
	if want := []string{claude + "=ACTIVE", "amazon.titan-text-express-v1=LEGACY"}; !slices.Equal(lifecycles, want) {
		t.Errorf("ListFoundationModels in us-east-1: got %v; want %v", lifecycles, want)
	}
	if got, want := s.Calls(OpGetFoundationModelAvailability), int64(len(tests)); got != want {
		t.Errorf("availability calls: got %d; want %d", got, want)
	}
}

func TestThrottlingFaultsAndLatency(t *testing.T) {
	ctx := context.Background()
	claude := "anthropic.claude-3-5-sonnet-20240620-v1:0"
	call := func(s *Server, region string, attempts int) error {
		cfg := clientConfig(t, s, config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = attempts; o.MaxBackoff = time.Millisecond })
		}))
		_, err := bedrock.NewFromConfig(cfg, func(o *bedrock.Options) { o.Region = region }).
			GetFoundationModelAvailability(ctx, &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String(claude)})
		return err
	}

	t.Run("throttled every time", func(t *testing.T) {
		s := startSim(t, testScenario, func(sc *Scenario) { sc.Throttling = []Rule{{Region: "us-east-1", Rate: 1}} })
		err := call(s, "us-east-1", 3)
		var maxErr *retry.MaxAttemptsError
		if got := errorCode(err); got != "ThrottlingException" || !errors.As(err, &maxErr) {
			t.Errorf("got %v; want ThrottlingException after max attempts", err)
		}
		if got := s.Calls(OpGetFoundationModelAvailability); got != 3 {
			t.Errorf("attempts: got %d; want 3", got)
		}
		if err := call(s, "us-west-2", 1); err != nil {
			t.Errorf("other region: got %v; want no throttling", err)
		}
	})
	t.Run("two faults then success", func(t *testing.T) {
		s := startSim(t, testScenario, func(sc *Scenario) {
			sc.Faults = []Rule{{Operation: OpGetFoundationModelAvailability, Count: 2, Status: 503}}
		})
		if err := call(s, "us-east-1", 3); err != nil {
			t.Errorf("got %v; want success on the third attempt", err)
		}
		if got := s.Calls(OpGetFoundationModelAvailability); got != 3 {
			t.Errorf("attempts: got %d; want 3", got)
		}
	})
	t.Run("fault is a typed server error", func(t *testing.T) {
		s := startSim(t, testScenario, func(sc *Scenario) { sc.Faults = []Rule{{Rate: 1, Status: 500}} })
		if got, want := errorCode(call(s, "us-east-1", 1)), "InternalServerException"; got != want {
			t.Errorf("got code %q; want %q", got, want)
		}
	})
	t.Run("slow region", func(t *testing.T) {
		s := startSim(t, testScenario, func(sc *Scenario) {
			sc.Latency = Latency{ByRegion: map[string]Latency{"us-west-2": {Fixed: Duration(150 * time.Millisecond)}}}
		})
		start := time.Now()
		if err := call(s, "us-west-2", 1); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got < 150*time.Millisecond {
			t.Errorf("slow region answered in %v; want at least 150ms", got)
		}
	})
}

func TestParseScenarioRejects(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "acounts: []", "field acounts not found"},
		{"bad account id", "accounts: [{id: '12'}]", `accounts[0].id: "12"`},
		{"unknown parent", "accounts: [{id: '111111111111', parent: ou-x}]", `accounts[0].parent: no OU "ou-x"`},
		{"bad state", "accounts: [{id: '111111111111', models: {m: {agreement: MAYBE}}}]", `accounts[0].models[m].agreement: "MAYBE"`},
		{"bad fault status", "faults: [{status: 404, rate: 1}]", "faults[0].status: 404"},
		{"bad rate", "throttling: [{rate: 2}]", "rate 2"},
		{"bad inference type", "catalog: [{id: m, inference_types: [BATCH]}]", `catalog[0].inference_types[0]: "BATCH"`},
		{"profile of an unknown model", "profiles: [{id: us.m, model: m, sources: [us-east-1]}]", `profiles[0].model: no catalog model "m"`},
		{"profile without sources", "catalog: [{id: m}]\nprofiles: [{id: us.m, model: m}]", "profiles[0].sources: empty"},
		{"application profile of nothing", "accounts: [{id: '111111111111', application_profiles: [{id: x, region: us-east-1, copy_from: y}]}]", `accounts[0].application_profiles[0].copy_from: no profile or catalog model "y"`},
		{"bad use-case form account", "use_case_forms: ['12']", `use_case_forms[0]: "12"`},
		{"opt-in form in a commercial region", "opt_in_use_case_forms: {us-east-1: ['111111111111']}", "opt_in_use_case_forms[us-east-1]: not an opt-in region"},
		{"unknown opt-in region", "opt_in_regions: [mars-1]", `opt_in_regions[0]: unknown region "mars-1"`},
		{"policy that is not JSON", "accounts: [{id: '111111111111', roles: [{name: R, policies: {p: 'allow all'}}]}]", "accounts[0].roles[0].policies[p]: not a policy document"},
		{"condition operator not evaluated", `accounts: [{id: '111111111111', roles: [{name: R, policies: {p: '{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}}'}}]}]`, "accounts[0].roles[0].policies[p]: Statement[0].Condition.IpAddress: not a condition operator the simulator evaluates"},
		{"scp target", `scps: [{targets: [nowhere], document: '{"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}'}]`, `scps[0].targets[0]: "nowhere"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseScenario([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v; want an error containing %q", err, tt.want)
			}
		})
	}
}
