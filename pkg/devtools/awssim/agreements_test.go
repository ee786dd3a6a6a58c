package awssim

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

const claude = "anthropic.claude-3-5-sonnet-20240620-v1:0"

const agreementScenario = `
organization: {management_account: "999999999999"}
role: {name: GrantwatchAudit, external_id: ext-123}
catalog:
  - {id: "anthropic.claude-3-5-sonnet-20240620-v1:0", provider: Anthropic, regions: [us-east-1, eu-west-1]}
  - {id: "amazon.nova-pro-v1:0", provider: Amazon, regions: [us-east-1]}
use_case_forms: []
defaults: {agreement: NOT_AVAILABLE}
agreements: {delay: 300ms, private_offers: {"anthropic.claude-3-5-sonnet-20240620-v1:0": [offer-private-1]}}
accounts:
  - {id: "999999999999"}
  - {id: "111111111111"}
  - {id: "222222222222", marketplace_denied: true}
  - {id: "333333333333", remediation: missing}
  - {id: "444444444444", agreement_fails: "No valid payment method for AWS Marketplace purchases."}
`

// roleConfig signs as a session of role in account, assumed by the auditor.
func roleConfig(t *testing.T, s *Server, account, role string) aws.Config {
	t.Helper()
	cfg := clientConfig(t, s)
	provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), "arn:aws:iam::"+account+":role/"+role, func(o *stscreds.AssumeRoleOptions) {
		o.ExternalID = aws.String("ext-123")
		o.RoleSessionName = "grantwatch-fix"
	})
	cfg.Credentials = aws.NewCredentialsCache(provider)
	return cfg
}

func remediationClient(t *testing.T, s *Server, account, region string) *bedrock.Client {
	return bedrock.NewFromConfig(roleConfig(t, s, account, DefaultRemediationRole), func(o *bedrock.Options) { o.Region = region })
}

func agreementStatus(t *testing.T, api *bedrock.Client, model string) types.AgreementStatus {
	t.Helper()
	out, err := api.GetFoundationModelAvailability(context.Background(), &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String(model)})
	if err != nil {
		t.Fatalf("GetFoundationModelAvailability: %v", err)
	}
	return out.AgreementAvailability.Status
}

func TestAgreementOffers(t *testing.T) {
	s := startSim(t, agreementScenario, nil)
	api := bedrockFor(t, s, "111111111111", "us-east-1")
	ctx := context.Background()
	tests := []struct {
		name      string
		model     string
		offerType types.OfferType
		wantN     int
		wantCode  string
	}{
		{"a Marketplace model has one public offer", claude, types.OfferTypePublic, 1, ""},
		{"ALL adds the private offer", claude, types.OfferTypeAll, 2, ""},
		{"an Amazon model is not sold through Marketplace: no offer", "amazon.nova-pro-v1:0", "", 0, ""},
		{"an unknown model is not found", "anthropic.claude-nope-v1:0", "", 0, "ResourceNotFoundException"},
		{"an offer type outside the enum is refused", claude, "PRIVATE", 0, "ValidationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := api.ListFoundationModelAgreementOffers(ctx, &bedrock.ListFoundationModelAgreementOffersInput{ModelId: aws.String(tt.model), OfferType: tt.offerType})
			if got := errorCode(err); got != tt.wantCode {
				t.Fatalf("error code: got %q (%v); want %q", got, err, tt.wantCode)
			}
			if err != nil {
				return
			}
			if got := len(out.Offers); got != tt.wantN {
				t.Fatalf("offers: got %d; want %d", got, tt.wantN)
			}
			if got := aws.ToString(out.ModelId); got != tt.model {
				t.Errorf("modelId: got %q; want %q", got, tt.model)
			}
			for _, o := range out.Offers {
				if aws.ToString(o.OfferToken) == "" || aws.ToString(o.OfferId) == "" || o.TermDetails == nil || o.TermDetails.UsageBasedPricingTerm == nil || len(o.TermDetails.UsageBasedPricingTerm.RateCard) == 0 || o.TermDetails.LegalTerm == nil {
					t.Errorf("offer %+v: want a token, an id, a rate card and a legal term, as the SDK deserializes them", o)
				}
			}
		})
	}
}

