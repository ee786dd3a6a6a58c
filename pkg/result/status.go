package result

// Status is the verdict of one (account, region, model) check.
type Status string

// The statuses, exactly as they appear in output, history and alerts. A new
// status is a constant here and a row in statusTable (docs/development.md).
const (
	Enabled          Status = "ENABLED"
	Pending          Status = "PENDING"
	AgreementMissing Status = "AGREEMENT_MISSING"
	AgreementFailed  Status = "AGREEMENT_FAILED"
	NotAuthorized    Status = "NOT_AUTHORIZED"
	NotEntitled      Status = "NOT_ENTITLED"
	NotInRegion      Status = "NOT_IN_REGION"
	Legacy           Status = "LEGACY"
	UnknownModel     Status = "UNKNOWN_MODEL"
	// ProfileRequired: the model id answers only through an inference profile.
	ProfileRequired Status = "PROFILE_REQUIRED"
	// ProfileNotInRegion: the inference profile does not exist in this source region.
	ProfileNotInRegion Status = "PROFILE_NOT_IN_REGION"
	// The statuses of a principal whose own permissions refuse the call.
	IAMDenied         Status = "IAM_DENIED"
	SCPDenied         Status = "SCP_DENIED"
	BoundaryDenied    Status = "BOUNDARY_DENIED"
	MarketplaceDenied Status = "MARKETPLACE_DENIED"
	// IAMUndetermined: the policy simulator could not decide the call
	// without context keys grantwatch does not know (MissingContextValues),
	// and without them the answer would have been a denial.
	IAMUndetermined Status = "IAM_UNDETERMINED"
	// AuditError means grantwatch could not check; it says nothing about the model.
	AuditError Status = "AUDIT_ERROR"
)

// statusRow is one row of statusTable.
type statusRow struct {
	Status Status
	// PrincipalOnly: only a principal's result can have the status.
	PrincipalOnly bool
	// Uncallable: no principal can call the model, whatever it may do, so
	// an account's result with the status gets no principal results.
	Uncallable bool
	// Severity is the default when alerts.severity does not set one; a
	// usable status is only ever alerted as resolved, at info.
	Severity Severity
	// Signal is what AWS answers that decides the status, and WhatToDo the
	// gist of its remediation: the statuses page's row (docs/statuses.md),
	// generated from this table (go test ./pkg/result -run StatusesPage
	// -update). The classification's own cause and remediation texts are
	// in pkg/check.
	Signal, WhatToDo string
}

