package check

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/smithy-go"

	"github.com/grantwatch/grantwatch/pkg/result"
)

// Evidence is everything one check learned about a model.
type Evidence struct {
	Account, Region, Model string
	// Catalog is the region's model list; nil when it could not be read.
	Catalog Catalog
	// Availability is GetFoundationModelAvailability's answer, or nil with Err.
	Availability *bedrock.GetFoundationModelAvailabilityOutput
	Err          error
}

// Classify decides the status of one check. The order matters: an audit
// failure is never a model verdict; then what cannot be fixed in the account
// (lifecycle, region) comes before what can (form, entitlement, agreement).
func Classify(e Evidence) result.Result {
	r := result.Result{Account: e.Account, Region: e.Region, Model: e.Model}
	if e.Err != nil {
		return classifyError(r, e.Err)
	}
	a := e.Availability
	if a == nil {
		return Failed(r.Account, r.Region, r.Model, StageAvailability, errors.New("empty availability answer"))
	}
	listed, inCatalog := e.Catalog[e.Model]
	switch {
	case inCatalog && listed.Lifecycle == types.FoundationModelLifecycleStatusLegacy:
		r.Status = result.Legacy
		r.Cause = "ListFoundationModels: modelLifecycle.status=LEGACY" + lifecycleDates(listed)
		r.Remediation = fmt.Sprintf("%s is a legacy model: calls can be refused with ResourceNotFoundException at any time and stop at end of life. Migrate to its successor (Bedrock user guide, 'Model lifecycle') and update the required model list.", e.Model)
	case a.RegionAvailability == types.RegionAvailabilityNotAvailable:
		return notInRegion(r, "GetFoundationModelAvailability: regionAvailability=NOT_AVAILABLE")
	case e.Catalog != nil && !inCatalog:
		return notInRegion(r, "ListFoundationModels does not list the model in this region")
	case a.AuthorizationStatus == types.AuthorizationStatusNotAuthorized:
		r.Status = result.NotAuthorized
		r.Cause = "GetFoundationModelAvailability: authorizationStatus=NOT_AUTHORIZED"
		if anthropic(e.Model) || listed.Provider == "Anthropic" {
			r.Cause += " (Anthropic first-time-use form)"
			r.Remediation = fmt.Sprintf("Anthropic models need the first-time-use form. Submit the use-case details once from the organization's management account (Bedrock console, or PutUseCaseForModelAccess) so that every member account inherits them, or from account %s itself; access follows within minutes.", e.Account)
		} else {
			r.Remediation = fmt.Sprintf("Account %s is not authorized for %s. Open an AWS Support case for Amazon Bedrock naming the account, the model and the region %s.", e.Account, e.Model, e.Region)
		}
	case a.EntitlementAvailability == types.EntitlementAvailabilityNotAvailable:
		r.Status = result.NotEntitled
		r.Cause = "GetFoundationModelAvailability: entitlementAvailability=NOT_AVAILABLE"
		r.Remediation = fmt.Sprintf("Account %s has no Marketplace entitlement for %s. Allow aws-marketplace:Subscribe, aws-marketplace:Unsubscribe and aws-marketplace:ViewSubscriptions to the principal that first invokes the model (or share a managed entitlement through AWS License Manager), check the account has a valid payment method, then invoke the model once in %s.", e.Account, e.Model, e.Region)
	case a.AgreementAvailability == nil:
		return Failed(r.Account, r.Region, r.Model, StageAvailability, errors.New("answer has no agreementAvailability"))
	default:
		return classifyAgreement(r, a.AgreementAvailability)
	}
	return r
}

func classifyAgreement(r result.Result, ag *types.AgreementAvailability) result.Result {
	switch ag.Status {
	case types.AgreementStatusAvailable:
		r.Status = result.Enabled
		r.Cause = "GetFoundationModelAvailability: agreement, authorization, entitlement and region all available"
		r.Remediation = "None needed. If calls are still denied, the cause is outside what Bedrock reports here: the caller's IAM policy (bedrock:InvokeModel on the model and inference-profile ARNs), an SCP or a permissions boundary."
	case types.AgreementStatusPending:
		r.Status = result.Pending
		r.Cause = "GetFoundationModelAvailability: agreementAvailability.status=PENDING"
		r.Remediation = fmt.Sprintf("The Marketplace subscription for %s is being created (usually about 2 minutes; calls meanwhile fail with MPAgreementBeingCreated). Wait. If it stays PENDING, check that the principal invoking it has aws-marketplace:Subscribe and aws-marketplace:ViewSubscriptions and that account %s has a valid payment method.", r.Model, r.Account)
	case types.AgreementStatusError:
		r.Status = result.AgreementFailed
		r.Cause = "GetFoundationModelAvailability: agreementAvailability.status=ERROR"
		if msg := aws.ToString(ag.ErrorMessage); msg != "" {
			r.Cause += ": " + msg
		}
		r.Remediation = fmt.Sprintf("The Marketplace subscription for %s failed in account %s. Fix what the error names, usually the payment method or billing country (Billing console, Payment preferences), then invoke the model once in %s to subscribe again.", r.Model, r.Account, r.Region)
	case types.AgreementStatusNotAvailable:
		r.Status = result.AgreementMissing
		r.Cause = "GetFoundationModelAvailability: agreementAvailability.status=NOT_AVAILABLE"
		r.Remediation = fmt.Sprintf("Account %s has no Marketplace subscription for %s. Invoke the model once in %s with a principal allowed aws-marketplace:Subscribe, aws-marketplace:Unsubscribe and aws-marketplace:ViewSubscriptions (or share a managed entitlement through AWS License Manager); the subscription then takes about 2 minutes.", r.Account, r.Model, r.Region)
	default:
		return Failed(r.Account, r.Region, r.Model, StageAvailability, fmt.Errorf("unknown agreementAvailability.status %q", ag.Status))
	}
	return r
}