func TestCreateAgreement(t *testing.T) {
	s := startSim(t, agreementScenario, nil)
	ctx := context.Background()
	offer := func(t *testing.T, account, region string) string {
		out, err := bedrockFor(t, s, account, region).ListFoundationModelAgreementOffers(ctx, &bedrock.ListFoundationModelAgreementOffersInput{ModelId: aws.String(claude)})
		if err != nil || len(out.Offers) != 1 {
			t.Fatalf("ListFoundationModelAgreementOffers: %v", err)
		}
		return aws.ToString(out.Offers[0].OfferToken)
	}

	t.Run("the remediation role creates it: PENDING at once, AVAILABLE after the delay", func(t *testing.T) {
		api := remediationClient(t, s, "111111111111", "us-east-1")
		out, err := api.CreateFoundationModelAgreement(ctx, &bedrock.CreateFoundationModelAgreementInput{ModelId: aws.String(claude), OfferToken: aws.String(offer(t, "111111111111", "us-east-1"))})
		if err != nil {
			t.Fatalf("CreateFoundationModelAgreement: %v", err)
		}
		if got := aws.ToString(out.ModelId); got != claude {
			t.Errorf("modelId: got %q; want %q", got, claude)
		}
		if got := agreementStatus(t, api, claude); got != types.AgreementStatusPending {
			t.Errorf("right after: got %s; want PENDING", got)
		}
		other := remediationClient(t, s, "111111111111", "eu-west-1")
		if got := agreementStatus(t, other, claude); got != types.AgreementStatusPending {
			t.Errorf("another region: got %s; want PENDING (the subscription is the account's, in every region)", got)
		}
		_, err = other.CreateFoundationModelAgreement(ctx, &bedrock.CreateFoundationModelAgreementInput{ModelId: aws.String(claude), OfferToken: aws.String(offer(t, "111111111111", "eu-west-1"))})
		if got := errorCode(err); got != "ConflictException" {
			t.Errorf("a create in another region: got %q (%v); want ConflictException", got, err)
		}
		if got := agreementStatus(t, remediationClient(t, s, "999999999999", "us-east-1"), claude); got != types.AgreementStatusNotAvailable {
			t.Errorf("another account: got %s; want NOT_AVAILABLE", got)
		}
		time.Sleep(350 * time.Millisecond)
		if got := agreementStatus(t, api, claude); got != types.AgreementStatusAvailable {
			t.Errorf("after the delay: got %s; want AVAILABLE", got)
		}
		_, err = api.CreateFoundationModelAgreement(ctx, &bedrock.CreateFoundationModelAgreementInput{ModelId: aws.String(claude), OfferToken: aws.String(offer(t, "111111111111", "us-east-1"))})
		if got := errorCode(err); got != "ConflictException" {
			t.Errorf("a second create: got %q (%v); want ConflictException", got, err)
		}
		if _, err := api.DeleteFoundationModelAgreement(ctx, &bedrock.DeleteFoundationModelAgreementInput{ModelId: aws.String(claude)}); err != nil {
			t.Fatalf("DeleteFoundationModelAgreement: %v", err)
		}
		if got := agreementStatus(t, api, claude); got != types.AgreementStatusNotAvailable {
			t.Errorf("after delete: got %s; want NOT_AVAILABLE", got)
		}
		if got := agreementStatus(t, other, claude); got != types.AgreementStatusNotAvailable {
			t.Errorf("after delete, another region: got %s; want NOT_AVAILABLE", got)
		}
	})

	t.Run("an account that cannot buy on Marketplace: PENDING, then ERROR with the message", func(t *testing.T) {
		api := remediationClient(t, s, "444444444444", "us-east-1")
		if _, err := api.CreateFoundationModelAgreement(ctx, &bedrock.CreateFoundationModelAgreementInput{ModelId: aws.String(claude), OfferToken: aws.String(offer(t, "444444444444", "us-east-1"))}); err != nil {
			t.Fatalf("CreateFoundationModelAgreement: %v", err)
		}
		if got := agreementStatus(t, api, claude); got != types.AgreementStatusPending {
			t.Errorf("right after: got %s; want PENDING", got)
		}
		time.Sleep(350 * time.Millisecond)
		out, err := api.GetFoundationModelAvailability(ctx, &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String(claude)})
		if err != nil {
			t.Fatalf("GetFoundationModelAvailability: %v", err)
		}
		if got, msg := out.AgreementAvailability.Status, aws.ToString(out.AgreementAvailability.ErrorMessage); got != types.AgreementStatusError || msg == "" {
			t.Errorf("after the delay: got %s %q; want ERROR with the account's message", got, msg)
		}
	})

	tests := []struct {
		name     string
		account  string
		role     string
		token    func(t *testing.T) string
		wantCode string
	}{
		{"the read-only audit role is denied", "111111111111", "GrantwatchAudit", func(t *testing.T) string { return offer(t, "111111111111", "eu-west-1") }, "AccessDeniedException"},
		{"an SCP denying aws-marketplace:Subscribe denies it", "222222222222", DefaultRemediationRole, func(t *testing.T) string { return offer(t, "222222222222", "eu-west-1") }, "AccessDeniedException"},
		{"a made-up offer token is refused", "111111111111", DefaultRemediationRole, func(*testing.T) string { return "not-a-token" }, "ValidationException"},
		{"another region's token is refused", "111111111111", DefaultRemediationRole, func(t *testing.T) string { return offer(t, "111111111111", "us-east-1") }, "ValidationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := bedrock.NewFromConfig(roleConfig(t, s, tt.account, tt.role), func(o *bedrock.Options) { o.Region = "eu-west-1" })
			_, err := api.CreateFoundationModelAgreement(ctx, &bedrock.CreateFoundationModelAgreementInput{ModelId: aws.String(claude), OfferToken: aws.String(tt.token(t))})
			if got := errorCode(err); got != tt.wantCode {
				t.Fatalf("got %q (%v); want %q", got, err, tt.wantCode)
			}
			if got := agreementStatus(t, bedrockFor(t, s, tt.account, "eu-west-1"), claude); got != types.AgreementStatusNotAvailable {
				t.Errorf("after a refused create: got %s; want NOT_AVAILABLE", got)
			}
		})
	}

	t.Run("a model not sold through Marketplace has no valid token: ValidationException", func(t *testing.T) {
		_, err := remediationClient(t, s, "111111111111", "us-east-1").CreateFoundationModelAgreement(ctx, &bedrock.CreateFoundationModelAgreementInput{
			ModelId: aws.String("amazon.nova-pro-v1:0"), OfferToken: aws.String(offerToken("amazon.nova-pro-v1:0", "us-east-1"))})
		if got := errorCode(err); got != "ValidationException" {
			t.Fatalf("got %q (%v); want ValidationException", got, err)
		}
	})

	t.Run("an account without the remediation role cannot be entered", func(t *testing.T) {
		_, err := remediationClient(t, s, "333333333333", "us-east-1").ListFoundationModelAgreementOffers(ctx, &bedrock.ListFoundationModelAgreementOffersInput{ModelId: aws.String(claude)})
		if err == nil {
			t.Fatal("got no error; want AssumeRole to be denied")
		}
	})
	if got := s.Calls(OpCreateFoundationModelAgreement); got != 9 {
		t.Errorf("CreateFoundationModelAgreement calls: got %d; want 9", got)
	}
}

