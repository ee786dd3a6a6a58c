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

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/result"
)

// Evidence is everything one check learned about a model.
type Evidence struct {
	Account, Region, Model string
	// Catalog is the region's model list; nil when it could not be read.
	Catalog Catalog
	// Profiles are the region's system inference profiles; nil when they
	// were not needed or could not be read (ProfilesErr).
	Profiles    Profiles
	ProfilesErr error
	// Profile is the inference profile Model names, when it is one and exists
	// in the region; its model is the one whose availability was asked.
	Profile *Profile
	// Availability is GetFoundationModelAvailability's answer, or nil with Err.
	Availability *bedrock.GetFoundationModelAvailabilityOutput
	Err          error
	// Form is the account's use-case form, read for Anthropic models only.
	Form *Form
}

// Classify decides the status of one check. The order matters: an audit
// failure is never a model verdict; then what cannot be fixed in the account
// (lifecycle, region, how the model must be called) comes before what can
// (form, entitlement, agreement).
func Classify(e Evidence) result.Result {
	r := result.Result{Account: e.Account, Region: e.Region, Model: e.Model}
	ref, _ := config.ParseModel(e.Model)
	if ref.IsProfile() && e.Profile == nil && e.Err == nil {
		return profileMissing(r, ref, e)
	}
	model := e.Model
	if e.Profile != nil {
		model = e.Profile.Model
		r.SetDestinations(e.Profile.Destinations)
	}
	if e.Err != nil {
		return withProfile(classifyError(r, ref, e.Err), e.Profile)
	}
	a := e.Availability
	if a == nil {
		return Failed(r.Account, r.Region, r.Model, StageAvailability, errors.New("empty availability answer"))
	}
	listed, inCatalog := e.Catalog[model]
	switch {
	case inCatalog && listed.Lifecycle == types.FoundationModelLifecycleStatusLegacy:
		r.Status = result.Legacy
		r.Cause = "ListFoundationModels: modelLifecycle.status=LEGACY" + lifecycleDates(listed)
		r.Remediation = fmt.Sprintf("%s is a legacy model: calls can be refused with ResourceNotFoundException at any time and stop at end of life. Migrate to its successor (Bedrock user guide, 'Model lifecycle') and update the required model list.", model)
	// A profile's region signal is that it exists in the source region; the
	// model itself may be hosted only in the destinations.
	case e.Profile == nil && a.RegionAvailability == types.RegionAvailabilityNotAvailable:
		return notInRegion(r, "GetFoundationModelAvailability: regionAvailability=NOT_AVAILABLE", e.Profiles)
	case e.Profile == nil && e.Catalog != nil && !inCatalog:
		return notInRegion(r, "ListFoundationModels does not list the model in this region", e.Profiles)
	case e.Profile == nil && inCatalog && listed.ProfileOnly():
		return profileRequired(r, listed, e)
	case a.AuthorizationStatus == types.AuthorizationStatusNotAuthorized:
		r.Status = result.NotAuthorized
		r.Cause = "GetFoundationModelAvailability: authorizationStatus=NOT_AUTHORIZED"
		r.Remediation = notAuthorized(r, model, anthropic(model) || listed.Provider == "Anthropic", e.Form)
	case a.EntitlementAvailability == types.EntitlementAvailabilityNotAvailable:
		r.Status = result.NotEntitled
		r.Cause = "GetFoundationModelAvailability: entitlementAvailability=NOT_AVAILABLE"
		r.Remediation = fmt.Sprintf("Account %s has no Marketplace entitlement for %s. Allow aws-marketplace:Subscribe, aws-marketplace:Unsubscribe and aws-marketplace:ViewSubscriptions to the principal that first invokes the model (or share a managed entitlement through AWS License Manager), check the account has a valid payment method, then invoke the model once in %s.", r.Account, model, r.Region)
	case a.AgreementAvailability == nil:
		return Failed(r.Account, r.Region, r.Model, StageAvailability, errors.New("answer has no agreementAvailability"))
	default:
		r = classifyAgreement(r, model, a.AgreementAvailability)
	}
	if r.Status != result.AuditError {
		r.Cause += formCause(e.Form)
	}
	return withProfile(r, e.Profile)
}