// statusTable is the one place that says, per status, where reports show it
// (the row order), whether only a principal's result can have it, whether a
// principal can call a model with it (Callable), its default severity
// (critical, except what is normal or still works) and its row on the
// statuses page. Statuses, PrincipalStatuses, the defaults and that page's
// tables derive from it.
var statusTable = []statusRow{
	{Status: Enabled, Severity: Info,
		Signal:   "all four availability fields positive, lifecycle ACTIVE; for a profile: it exists in the source region and its model is usable there",
		WhatToDo: "none; if calls still fail, it is IAM, an SCP or a boundary: configure principals ([below](#principal-statuses)) and grantwatch tells which"},
	{Status: Pending, Severity: Critical,
		Signal:   "`agreementAvailability.status=PENDING`, whatever the entitlement says",
		WhatToDo: "wait (about 2 minutes); alerts only after `pending_grace`"},
	// Since AWS enables serverless models on first use, a third-party model
	// nobody has invoked yet has no agreement: the normal state.
	{Status: AgreementMissing, Severity: Warning,
		Signal:   "`agreementAvailability.status=NOT_AVAILABLE`, whatever the entitlement says (a Marketplace model nobody has subscribed to yet may read entitlement `NOT_AVAILABLE` too)",
		WhatToDo: "normal for a third-party model nobody has invoked: since 2025 the first call by a principal allowed `aws-marketplace:Subscribe`, `Unsubscribe` and `ViewSubscriptions` subscribes the account (about 2 minutes). Make sure the first caller has them, or subscribe centrally ahead of time (invoke once from an administrator role, or a managed entitlement from the management account via License Manager)"},
	{Status: AgreementFailed, Severity: Critical,
		Signal:   "`agreementAvailability.status=ERROR` (+ its `errorMessage`), whatever the entitlement says",
		WhatToDo: "fix billing (payment method, country), invoke once to retry"},
	{Status: NotAuthorized, Severity: Critical,
		Signal:   "`authorizationStatus=NOT_AUTHORIZED`; for Anthropic models with what `GetUseCaseForModelAccess` said of the form that covers the region (the account's commercial form, or the opt-in region's own)",
		WhatToDo: "form missing: submit the use-case form, ideally once from the management account (members inherit it); in an opt-in region, submit it again there; form on file, or not Anthropic: AWS Support"},
	{Status: NotEntitled, Severity: Critical,
		Signal:   "`entitlementAvailability=NOT_AVAILABLE` while the agreement is `AVAILABLE`",
		WhatToDo: "`aws-marketplace:Subscribe/Unsubscribe/ViewSubscriptions` for the first caller, or a managed entitlement via License Manager; payment method"},
	{Status: NotInRegion, Uncallable: true, Severity: Critical,
		Signal:   "`regionAvailability=NOT_AVAILABLE`; absent from ListFoundationModels; or unknown here but listed in another audited region (base model ids only)",
		WhatToDo: "use a region that offers it, or the inference profile grantwatch names: only one that the region's ListInferenceProfiles listed for the model (the region's profiles are read whenever a required model is missing there); when the listing has none it says so, and when the listing could not be read it points to `aws bedrock list-inference-profiles`. It never makes up an id"},
	{Status: ProfileRequired, Uncallable: true, Severity: Critical,
		Signal:   "a base model id whose ListFoundationModels `inferenceTypesSupported` has no `ON_DEMAND` (Claude 4.x, Nova: `INFERENCE_PROFILE`); on-demand calls with it fail with ValidationException",
		WhatToDo: "call the profile grantwatch names, picked from the profiles ListInferenceProfiles lists for the model in that region (the region's geography first, `global.` last), or it says none exists there"},
	{Status: ProfileNotInRegion, Uncallable: true, Severity: Critical,
		Signal:   "a system profile id that ListInferenceProfiles does not list in this source region, but another audited region does (the cause adds when its geography cannot start here, an `eu.` profile in `us-east-1`)",
		WhatToDo: "call it from a region where it exists, or the profile for the same model that this region's listing shows, which grantwatch names (or it says there is none)"},
	{Status: Legacy, Severity: Critical,
		Signal:   "ListFoundationModels `modelLifecycle.status=LEGACY`, or ResourceNotFoundException \"marked by provider as Legacy\"",
		WhatToDo: "migrate to the successor"},
	{Status: UnknownModel, Uncallable: true, Severity: Critical,
		Signal:   "ValidationException (\"The provided model identifier is invalid.\") / ResourceNotFoundException for a model id; a system profile id that no audited region lists, in every region whatever its geography prefix (a typo in `eu.…` is not \"call it from an EU region\"); an application profile ARN that GetInferenceProfile does not find",
		WhatToDo: "fix the id (typos; a deleted application profile)"},
	{Status: IAMDenied, PrincipalOnly: true, Severity: Critical,
		Signal:   "`implicitDeny` with no identity allow (the remediation is the minimal statement to add, with every ARN), or `explicitDeny` by one of the role's own policies (named)",
		WhatToDo: "add the statement / narrow the Deny"},
	{Status: SCPDenied, PrincipalOnly: true, Severity: Critical,
		Signal:   "`OrganizationsDecisionDetail.AllowedByOrganizations=false` for that resource (read as the ledger's IAM-orgs-decision-detail says); the cause names the action and region, and says when it is a profile's destination or the global hop (`aws:RequestedRegion=unspecified`)",
		WhatToDo: "add the region (for the global hop: `unspecified`, as AWS documents) to the region-deny SCP's `aws:RequestedRegion` list for `bedrock:InvokeModel*`, or exempt the role; for `bedrock:CallWithBearerToken`, stop using API keys or exempt the role"},
	{Status: BoundaryDenied, PrincipalOnly: true, Severity: Critical,
		Signal:   "`PermissionsBoundaryDecisionDetail.AllowedByPermissionsBoundary=false`",
		WhatToDo: "allow the actions on that resource in the permissions boundary"},
	{Status: MarketplaceDenied, PrincipalOnly: true, Severity: Critical,
		Signal:   "the account's agreement is missing (`AGREEMENT_MISSING`) for a model sold through AWS Marketplace, and the role may not `aws-marketplace:Subscribe`, `Unsubscribe` or `ViewSubscriptions` (`Subscribe` with the model's `aws-marketplace:ProductId` where AWS lists one), so its first call cannot subscribe. Not checked for Amazon, DeepSeek, Mistral AI, Meta, Qwen and OpenAI models. The account-level `AGREEMENT_MISSING` names the role, and is made critical only with `alerts.marketplace_denied_critical`",
		WhatToDo: "allow the three Marketplace actions, or subscribe centrally first"},
	// Undetermined is not denied: the simulation lacked a key only the
	// caller's request carries (docs/principals.md).
	{Status: IAMUndetermined, PrincipalOnly: true, Severity: Warning,
		Signal:   "not `allowed`, and `MissingContextValues` names keys grantwatch cannot know (such as `aws:SourceVpce`): IAM could not decide",
		WhatToDo: "give the keys' values in the set's `context` ([configuration](configuration.md))"},
	{Status: AuditError, Uncallable: true, Severity: Warning,
		Signal:   "AssumeRole refused (`AccessDenied`); AccessDenied on a Bedrock read (SCP, boundary, or a member role without the newer read actions); throttling after every retry, by any service's code (`Throttling` from STS and IAM, `ThrottlingException` from Bedrock, `TooManyRequestsException`, ...); 5xx; timeout of the call or of one attempt; malformed answer; an opt-in region the account has not enabled (`UnrecognizedClientException` from Bedrock there, and `DISABLED`, `DISABLING` or `ENABLING` in the account's ListRegions)",
		WhatToDo: "what the error's code says, and only that: a region not enabled, enable it in the account or suppress the result where the account is not meant to use it; a refused AssumeRole, deploy or fix the member role; AccessDenied on a read, exempt the role from the SCP or update the member-role StackSet; throttling, lower `limits.per_account_region` / `limits.concurrency` (never \"deploy the member role\"); a timeout, raise `limits.call_timeout` / `limits.attempt_timeout`. Never counted as a non-compliant model"},
}

// Statuses lists every status in the order reports show them.
var Statuses = statusesWhere(func(bool) bool { return true })

// PrincipalStatuses are the statuses only a principal's result can have.
var PrincipalStatuses = statusesWhere(func(principalOnly bool) bool { return principalOnly })

// defaultSeverity is the severity of each status unless configured.
var defaultSeverity = column(func(row statusRow) Severity { return row.Severity })

// Callable says whether a principal could call a model whose account-level
// status is s; only then are principals checked for it.
func (s Status) Callable() bool { return !uncallable[s] }

var uncallable = column(func(row statusRow) bool { return row.Uncallable })

// column maps each status to one field of its statusTable row.
func column[V any](field func(statusRow) V) map[Status]V {
	m := make(map[Status]V, len(statusTable))
	for _, row := range statusTable {
		m[row.Status] = field(row)
	}
	return m
}

func statusesWhere(keep func(principalOnly bool) bool) []Status {
	var out []Status
	for _, row := range statusTable {
		if keep(row.PrincipalOnly) {
			out = append(out, row.Status)
		}
	}
	return out
}
