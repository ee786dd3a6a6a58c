package check

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	accounttypes "github.com/aws/aws-sdk-go-v2/service/account/types"
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
	// ledger: CLS-legacy, BR-list-models
	case inCatalog && listed.Lifecycle == types.FoundationModelLifecycleStatusLegacy:
		r.Status = result.Legacy
		r.Cause = "ListFoundationModels: modelLifecycle.status=LEGACY" + lifecycleDates(listed)
		r.Remediation = fmt.Sprintf("%s is a legacy model: calls can be refused with ResourceNotFoundException at any time and stop at end of life. Migrate to its successor (Bedrock user guide, 'Model lifecycle') and update the required model list.", model)
	// A profile's region signal is that it exists in the source region; the
	// model itself may be hosted only in the destinations.
	// ledger: CLS-not-in-region, BR-availability
	case e.Profile == nil && a.RegionAvailability == types.RegionAvailabilityNotAvailable:
		return notInRegion(r, "GetFoundationModelAvailability: regionAvailability=NOT_AVAILABLE", e.Profiles)
	case e.Profile == nil && e.Catalog != nil && !inCatalog:
		return notInRegion(r, "ListFoundationModels does not list the model in this region", e.Profiles)
	// ledger: CLS-profile-required
	case e.Profile == nil && inCatalog && listed.ProfileOnly():
		return profileRequired(r, listed, e)
	// ledger: CLS-not-authorized, BR-form
	case a.AuthorizationStatus == types.AuthorizationStatusNotAuthorized:
		// ledger: CLS-not-authorized
		r.Status = result.NotAuthorized
		r.Cause = "GetFoundationModelAvailability: authorizationStatus=NOT_AUTHORIZED"
		r.Remediation = notAuthorized(r, model, anthropic(model) || listed.Provider == "Anthropic", e.Form)
	case a.AgreementAvailability == nil:
		return Failed(r.Account, r.Region, r.Model, StageAvailability, errors.New("answer has no agreementAvailability"))
	// The agreement before the entitlement: the model access page documents
	// agreementAvailability as the access signal, and a Marketplace model
	// nobody has subscribed to yet may read entitlement NOT_AVAILABLE too,
	// which is the normal first-use state, not a missing entitlement.
	// ledger: BR-agreement-first
	case a.AgreementAvailability.Status != types.AgreementStatusAvailable:
		r = classifyAgreement(r, model, a.AgreementAvailability)
	case a.EntitlementAvailability == types.EntitlementAvailabilityNotAvailable:
		// ledger: CLS-not-entitled
		r.Status = result.NotEntitled
		r.Cause = "GetFoundationModelAvailability: entitlementAvailability=NOT_AVAILABLE (agreementAvailability.status=AVAILABLE)"
		r.Remediation = fmt.Sprintf("Account %s has an agreement for %s but no Marketplace entitlement. Allow aws-marketplace:Subscribe, aws-marketplace:Unsubscribe and aws-marketplace:ViewSubscriptions to the principal that first invokes the model (or share a managed entitlement through AWS License Manager), check the account has a valid payment method, then invoke the model once in %s.", r.Account, model, r.Region)
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
	if f == nil {
		return ""
	}
	form := "use-case form"
	switch {
	case f.OptIn:
		form = "use-case form of opt-in region " + f.Region
	case f.Region != "":
		form = "use-case form read in " + f.Region + " (its opt-in status not known)"
	}
	switch {
	case f.Err != nil:
		return "; " + form + ": not known (" + f.Err.Error() + ")"
	case f.Found:
		return "; " + form + ": found (GetUseCaseForModelAccess)"
	}
	return "; " + form + ": missing (GetUseCaseForModelAccess: ResourceNotFoundException)"
}