// withProfile says in the cause which profile was checked and where it routes.
func withProfile(r result.Result, p *Profile) result.Result {
	if p == nil || r.Status == result.AuditError {
		return r
	}
	r.Cause = fmt.Sprintf("inference profile %s (%s) exists in %s and routes to %s; its model %s: %s",
		p.ID, p.Type, r.Region, strings.Join(p.Destinations, ", "), p.Model, r.Cause)
	return r
}

func formCause(f *Form) string {
	switch {
	case f == nil:
		return ""
	case f.Err != nil:
		return "; use-case form: not known (" + f.Err.Error() + ")"
	case f.Found:
		return "; use-case form: found (GetUseCaseForModelAccess)"
	}
	return "; use-case form: missing (GetUseCaseForModelAccess: ResourceNotFoundException)"
}

// notAuthorized says what to do about NOT_AUTHORIZED: the Anthropic form
// when GetUseCaseForModelAccess says it is missing, AWS Support when it is
// there (or the model is not Anthropic's).
func notAuthorized(r result.Result, model string, isAnthropic bool, f *Form) string {
	form := fmt.Sprintf("Submit the Anthropic use-case details once from the organization's management account (Bedrock console, or PutUseCaseForModelAccess) so that every member account inherits them, or from account %s itself; access follows within minutes.", r.Account)
	support := fmt.Sprintf("Open an AWS Support case for Amazon Bedrock naming account %s, the model %s and the region %s.", r.Account, model, r.Region)
	switch {
	case !isAnthropic:
		return fmt.Sprintf("Account %s is not authorized for %s. %s", r.Account, model, support)
	case f != nil && f.Err == nil && !f.Found:
		return "Anthropic models need the first-time-use form, and this account has none. " + form
	case f != nil && f.Err == nil && f.Found:
		return fmt.Sprintf("The Anthropic use-case form is on file, yet account %s is not authorized for %s: this is not the form. %s", r.Account, model, support)
	}
	return "grantwatch could not read the Anthropic use-case form. If it is missing: " + form + " If it is on file: " + support
}

// profileRequired: the model answers only through an inference profile, so
// on-demand calls with its id fail with ValidationException ("Invocation of
// model ID ... with on-demand throughput isn't supported", public reports
// such as BerriAI/litellm#10434).
func profileRequired(r result.Result, m Model, e Evidence) result.Result {
	r.Status = result.ProfileRequired
	r.Cause = fmt.Sprintf("ListFoundationModels: inferenceTypesSupported=%v has no ON_DEMAND in %s", m.InferenceTypes, r.Region)
	if a := e.Availability; a != nil && (a.AuthorizationStatus == types.AuthorizationStatusNotAuthorized ||
		a.EntitlementAvailability == types.EntitlementAvailabilityNotAvailable ||
		(a.AgreementAvailability != nil && a.AgreementAvailability.Status != types.AgreementStatusAvailable)) {
		r.Cause += fmt.Sprintf("; besides, GetFoundationModelAvailability: authorization %s, entitlement %s", a.AuthorizationStatus, a.EntitlementAvailability)
		if a.AgreementAvailability != nil {
			r.Cause += ", agreement " + string(a.AgreementAvailability.Status)
		}
	}
	r.Cause += formCause(e.Form)
	bare := fmt.Sprintf("On-demand calls with the model id %s fail in %s with ValidationException (on-demand throughput isn't supported).", r.Model, r.Region)
	switch profiles := e.Profiles.For(r.Model, r.Region); {
	case e.ProfilesErr != nil:
		r.Remediation = fmt.Sprintf("%s Call it through an inference profile; grantwatch could not list them (%v): find one with 'aws bedrock list-inference-profiles --region %s'.", bare, e.ProfilesErr, r.Region)
	case len(profiles) == 0:
		r.Remediation = fmt.Sprintf("%s No inference profile for it exists in %s: call it from a region that has one, or buy provisioned throughput.", bare, r.Region)
	default:
		var names []string
		for _, p := range profiles {
			names = append(names, fmt.Sprintf("%s (routes to %s)", p.ID, strings.Join(p.Destinations, ", ")))
		}
		r.Remediation = fmt.Sprintf("%s Call the inference profile %s instead, and allow bedrock:InvokeModel on the profile and on the model in every region it routes to.", bare, strings.Join(names, " or "))
	}
	return r
}