func TestPutUseCaseForModelAccess(t *testing.T) {
	s := startSim(t, agreementScenario, nil)
	ctx := context.Background()
	form := []byte(`{"companyName":"Example","companyWebsite":"https://example.com","intendedUsers":"0","industryOption":"Technology","otherIndustryOption":"","useCases":"Internal assistants"}`)
	member := bedrockFor(t, s, "111111111111", "us-east-1")
	if _, err := member.GetUseCaseForModelAccess(ctx, &bedrock.GetUseCaseForModelAccessInput{}); errorCode(err) != "ResourceNotFoundException" {
		t.Fatalf("before: got %v; want ResourceNotFoundException", err)
	}
	tests := []struct {
		name     string
		role     string
		form     []byte
		wantCode string
	}{
		{"the audit role is denied", "GrantwatchAudit", form, "AccessDeniedException"},
		{"a form shorter than 10 bytes is refused", DefaultRemediationRole, []byte(`{}`), "ValidationException"},
		{"a form that is not JSON is refused", DefaultRemediationRole, []byte(`company=Example`), "ValidationException"},
		{"the remediation role submits it", DefaultRemediationRole, form, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := bedrock.NewFromConfig(roleConfig(t, s, "999999999999", tt.role), func(o *bedrock.Options) { o.Region = "us-east-1" })
			_, err := api.PutUseCaseForModelAccess(ctx, &bedrock.PutUseCaseForModelAccessInput{FormData: tt.form})
			if got := errorCode(err); got != tt.wantCode {
				t.Fatalf("got %q (%v); want %q", got, err, tt.wantCode)
			}
		})
	}
	// The management account's form covers the member at once.
	if _, err := member.GetUseCaseForModelAccess(ctx, &bedrock.GetUseCaseForModelAccessInput{}); err != nil {
		t.Errorf("member after the management account's form: got %v; want the form", err)
	}
	out, err := member.GetFoundationModelAvailability(ctx, &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String(claude)})
	if err != nil {
		t.Fatalf("GetFoundationModelAvailability: %v", err)
	}
	if out.AuthorizationStatus != types.AuthorizationStatusAuthorized {
		t.Errorf("authorization after the form: got %s; want AUTHORIZED", out.AuthorizationStatus)
	}
}