// notAuthorized says what to do about NOT_AUTHORIZED: the Anthropic form
// when GetUseCaseForModelAccess says it is missing, AWS Support when it is
// there (or the model is not Anthropic's). The form asked about is the one
// that covers the region: in an opt-in region, that region's own.
// ledger: CLS-not-authorized, BR-form-opt-in-regions
func notAuthorized(r result.Result, model string, isAnthropic bool, f *Form) string {
	form := fmt.Sprintf("Submit the Anthropic use-case details once from the organization's management account (Bedrock console, or PutUseCaseForModelAccess) so that every member account inherits them, or from account %s itself; access follows within minutes.", r.Account)
	again := ""
	where := ""
	if f != nil && f.Region != "" {
		again = fmt.Sprintf("submit the Anthropic use-case details again in %s (Bedrock console in that region, or PutUseCaseForModelAccess with --region %s), from account %s or the management account.", f.Region, f.Region, r.Account)
		where = " for " + f.Region
	}
	switch {
	case f != nil && f.OptIn:
		form = fmt.Sprintf("%s is an opt-in region, where the form submitted for the commercial regions does not count: %s", f.Region, again)
	case f != nil && f.Region != "":
		form += fmt.Sprintf(" If %s is an opt-in region (grantwatch could not read the account's region opt-in status), ", f.Region) + again
	}
	support := fmt.Sprintf("Open an AWS Support case for Amazon Bedrock naming account %s, the model %s and the region %s.", r.Account, model, r.Region)
	switch {
	case !isAnthropic:
		return fmt.Sprintf("Account %s is not authorized for %s. %s", r.Account, model, support)
	case f != nil && f.Err == nil && !f.Found:
		return "Anthropic models need the first-time-use form, and this account has none" + where + ". " + form
	case f != nil && f.Err == nil && f.Found:
		return fmt.Sprintf("The Anthropic use-case form is on file%s, yet account %s is not authorized for %s: this is not the form. %s", where, r.Account, model, support)
	}
	return "grantwatch could not read the Anthropic use-case form" + where + ". If it is missing: " + form + " If it is on file: " + support
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
// It is UNKNOWN_MODEL, even when its geography cannot start here (an eu.
// profile in us-east-1), until Reconcile finds it listed in another audited
// region: a typo must not send people looking for a region where it exists.
// ledger: CLS-unknown-model, CLS-profile-not-in-region
func profileMissing(r result.Result, ref config.Model, e Evidence) result.Result {
	switch {
	case e.ProfilesErr != nil:
		return Failed(r.Account, r.Region, r.Model, StageListProfiles, e.ProfilesErr)
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

// profileNotInRegion: the profile exists in another audited region, not in
// this one. The alternative named is one the run saw in this region's
// listing (ps), never a guess. ledger: CLS-profile-not-in-region
func profileNotInRegion(r result.Result, cause string, ps Profiles) result.Result {
	ref, _ := config.ParseModel(r.Model)
	r.Status = result.ProfileNotInRegion
	r.Cause = cause
	if ref.Geography != "" && !config.ServedFrom(ref.Geography, r.Region) {
		r.Cause += fmt.Sprintf("; %s. profiles start only from their own geography's regions", ref.Geography)
	}
	r.Remediation = fmt.Sprintf("The inference profile %s cannot be called from %s. Call it from a region where it exists, or stop requiring it in %s.", ref.ProfileID, r.Region, r.Region)
	if ps == nil {
		return r
	}
	model := strings.TrimPrefix(ref.ProfileID, ref.Geography+".")
	if alt := ps.For(model, r.Region); len(alt) > 0 {
		r.Remediation += fmt.Sprintf(" In %s, call %s instead.", r.Region, alt[0].ID)
	} else {
		r.Remediation += fmt.Sprintf(" Bedrock lists no other inference profile for %s in %s.", model, r.Region)
	}
	return r
}

func classifyAgreement(r result.Result, model string, ag *types.AgreementAvailability) result.Result {
	switch ag.Status {
	// ledger: CLS-enabled
	case types.AgreementStatusAvailable:
		r.Status = result.Enabled
		r.Cause = "GetFoundationModelAvailability: agreement, authorization, entitlement and region all available"
		r.Remediation = "None needed. If calls are still denied, the cause is outside what Bedrock reports here: the caller's IAM policy (bedrock:InvokeModel on the model and inference-profile ARNs), an SCP or a permissions boundary."
	// ledger: CLS-pending, MP-first-call-subscribes
	case types.AgreementStatusPending:
		r.Status = result.Pending
		r.Cause = "GetFoundationModelAvailability: agreementAvailability.status=PENDING"
		r.Remediation = fmt.Sprintf("The Marketplace subscription for %s is being created (usually about 2 minutes; calls meanwhile fail with MPAgreementBeingCreated). Wait. If it stays PENDING, check that the principal invoking it has aws-marketplace:Subscribe, aws-marketplace:Unsubscribe and aws-marketplace:ViewSubscriptions and that account %s has a valid payment method.", model, r.Account)
	// ledger: CLS-agreement-failed
	case types.AgreementStatusError:
		r.Status = result.AgreementFailed
		r.Cause = "GetFoundationModelAvailability: agreementAvailability.status=ERROR"
		if msg := aws.ToString(ag.ErrorMessage); msg != "" {
			r.Cause += ": " + msg
		}
		r.Remediation = fmt.Sprintf("The Marketplace subscription for %s failed in account %s. Fix what the error names, usually the payment method or billing country (Billing console, Payment preferences), then invoke the model once in %s to subscribe again.", model, r.Account, r.Region)
	// ledger: CLS-agreement-missing, MP-first-call-subscribes
	case types.AgreementStatusNotAvailable:
		r.Status = result.AgreementMissing
		r.Cause = "GetFoundationModelAvailability: agreementAvailability.status=NOT_AVAILABLE"
		r.Remediation = fmt.Sprintf("No Marketplace subscription for %s in account %s: normal until someone calls it, since the first call by a principal allowed aws-marketplace:Subscribe, aws-marketplace:Unsubscribe and aws-marketplace:ViewSubscriptions subscribes the account (about 2 minutes; meanwhile MPAgreementBeingCreated). Give the first caller in %s those permissions, or subscribe ahead: one call from an administrator role, or a managed entitlement shared from the management account (AWS License Manager). Cancelled before? The same first call renews it.", model, r.Account, r.Region)
	default:
		return Failed(r.Account, r.Region, r.Model, StageAvailability, fmt.Errorf("unknown agreementAvailability.status %q", ag.Status))
	}
	return r
}

// notInRegion: the model is not offered in the region. It names a profile
// for the model only when the run saw one in the region's listing (ps), and
// says there is none when the listing has none; it never guesses an id.
// ledger: CLS-not-in-region
func notInRegion(r result.Result, cause string, ps Profiles) result.Result {
	r.Status = result.NotInRegion
	r.Cause = cause
	switch p := ps.For(r.Model, r.Region); {
	case len(p) > 0:
		r.Remediation = fmt.Sprintf("%s is not offered in %s. Call it through the inference profile %s, which exists in %s and routes to %s, or in a region that offers it, or stop requiring it in %s.",
			r.Model, r.Region, p[0].ID, r.Region, strings.Join(p[0].Destinations, ", "), r.Region)
	case ps != nil:
		r.Remediation = fmt.Sprintf("%s is not offered in %s, and Bedrock lists no inference profile for it there. Call it in a region that offers it, or stop requiring it in %s.", r.Model, r.Region, r.Region)
	default:
		r.Remediation = fmt.Sprintf("%s is not offered in %s. Call it in a region that offers it, or through an inference profile if one exists in %s ('aws bedrock list-inference-profiles --region %s'), or stop requiring it in %s.", r.Model, r.Region, r.Region, r.Region, r.Region)
	}
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
			// ledger: CLS-legacy
			if strings.Contains(strings.ToLower(apiErr.ErrorMessage()), "legacy") {
				r.Status = result.Legacy
				r.Cause = "GetFoundationModelAvailability: ResourceNotFoundException: " + apiErr.ErrorMessage()
				r.Remediation = fmt.Sprintf("%s is marked legacy by its provider and refused. Migrate to its successor and update the required model list.", r.Model)
				return r
			}
			return unknownModel(r, "GetFoundationModelAvailability: ResourceNotFoundException: "+apiErr.ErrorMessage())
		// ledger: CLS-unknown-model, BR-availability-unknown-id
		case "ValidationException":
			return unknownModel(r, "GetFoundationModelAvailability: ValidationException: "+apiErr.ErrorMessage())
		}
	}
	// ledger: CLS-audit-error
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
// never a verdict on the model. The advice follows the error's kind: the
// member-role stack only when STS refused the role (AccessDenied), the
// role's permissions only when Bedrock denied it, throttling advice for
// every service's throttling code.
func Failed(account, region, model string, stage Stage, err error) result.Result {
	r := result.Result{Account: account, Region: region, Model: model, Status: result.AuditError}
	kind, detail := explain(err)
	r.Cause = fmt.Sprintf("%s: %s: %s", stage, kind, detail)
	switch {
	case Throttled(kind):
		// ledger: PROTO-throttling-codes
		r.Remediation = fmt.Sprintf("%s throttled the audit after every retry. Lower limits.per_account_region or limits.concurrency, or raise limits.max_attempts; the next run checks again.", serviceOf(stage))
	case kind == "timeout":
		r.Remediation = "The call did not finish within limits.call_timeout (or one attempt within limits.attempt_timeout). The next run checks again; raise the timeouts if the region is slow."
	case stage == StageAssumeRole && kind == "AccessDenied":
		// ledger: STS-assume-role-denied
		r.Remediation = fmt.Sprintf("grantwatch could not assume its audit role in account %s. Deploy the grantwatch member-role stack there (StackSet), and check that its trust policy names the auditor role and the configured ExternalId.", account)
	case stage == StageAssumeRole:
		r.Remediation = fmt.Sprintf("STS did not give grantwatch its audit role in account %s, for a reason other than a refusal of the role; the next run tries again. If it persists, check the auditor's own credentials and the STS endpoint (AWS Health Dashboard).", account)
	case kind == "AccessDeniedException":
		reads := MemberActionsOf("bedrock")
		r.Remediation = fmt.Sprintf("The audit role was denied a Bedrock read call in %s. Look for a service control policy or permissions boundary (often a region-deny SCP) and exempt the grantwatch audit role; its own policy must allow %s and %s (update the member-role StackSet).", region, strings.Join(reads[:len(reads)-1], ", "), reads[len(reads)-1])
	default:
		r.Remediation = "The call failed; the next run checks again. If it persists, check the AWS Health Dashboard for Bedrock in this region and the network path to its endpoint."
	}
	return r
}

// RegionNotEnabled records that the audit could not check a model in an
// opt-in region the account has not enabled (or is enabling or disabling):
// Bedrock there refuses the account's credentials. It is an AUDIT_ERROR,
// since grantwatch saw no answer about the model, but its cause and advice
// name the region's status. ledger: ACC-region-not-enabled
func RegionNotEnabled(account, region, model string, st accounttypes.RegionOptStatus, err error) result.Result {
	r := result.Result{Account: account, Region: region, Model: model, Status: result.AuditError}
	kind, detail := explain(err)
	r.Cause = fmt.Sprintf("%s: %s is an opt-in region that account %s has not enabled (RegionOptStatus %s): %s: %s", StageListModels, region, account, st, kind, detail)
	switch st {
	case accounttypes.RegionOptStatusEnabling:
		r.Remediation = fmt.Sprintf("%s is being enabled in account %s; nothing there, grantwatch included, can call Bedrock until it is. The next run checks again.", region, account)
	default:
		r.Remediation = fmt.Sprintf("Enable %s in account %s (AWS account settings, or account:EnableRegion from the management account) if applications there need Bedrock; until it is, nothing in the account can call Bedrock there. If the account is not meant to use %s, suppress this result for it (suppressions).", region, account, region)
	}
	return r
}

// Throttled reports whether an error code is a throttling code of some AWS
// service: STS and IAM answer Throttling, Bedrock ThrottlingException,
// Organizations and the Account API TooManyRequestsException. The set is
// the SDK's own (aws/retry DefaultThrottleErrorCodes), which its retryer
// backs off on.
// ledger: PROTO-throttling-codes
func Throttled(code string) bool {
	_, ok := retry.DefaultThrottleErrorCodes[code]
	return ok
}

func serviceOf(stage Stage) string {
	switch stage {
	case StageAssumeRole:
		return "STS"
	case StageListRoles, StageSimulate:
		return "IAM"
	}
	return "Bedrock"
}

// explain names an error's kind (the AWS error code where there is one) and
// detail. A deadline is a timeout, whether the call's context ended or the
// HTTP client gave up on one attempt.
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
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		kind, detail = "timeout", err.Error()
	case errors.As(err, &netErr):
		kind, detail = "network", err.Error()
	default:
		kind, detail = "error", err.Error()
	}
	return kind, detail
}