// profileMissing: the required profile does not exist in this source region.
// When its geography cannot start here (an eu. profile in us-east-1) that is
// certain; otherwise it is UNKNOWN_MODEL until Reconcile finds it in another
// audited region.
func profileMissing(r result.Result, ref config.Model, e Evidence) result.Result {
	switch {
	case e.ProfilesErr != nil:
		return Failed(r.Account, r.Region, r.Model, StageListProfiles, e.ProfilesErr)
	case ref.Geography != "" && !config.ServedFrom(ref.Geography, r.Region):
		return profileNotInRegion(r, fmt.Sprintf("ListInferenceProfiles: no %s in %s; %s. profiles start only from their own geography's regions", ref.ProfileID, r.Region, ref.Geography), e.Profiles)
	case ref.Kind == config.ApplicationProfile:
		r.Status = result.UnknownModel
		r.Cause = "GetInferenceProfile: ResourceNotFoundException"
		r.Remediation = fmt.Sprintf("The application inference profile %s does not exist (deleted, or the ARN is wrong). List the account's profiles with 'aws bedrock list-inference-profiles --type-equals APPLICATION --region %s' and update the required model list.", r.Model, r.Region)
		return r
	}
	r.Status = result.UnknownModel
	r.Cause = fmt.Sprintf("ListInferenceProfiles: no system inference profile %s in %s", ref.ProfileID, r.Region)
	r.Remediation = fmt.Sprintf("Bedrock lists no inference profile %q in any audited region. Check it for typos against 'aws bedrock list-inference-profiles'.", ref.ProfileID)
	return r
}

func profileNotInRegion(r result.Result, cause string, ps Profiles) result.Result {
	ref, _ := config.ParseModel(r.Model)
	r.Status = result.ProfileNotInRegion
	r.Cause = cause
	r.Remediation = fmt.Sprintf("The inference profile %s cannot be called from %s. Call it from a region where it exists, or stop requiring it in %s.", ref.ProfileID, r.Region, r.Region)
	if model := strings.TrimPrefix(ref.ProfileID, ref.Geography+"."); ref.Geography != "" {
		if alt := ps.For(model, r.Region); len(alt) > 0 {
			r.Remediation += fmt.Sprintf(" In %s, call %s instead.", r.Region, alt[0].ID)
		}
	}
	return r
}