func notInRegion(r result.Result, cause string) result.Result {
	r.Status = result.NotInRegion
	r.Cause = cause
	r.Remediation = fmt.Sprintf("%s is not offered in %s. Call it in a region that offers it, or through a cross-region inference profile (for example us.%s), or stop requiring it in %s.", r.Model, r.Region, r.Model, r.Region)
	return r
}

func lifecycleDates(m Model) string {
	var parts []string
	if m.LegacyAt != nil {
		parts = append(parts, "legacy since "+m.LegacyAt.Format("2006-01-02"))
	}
	if m.EndOfLife != nil {
		parts = append(parts, "end of life "+m.EndOfLife.Format("2006-01-02"))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// classifyError turns a failed GetFoundationModelAvailability into a result.
// Only answers about the model itself become model statuses; everything else
// means the audit could not check.
func classifyError(r result.Result, err error) result.Result {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "ResourceNotFoundException":
			if strings.Contains(strings.ToLower(apiErr.ErrorMessage()), "legacy") {
				r.Status = result.Legacy
				r.Cause = "GetFoundationModelAvailability: ResourceNotFoundException: " + apiErr.ErrorMessage()
				r.Remediation = fmt.Sprintf("%s is marked legacy by its provider and refused. Migrate to its successor and update the required model list.", r.Model)
				return r
			}
			return unknownModel(r, "GetFoundationModelAvailability: ResourceNotFoundException: "+apiErr.ErrorMessage())
		case "ValidationException":
			return unknownModel(r, "GetFoundationModelAvailability: ValidationException: "+apiErr.ErrorMessage())
		}
	}
	return Failed(r.Account, r.Region, r.Model, StageAvailability, err)
}

func unknownModel(r result.Result, cause string) result.Result {
	r.Status = result.UnknownModel
	r.Cause = cause
	r.Remediation = fmt.Sprintf("Bedrock does not know the model id %q. Check it for typos against 'aws bedrock list-foundation-models'; inference profile ids (us., eu., global.) are not model ids.", r.Model)
	return r
}

// Stage names the step of a check that failed.
type Stage string

// The stages of a check, in order.
const (
	StageAssumeRole   Stage = "assume-role"
	StageListModels   Stage = "list-models"
	StageAvailability Stage = "availability"
)

// Failed records that the audit could not check a model. It is an AUDIT_ERROR,
// never a verdict on the model.
func Failed(account, region, model string, stage Stage, err error) result.Result {
	r := result.Result{Account: account, Region: region, Model: model, Status: result.AuditError}
	kind, detail := explain(err)
	r.Cause = fmt.Sprintf("%s: %s: %s", stage, kind, detail)
	switch {
	case stage == StageAssumeRole:
		r.Remediation = fmt.Sprintf("grantwatch could not assume its audit role in account %s. Deploy the grantwatch member-role stack there (StackSet), and check that its trust policy names the auditor role and the configured ExternalId.", account)
	case kind == "AccessDeniedException":
		r.Remediation = fmt.Sprintf("The audit role was denied a Bedrock read call in %s. Look for a service control policy or permissions boundary (often a region-deny SCP) and exempt the grantwatch audit role; its own policy must allow bedrock:ListFoundationModels and bedrock:GetFoundationModelAvailability.", region)
	case kind == "ThrottlingException" || kind == "TooManyRequestsException":
		r.Remediation = "Bedrock throttled the audit after every retry. Lower limits.per_account_region or limits.concurrency; the next run checks again."
	case kind == "timeout":
		r.Remediation = "The call did not finish within limits.call_timeout. The next run checks again; raise the timeout if the region is slow."
	default:
		r.Remediation = "The call failed; the next run checks again. If it persists, check the AWS Health Dashboard for Bedrock in this region and the network path to its endpoint."
	}
	return r
}

// explain names an error's kind (the AWS error code where there is one) and detail.
func explain(err error) (kind, detail string) {
	var apiErr smithy.APIError
	var maxAttempts *retry.MaxAttemptsError
	var netErr net.Error
	switch {
	case errors.As(err, &apiErr):
		kind, detail = apiErr.ErrorCode(), apiErr.ErrorMessage()
		if errors.As(err, &maxAttempts) {
			detail += fmt.Sprintf(" (after %d attempts)", maxAttempts.Attempt)
		}
	case errors.Is(err, context.DeadlineExceeded):
		kind, detail = "timeout", err.Error()
	case errors.As(err, &netErr):
		kind, detail = "network", err.Error()
	default:
		kind, detail = "error", err.Error()
	}
	return kind, detail
}

// Reconcile corrects what one region alone cannot tell: a model id that a
// region does not know, but another audited region lists, exists and is simply
// not offered there. offeredIn maps model ids to the regions that list them.
func Reconcile(results []result.Result, offeredIn map[string][]string) {
	for i, r := range results {
		regions := offeredIn[r.Model]
		if r.Status != result.UnknownModel || len(regions) == 0 {
			continue
		}
		results[i] = notInRegion(r, fmt.Sprintf("%s; the model is listed in %s", r.Cause, strings.Join(regions, ", ")))
	}
}
