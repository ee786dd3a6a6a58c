package check

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/smithy-go"

	"github.com/grantwatch/grantwatch/pkg/result"
)

const (
	claude = "anthropic.claude-3-5-sonnet-20240620-v1:0"
	llama  = "meta.llama3-8b-instruct-v1:0"
)

// avail builds an availability answer; the zero arguments mean "all positive".
func avail(agreement types.AgreementStatus, auth types.AuthorizationStatus, ent types.EntitlementAvailability, region types.RegionAvailability) *bedrock.GetFoundationModelAvailabilityOutput {
	or := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	return &bedrock.GetFoundationModelAvailabilityOutput{
		AgreementAvailability:   &types.AgreementAvailability{Status: types.AgreementStatus(or(string(agreement), "AVAILABLE"))},
		AuthorizationStatus:     types.AuthorizationStatus(or(string(auth), "AUTHORIZED")),
		EntitlementAvailability: types.EntitlementAvailability(or(string(ent), "AVAILABLE")),
		RegionAvailability:      types.RegionAvailability(or(string(region), "AVAILABLE")),
	}
}

func catalogWith(model string, lc types.FoundationModelLifecycleStatus, provider string) Catalog {
	return Catalog{model: {Provider: provider, Lifecycle: lc}}
}

func TestClassify(t *testing.T) {
	active := catalogWith(claude, types.FoundationModelLifecycleStatusActive, "Anthropic")
	legacyAt := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	legacy := Catalog{claude: {Provider: "Anthropic", Lifecycle: types.FoundationModelLifecycleStatusLegacy, LegacyAt: &legacyAt}}
	failedAgreement := avail("ERROR", "", "", "")
	failedAgreement.AgreementAvailability.ErrorMessage = aws.String("No valid payment method")

	tests := []struct {
		name            string
		model           string
		catalog         Catalog
		availability    *bedrock.GetFoundationModelAvailabilityOutput
		err             error
		wantStatus      result.Status
		wantCause       string
		wantRemediation string
	}{
		{"all positive", claude, active, avail("", "", "", ""), nil, result.Enabled, "all available", "IAM policy"},
		{"agreement pending", claude, active, avail("PENDING", "", "", ""), nil, result.Pending, "agreementAvailability.status=PENDING", "Wait"},
		{"agreement missing", claude, active, avail("NOT_AVAILABLE", "", "", ""), nil, result.AgreementMissing, "status=NOT_AVAILABLE", "first call by a principal allowed aws-marketplace:Subscribe"},
		{"agreement failed", claude, active, failedAgreement, nil, result.AgreementFailed, "status=ERROR: No valid payment method", "payment method"},
		{"anthropic, form not read", claude, active, avail("", "NOT_AUTHORIZED", "", ""), nil, result.NotAuthorized, "authorizationStatus=NOT_AUTHORIZED", "could not read the Anthropic use-case form"},
		{"not authorized other provider", llama, catalogWith(llama, "ACTIVE", "Meta"), avail("", "NOT_AUTHORIZED", "", ""), nil, result.NotAuthorized, "authorizationStatus=NOT_AUTHORIZED", "AWS Support case"},
		{"not entitled", claude, active, avail("", "", "NOT_AVAILABLE", ""), nil, result.NotEntitled, "entitlementAvailability=NOT_AVAILABLE", "License Manager"},
		// ledger: BR-agreement-first: nobody has subscribed yet, and the
		// entitlement reads NOT_AVAILABLE with the agreement.
		{"agreement missing before entitlement", claude, active, avail("NOT_AVAILABLE", "", "NOT_AVAILABLE", ""), nil, result.AgreementMissing, "agreementAvailability.status=NOT_AVAILABLE", "first call by a principal allowed aws-marketplace:Subscribe"},
		{"agreement pending before entitlement", claude, active, avail("PENDING", "", "NOT_AVAILABLE", ""), nil, result.Pending, "status=PENDING", "Wait"},
		{"agreement failed before entitlement", claude, active, failedAgreement2(), nil, result.AgreementFailed, "status=ERROR", "payment method"},
		{"region field", claude, active, avail("", "", "", "NOT_AVAILABLE"), nil, result.NotInRegion, "regionAvailability=NOT_AVAILABLE", "inference profile"},
		{"absent from catalog", claude, Catalog{}, avail("", "", "", ""), nil, result.NotInRegion, "does not list the model", "not offered in us-east-1"},
		{"legacy lifecycle", claude, legacy, avail("", "", "", ""), nil, result.Legacy, "LEGACY (legacy since 2025-05-01)", "Migrate"},
		{"legacy beats agreement", claude, legacy, avail("NOT_AVAILABLE", "", "", ""), nil, result.Legacy, "LEGACY", "successor"},
		{"region beats form", claude, active, avail("", "NOT_AUTHORIZED", "", "NOT_AVAILABLE"), nil, result.NotInRegion, "regionAvailability", "not offered"},
		{"authorization beats agreement", claude, active, avail("NOT_AVAILABLE", "NOT_AUTHORIZED", "", ""), nil, result.NotAuthorized, "NOT_AUTHORIZED", "use-case form"},
		{"legacy refusal", claude, nil, nil, apiError("ResourceNotFoundException", "This model version has reached the end of its life and is marked by provider as Legacy"), result.Legacy, "marked by provider as Legacy", "successor"},
		{"unknown model", "anthropic.claude-9", nil, nil, apiError("ValidationException", "The provided model identifier is invalid."), result.UnknownModel, "ValidationException", "typos"},
		{"malformed model id", "x", nil, nil, apiError("ValidationException", "1 validation error detected"), result.UnknownModel, "ValidationException", "typos"},
		{"auditor denied by scp", claude, nil, nil, apiError("AccessDeniedException", "User: arn:aws:sts::111111111111:assumed-role/GrantwatchAudit/grantwatch is not authorized to perform: bedrock:GetFoundationModelAvailability with an explicit deny in a service control policy"), result.AuditError, "availability: AccessDeniedException", "service control policy"},
		{"throttled after retries", claude, nil, nil, &retry.MaxAttemptsError{Attempt: 5, Err: apiError("ThrottlingException", "Too many requests")}, result.AuditError, "ThrottlingException: Too many requests (after 5 attempts)", "limits.per_account_region"},
		{"server error", claude, nil, nil, apiError("InternalServerException", "internal"), result.AuditError, "InternalServerException", "next run"},
		{"timeout", claude, nil, nil, fmt.Errorf("get: %w", context.DeadlineExceeded), result.AuditError, "availability: timeout", "call_timeout"},
		{"empty answer", claude, active, nil, nil, result.AuditError, "empty availability answer", "next run"},
		{"unknown agreement status", claude, active, avail("SOMETHING_NEW", "", "", ""), nil, result.AuditError, `unknown agreementAvailability.status "SOMETHING_NEW"`, "next run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Classify(Evidence{Account: "111111111111", Region: "us-east-1", Model: tt.model, Catalog: tt.catalog, Availability: tt.availability, Err: tt.err})
			checkVerdict(t, got, tt.wantStatus, tt.wantCause, tt.wantRemediation)
			if got.Account != "111111111111" || got.Region != "us-east-1" || got.Model != tt.model {
				t.Errorf("identity: got %s/%s/%s; want 111111111111/us-east-1/%s", got.Account, got.Region, got.Model, tt.model)
			}
		})
	}
}