func classifyAgreement(r result.Result, model string, ag *types.AgreementAvailability) result.Result {
	switch ag.Status {
	case types.AgreementStatusAvailable:
		r.Status = result.Enabled
		r.Cause = "GetFoundationModelAvailability: agreement, authorization, entitlement and region all available"
		r.Remediation = "None needed. If calls are still denied, the cause is outside what Bedrock reports here: the caller's IAM policy (bedrock:InvokeModel on the model and inference-profile ARNs), an SCP or a permissions boundary."
	case types.AgreementStatusPending:
		r.Status = result.Pending
		r.Cause = "GetFoundationModelAvailability: agreementAvailability.status=PENDING"
		r.Remediation = fmt.Sprintf("The Marketplace subscription for %s is being created (usually about 2 minutes; calls meanwhile fail with MPAgreementBeingCreated). Wait. If it stays PENDING, check that the principal invoking it has aws-marketplace:Subscribe, aws-marketplace:Unsubscribe and aws-marketplace:ViewSubscriptions and that account %s has a valid payment method.", model, r.Account)
	case types.AgreementStatusError:
		r.Status = result.AgreementFailed
		r.Cause = "GetFoundationModelAvailability: agreementAvailability.status=ERROR"
		if msg := aws.ToString(ag.ErrorMessage); msg != "" {
			r.Cause += ": " + msg
		}
		r.Remediation = fmt.Sprintf("The Marketplace subscription for %s failed in account %s. Fix what the error names, usually the payment method or billing country (Billing console, Payment preferences), then invoke the model once in %s to subscribe again.", model, r.Account, r.Region)
	case types.AgreementStatusNotAvailable:
		r.Status = result.AgreementMissing
		r.Cause = "GetFoundationModelAvailability: agreementAvailability.status=NOT_AVAILABLE"
		r.Remediation = fmt.Sprintf("No Marketplace subscription for %s in account %s: normal until someone calls it, since the first call by a principal allowed aws-marketplace:Subscribe, aws-marketplace:Unsubscribe and aws-marketplace:ViewSubscriptions subscribes the account (about 2 minutes; meanwhile MPAgreementBeingCreated). Give the first caller in %s those permissions, or subscribe ahead: one call from an administrator role, or a managed entitlement shared from the management account (AWS License Manager). Cancelled before? The same first call renews it.", model, r.Account, r.Region)
	default:
		return Failed(r.Account, r.Region, r.Model, StageAvailability, fmt.Errorf("unknown agreementAvailability.status %q", ag.Status))
	}
	return r
}

// notInRegion: the model is not offered in the region. It suggests a
// profile that exists there for the model when the region's profiles were
// read, else one of the region's own geography.
func notInRegion(r result.Result, cause string, ps Profiles) result.Result {
	r.Status = result.NotInRegion
	r.Cause = cause
	via := "a cross-region inference profile (see 'aws bedrock list-inference-profiles --region " + r.Region + "')"
	if p := ps.For(r.Model, r.Region); len(p) > 0 {
		via = fmt.Sprintf("the inference profile %s, which exists in %s and routes to %s", p[0].ID, r.Region, strings.Join(p[0].Destinations, ", "))
	} else if g := config.RegionGeography(r.Region); g != "" {
		via = fmt.Sprintf("a cross-region inference profile (such as %s.%s or global.%s, where Bedrock offers one)", g, r.Model, r.Model)
	}
	r.Remediation = fmt.Sprintf("%s is not offered in %s. Call it in a region that offers it, or through %s, or stop requiring it in %s.", r.Model, r.Region, via, r.Region)
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
func classifyError(r result.Result, ref config.Model, err error) result.Result {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && !ref.IsProfile() {
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
	StageListProfiles Stage = "list-profiles"
	StageGetProfile   Stage = "get-profile"
	StageListRoles    Stage = "list-roles"
	StageSimulate     Stage = "simulate-principal"
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
		r.Remediation = fmt.Sprintf("The audit role was denied a Bedrock read call in %s. Look for a service control policy or permissions boundary (often a region-deny SCP) and exempt the grantwatch audit role; its own policy must allow bedrock:ListFoundationModels, bedrock:GetFoundationModelAvailability, bedrock:ListInferenceProfiles, bedrock:GetInferenceProfile and bedrock:GetUseCaseForModelAccess (update the member-role StackSet).", region)
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
// The same holds for a system profile id listed in another audited region.
func Reconcile(results []result.Result, offeredIn map[string][]string) {
	for i, r := range results {
		ref, _ := config.ParseModel(r.Model)
		id := r.Model
		if ref.Kind == config.SystemProfile {
			id = ref.ProfileID
		}
		regions := offeredIn[id]
		if r.Status != result.UnknownModel || len(regions) == 0 || ref.Kind == config.ApplicationProfile {
			continue
		}
		if ref.Kind == config.SystemProfile {
			results[i] = profileNotInRegion(r, fmt.Sprintf("%s; the profile exists in %s", r.Cause, strings.Join(regions, ", ")), nil)
			continue
		}
		results[i] = notInRegion(r, fmt.Sprintf("%s; the model is listed in %s", r.Cause, strings.Join(regions, ", ")), nil)
	}
}