// Seen is what the run saw listed, for Reconcile.
type Seen struct {
	// OfferedIn maps model and system profile ids to the regions that list them.
	OfferedIn map[string][]string
	// Profiles are each region's system profiles, when the run listed them.
	Profiles map[string]Profiles
}

// Reconcile corrects what one region alone cannot tell: a model id that a
// region does not know, but another audited region lists, exists and is simply
// not offered there. The same holds for a system profile id listed in another
// audited region; one listed nowhere stays UNKNOWN_MODEL.
func Reconcile(results []result.Result, seen Seen) {
	for i, r := range results {
		ref, _ := config.ParseModel(r.Model)
		id := r.Model
		if ref.Kind == config.SystemProfile {
			id = ref.ProfileID
		}
		regions := seen.OfferedIn[id]
		if r.Status != result.UnknownModel || len(regions) == 0 || ref.Kind == config.ApplicationProfile {
			continue
		}
		if ref.Kind == config.SystemProfile {
			results[i] = profileNotInRegion(r, fmt.Sprintf("%s; the profile exists in %s", r.Cause, strings.Join(regions, ", ")), seen.Profiles[r.Region])
			continue
		}
		results[i] = notInRegion(r, fmt.Sprintf("%s; the model is listed in %s", r.Cause, strings.Join(regions, ", ")), seen.Profiles[r.Region])
	}
}