// checkVerdict compares a result's status, and looks for a phrase in its
// cause and in its remediation.
func checkVerdict(t *testing.T, got result.Result, status result.Status, cause, remedy string) {
	t.Helper()
	if got.Status != status {
		t.Errorf("status: got %s; want %s (cause %q)", got.Status, status, got.Cause)
	}
	if !strings.Contains(got.Cause, cause) {
		t.Errorf("cause: got %q; want it to contain %q", got.Cause, cause)
	}
	if !strings.Contains(got.Remediation, remedy) {
		t.Errorf("remediation: got %q; want it to contain %q", got.Remediation, remedy)
	}
}

func failedAgreement2() *bedrock.GetFoundationModelAvailabilityOutput {
	a := avail("ERROR", "", "NOT_AVAILABLE", "")
	a.AgreementAvailability.ErrorMessage = aws.String("No valid payment method")
	return a
}

// timeoutError is what net/http's client returns when one attempt exceeds
// its Timeout.
type timeoutError struct{}

func (timeoutError) Error() string   { return "Client.Timeout exceeded while awaiting headers" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// TestFailedAdviceFollowsTheErrorCode: every service's throttling code gets
// throttling advice, whatever the stage; the member-role stack is named
// only when STS refused the role (issue 20 item 8).
func TestFailedAdviceFollowsTheErrorCode(t *testing.T) {
	throttled := func(code string) error {
		return &retry.MaxAttemptsError{Attempt: 5, Err: apiError(code, "Rate exceeded")}
	}
	tests := []struct {
		name       string
		stage      Stage
		err        error
		want       string
		notWant    string
		wantCauses string
	}{
		{"throttled AssumeRole", StageAssumeRole, throttled("Throttling"), "STS throttled the audit", "member-role stack", "Throttling: Rate exceeded (after 5 attempts)"},
		{"refused AssumeRole", StageAssumeRole, apiError("AccessDenied", "not authorized to perform: sts:AssumeRole"), "member-role stack", "throttled", "AccessDenied"},
		{"expired auditor token on AssumeRole", StageAssumeRole, apiError("ExpiredToken", "The security token included in the request is expired"), "auditor's own credentials", "member-role stack", "ExpiredToken"},
		{"IAM throttling code", StageSimulate, throttled("Throttling"), "IAM throttled the audit", "next run checks again. If it persists", "Throttling"},
		{"Bedrock throttling code", StageAvailability, throttled("ThrottlingException"), "Bedrock throttled the audit", "", "ThrottlingException"},
		{"TooManyRequestsException", StageListModels, throttled("TooManyRequestsException"), "throttled the audit", "", "TooManyRequestsException"},
		{"one attempt timed out", StageAvailability, fmt.Errorf("get: %w", timeoutError{}), "limits.attempt_timeout", "", "availability: timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Failed("222222222222", "eu-west-1", claude, tt.stage, tt.err)
			checkVerdict(t, got, result.AuditError, tt.wantCauses, tt.want)
			if tt.notWant != "" && strings.Contains(got.Remediation, tt.notWant) {
				t.Errorf("remediation: got %q; want no %q", got.Remediation, tt.notWant)
			}
		})
	}
}

