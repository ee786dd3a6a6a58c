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

// statusTable is the one place that says, per status, where reports show it
// (the row order), whether only a principal's result can have it, whether a
// principal can call a model with it (Callable), and its
// default severity (README, "Statuses"): critical, except what is normal or
// still works. Statuses, PrincipalStatuses and the defaults derive from it.
var statusTable = []struct {
	Status Status
	// PrincipalOnly: only a principal's result can have the status.
	PrincipalOnly bool
	// Uncallable: no principal can call the model, whatever it may do, so
	// an account's result with the status gets no principal results.
	Uncallable bool
	// Severity is the default when alerts.severity does not set one; a
	// usable status is only ever alerted as resolved, at info.
	Severity Severity
}{
	{Status: Enabled, Severity: Info},
	{Status: Pending, Severity: Critical},
	// Since AWS enables serverless models on first use, a third-party model
	// nobody has invoked yet has no agreement: the normal state.
	{Status: AgreementMissing, Severity: Warning},
	{Status: AgreementFailed, Severity: Critical},
	{Status: NotAuthorized, Severity: Critical},
	{Status: NotEntitled, Severity: Critical},
	{Status: NotInRegion, Uncallable: true, Severity: Critical},
	{Status: ProfileRequired, Uncallable: true, Severity: Critical},
	{Status: ProfileNotInRegion, Uncallable: true, Severity: Critical},
	{Status: Legacy, Severity: Critical},
	{Status: UnknownModel, Uncallable: true, Severity: Critical},
	{Status: IAMDenied, PrincipalOnly: true, Severity: Critical},
	{Status: SCPDenied, PrincipalOnly: true, Severity: Critical},
	{Status: BoundaryDenied, PrincipalOnly: true, Severity: Critical},
	{Status: MarketplaceDenied, PrincipalOnly: true, Severity: Critical},
	// Undetermined is not denied: the simulation lacked a key only the
	// caller's request carries (docs/principals.md).
	{Status: IAMUndetermined, PrincipalOnly: true, Severity: Warning},
	{Status: AuditError, Uncallable: true, Severity: Warning},
}

// Statuses lists every status in the order reports show them.
var Statuses = statusesWhere(func(bool) bool { return true })

// PrincipalStatuses are the statuses only a principal's result can have.
var PrincipalStatuses = statusesWhere(func(principalOnly bool) bool { return principalOnly })

// defaultSeverity is the severity of each status unless configured.
var defaultSeverity = func() map[Status]Severity {
	m := make(map[Status]Severity, len(statusTable))
	for _, row := range statusTable {
		m[row.Status] = row.Severity
	}
	return m
}()

// Callable says whether a principal could call a model whose account-level
// status is s; only then are principals checked for it.
func (s Status) Callable() bool { return !uncallable[s] }

var uncallable = func() map[Status]bool {
	m := map[Status]bool{}
	for _, row := range statusTable {
		m[row.Status] = row.Uncallable
	}
	return m
}()

func statusesWhere(keep func(principalOnly bool) bool) []Status {
	var out []Status
	for _, row := range statusTable {
		if keep(row.PrincipalOnly) {
			out = append(out, row.Status)
		}
	}
	return out
}