// A form submitted in a commercial region covers the commercial regions,
// not an opt-in one, which needs its own (ledger BR-form-opt-in-regions).
func TestPutUseCaseFormOptInRegion(t *testing.T) {
	s := startSim(t, agreementScenario, func(sc *Scenario) {
		sc.Catalog[0].Regions = append(sc.Catalog[0].Regions, "ap-southeast-5")
	})
	ctx := context.Background()
	form := []byte(`{"companyName":"Example","companyWebsite":"https://example.com","intendedUsers":"0","industryOption":"Technology","otherIndustryOption":"","useCases":"Internal assistants"}`)
	hasForm := func(region string) bool {
		_, err := bedrockFor(t, s, "111111111111", region).GetUseCaseForModelAccess(ctx, &bedrock.GetUseCaseForModelAccessInput{})
		return err == nil
	}
	put := func(region string) {
		if _, err := remediationClient(t, s, "111111111111", region).PutUseCaseForModelAccess(ctx, &bedrock.PutUseCaseForModelAccessInput{FormData: form}); err != nil {
			t.Fatalf("PutUseCaseForModelAccess in %s: %v", region, err)
		}
	}
	put("us-east-1")
	if !hasForm("eu-west-1") {
		t.Error("eu-west-1 after a us-east-1 form: got none; want the form (commercial regions share it)")
	}
	if hasForm("ap-southeast-5") {
		t.Error("ap-southeast-5 after a us-east-1 form: got a form; want none (an opt-in region needs its own)")
	}
	put("ap-southeast-5")
	if !hasForm("ap-southeast-5") {
		t.Error("ap-southeast-5 after its own form: got none; want it")
	}
}

// A fault after_write answers 500 once the agreement exists: the SDK's
// retry then gets ConflictException (ledger BR-agreement-retry).
func TestFaultAfterWrite(t *testing.T) {
	s := startSim(t, agreementScenario+`
faults: [{operation: CreateFoundationModelAgreement, account: "111111111111", count: 1, status: 500, after_write: true}]
`, nil)
	ctx := context.Background()
	out, err := bedrockFor(t, s, "111111111111", "us-east-1").ListFoundationModelAgreementOffers(ctx, &bedrock.ListFoundationModelAgreementOffersInput{ModelId: aws.String(claude)})
	if err != nil {
		t.Fatal(err)
	}
	api := bedrock.NewFromConfig(roleConfig(t, s, "111111111111", DefaultRemediationRole), func(o *bedrock.Options) {
		o.Region = "us-east-1"
		o.RetryMaxAttempts = 2
	})
	_, err = api.CreateFoundationModelAgreement(ctx, &bedrock.CreateFoundationModelAgreementInput{ModelId: aws.String(claude), OfferToken: out.Offers[0].OfferToken})
	if got := errorCode(err); got != "ConflictException" {
		t.Errorf("create with a lost answer, retried: got %q (%v); want ConflictException", got, err)
	}
	if got := agreementStatus(t, api, claude); got != types.AgreementStatusPending {
		t.Errorf("after: got %s; want PENDING (the first attempt made it)", got)
	}
	if _, err := ParseScenario([]byte(agreementScenario + `
faults: [{operation: GetFoundationModelAvailability, count: 1, status: 500, after_write: true}]
`)); err == nil {
		t.Error("after_write on a read: got no error; want one naming faults[0].after_write")
	}
}

// A create whose answer is held past the client's deadline took effect
// all the same: the client gets its own deadline error, the agreement
// reads PENDING.
func TestSlowAnswerAfterWrite(t *testing.T) {
	s := startSim(t, agreementScenario+`
faults: [{operation: CreateFoundationModelAgreement, account: "111111111111", count: 1, after_write: true, answer_delay: 5s}]
`, nil)
	ctx := context.Background()
	api := bedrock.NewFromConfig(roleConfig(t, s, "111111111111", DefaultRemediationRole), func(o *bedrock.Options) { o.Region = "us-east-1" })
	out, err := api.ListFoundationModelAgreementOffers(ctx, &bedrock.ListFoundationModelAgreementOffersInput{ModelId: aws.String(claude)})
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err = api.CreateFoundationModelAgreement(cctx, &bedrock.CreateFoundationModelAgreementInput{ModelId: aws.String(claude), OfferToken: out.Offers[0].OfferToken})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("create answered after the client's deadline: got %v; want context.DeadlineExceeded", err)
	}
	if got := agreementStatus(t, api, claude); got != types.AgreementStatusPending && got != types.AgreementStatusAvailable {
		t.Errorf("after: got %s; want PENDING or AVAILABLE (the write took effect)", got)
	}
	if _, err := ParseScenario([]byte(agreementScenario + `
faults: [{operation: CreateFoundationModelAgreement, answer_delay: 1s}]
`)); err == nil || !strings.Contains(err.Error(), "answer_delay") {
		t.Errorf("answer_delay without after_write: got %v; want an error naming faults[0].answer_delay", err)
	}
}