func TestFailedAssumeRoleIsAuditError(t *testing.T) {
	err := fmt.Errorf("assume role arn:aws:iam::222222222222:role/GrantwatchAudit: %w", apiError("AccessDenied", "not authorized to perform: sts:AssumeRole"))
	got := Failed("222222222222", "eu-west-1", claude, StageAssumeRole, err)
	if got.Status != result.AuditError {
		t.Errorf("status: got %s; want %s", got.Status, result.AuditError)
	}
	if want := "assume-role: AccessDenied: not authorized to perform: sts:AssumeRole"; got.Cause != want {
		t.Errorf("cause: got %q; want %q", got.Cause, want)
	}
	if !strings.Contains(got.Remediation, "member-role stack") {
		t.Errorf("remediation: got %q; want it to name the member-role stack", got.Remediation)
	}
}

func TestReconcile(t *testing.T) {
	results := []result.Result{
		{Model: claude, Region: "eu-west-3", Status: result.UnknownModel, Cause: "ResourceNotFoundException: x"},
		{Model: "typo.model", Region: "eu-west-3", Status: result.UnknownModel},
		{Model: claude, Region: "us-east-1", Status: result.Enabled},
	}
	Reconcile(results, Seen{OfferedIn: map[string][]string{claude: {"us-east-1", "us-west-2"}}})
	want := []result.Status{result.NotInRegion, result.UnknownModel, result.Enabled}
	for i, r := range results {
		if r.Status != want[i] {
			t.Errorf("results[%d]: got %s; want %s", i, r.Status, want[i])
		}
	}
	if !strings.Contains(results[0].Cause, "listed in us-east-1, us-west-2") {
		t.Errorf("cause: got %q; want the regions that list the model", results[0].Cause)
	}
}

func TestListCatalog(t *testing.T) {
	legacyAt := time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)
	fake := fakeLister{out: &bedrock.ListFoundationModelsOutput{ModelSummaries: []types.FoundationModelSummary{
		{ModelId: aws.String(claude), ProviderName: aws.String("Anthropic"), ModelLifecycle: &types.FoundationModelLifecycle{Status: "ACTIVE"}},
		{ModelId: aws.String("old.model"), ModelLifecycle: &types.FoundationModelLifecycle{Status: "LEGACY", LegacyTime: &legacyAt}},
		{ModelId: aws.String("no.lifecycle")},
	}}}
	c, err := ListCatalog(context.Background(), fake)
	if err != nil {
		t.Fatalf("ListCatalog: %v", err)
	}
	tests := []struct {
		name string
		id   string
		want types.FoundationModelLifecycleStatus
	}{
		{"active", claude, "ACTIVE"},
		{"legacy", "old.model", "LEGACY"},
		{"missing lifecycle means active", "no.lifecycle", "ACTIVE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c[tt.id].Lifecycle; got != tt.want {
				t.Errorf("lifecycle of %s: got %q; want %q", tt.id, got, tt.want)
			}
		})
	}

	_, err = ListCatalog(context.Background(), fakeLister{out: &bedrock.ListFoundationModelsOutput{ModelSummaries: []types.FoundationModelSummary{{}}}})
	if err == nil || !strings.Contains(err.Error(), "modelSummaries[0].modelId is empty") {
		t.Errorf("summary without id: got %v; want an error naming modelSummaries[0].modelId", err)
	}
	_, err = ListCatalog(context.Background(), fakeLister{err: errors.New("boom")})
	if err == nil || !strings.Contains(err.Error(), "list foundation models: boom") {
		t.Errorf("failing call: got %v; want it wrapped with what failed", err)
	}
}

type fakeLister struct {
	out *bedrock.ListFoundationModelsOutput
	err error
}

func (f fakeLister) ListFoundationModels(context.Context, *bedrock.ListFoundationModelsInput, ...func(*bedrock.Options)) (*bedrock.ListFoundationModelsOutput, error) {
	return f.out, f.err
}

func apiError(code, msg string) error {
	return &smithy.GenericAPIError{Code: code, Message: msg}
}
