// Package securityhub turns grantwatch's results into AWS Security Finding
// Format (ASFF) findings and imports them into Security Hub.
//
// Who may import: BatchImportFindings with the default product ARN must be
// called from the account each finding names in AwsAccountId (Security Hub
// API reference, BatchImportFindings); only allow-listed partner products
// may import for other accounts. Neither the Security Hub administrator nor
// the audit account may import a finding whose AwsAccountId is a member
// account. So grantwatch imports its findings into the audit account's own
// Security Hub, with AwsAccountId the audit account, and names the member
// account as the finding's AwsAccount resource and in ProductFields; the
// findings reach the organization's Security Hub administrator through the
// audit account's membership (or the audit account is the administrator).
//
// Updates follow the same API reference (ledger: SH-import-no-workflow,
// SH-provider-fields): BatchImportFindings creates a finding with everything
// a provider sets (Workflow only for one suppressed from the start; else
// Security Hub starts it NEW); later imports
// update only what a provider may update: FindingProviderFields (severity,
// types), UpdatedAt, RecordState, descriptions and product fields, never
// Workflow and never the top-level Severity and Types. Every workflow change
// (SUPPRESSED, back to NEW, RESOLVED) goes through BatchUpdateFindings. A
// finding's CreatedAt is its first sighting, kept by the caller.
package securityhub

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/grantwatch/grantwatch/pkg/result"
)

// Importer is the part of *securityhub.Client that imports findings.
type Importer interface {
	BatchImportFindings(ctx context.Context, in *securityhub.BatchImportFindingsInput, optFns ...func(*securityhub.Options)) (*securityhub.BatchImportFindingsOutput, error)
}

// Updater is the part of *securityhub.Client that sets a finding's workflow.
type Updater interface {
	BatchUpdateFindings(ctx context.Context, in *securityhub.BatchUpdateFindingsInput, optFns ...func(*securityhub.Options)) (*securityhub.BatchUpdateFindingsOutput, error)
}

// API is what grantwatch needs of Security Hub.
type API interface {
	Importer
	Updater
}

var _ API = (*securityhub.Client)(nil)

// The fixed parts of every finding.
const (
	SchemaVersion = "2018-10-08"
	GeneratorID   = "grantwatch/bedrock-model-access"
	// FindingType is the ASFF type: namespace/category/classifier, the
	// namespace one of those the ASFF allows.
	FindingType = "Software and Configuration Checks/AWS Security Best Practices/Amazon Bedrock model access"
	// BatchSize is the most findings one BatchImportFindings call takes.
	// ledger: SH-import
	BatchSize = 100
)

// ArchivedRetention is how long Security Hub CSPM keeps an archived finding
// that is not updated: 30 days, against 90 for an active one (ledger:
// SH-finding-retention). An archived finding that comes back later is
// imported as a creation, in full.
const ArchivedRetention = 30 * 24 * time.Hour

// Source says who imports findings, where, and with which severities.
type Source struct {
	// Account is the importing account (the auditor's): see the package doc.
	Account, Region, Partition string
	Severity                   result.Severities
}

// ProductARN is the default product of the importing account.
func (s Source) ProductARN() string {
	return fmt.Sprintf("arn:%s:securityhub:%s:%s:product/%s/default", s.Partition, s.Region, s.Account, s.Account)
}

// ID is a check's finding id: stable across runs, one per check and principal.
func ID(r result.Result) string {
	id := "grantwatch/" + r.Account + "/" + r.Region + "/" + r.Model
	if r.Principal != "" {
		id += "/" + r.Principal
	}
	return id
}

// label maps grantwatch's severities to the ASFF's.
func label(s result.Severity) types.SeverityLabel {
	switch s {
	case result.Critical:
		return types.SeverityLabelCritical
	case result.Warning:
		return types.SeverityLabelMedium
	}
	return types.SeverityLabelInformational
}

// timestamp is the ASFF's date-time format.
func timestamp(t time.Time) *string { return aws.String(t.UTC().Format("2006-01-02T15:04:05.000Z")) }

// Finding is the ASFF finding of a check that is not usable (or could not
// be checked), first seen at since, updated at now, as it is created: with
// no Workflow (Security Hub starts it NEW; Workflow is set apart, with
// SetWorkflow). Update gives the same finding as an update of one that
// exists.
func (s Source) Finding(r result.Result, since, now time.Time) types.AwsSecurityFinding {
	sev := label(s.Severity.For(r))
	compliance := types.ComplianceStatusFailed
	switch r.Status {
	case result.AuditError:
		compliance = types.ComplianceStatusNotAvailable // grantwatch could not check
	case result.IAMUndetermined:
		// ASFF Compliance.Status WARNING: "some information is missing"
		// (ledger: SH-compliance-warning).
		compliance = types.ComplianceStatusWarning
	}
	fields := map[string]string{
		"grantwatch/Account": r.Account, "grantwatch/Region": r.Region, "grantwatch/Model": r.Model, "grantwatch/Status": string(r.Status),
	}
	if r.Principal != "" {
		fields["grantwatch/Principal"] = r.Principal
	}
	if sp := r.SuppressedBy(); sp != nil {
		fields["grantwatch/SuppressedUntil"], fields["grantwatch/SuppressedBy"] = sp.Until, sp.Owner
		fields["grantwatch/SuppressedReason"] = result.Clip(sp.Reason, 1024)
	}
	title := fmt.Sprintf("%s: Bedrock model %s in %s (account %s)", r.Status, r.Model, r.Region, r.Account)
	switch {
	case r.Status == result.IAMUndetermined:
		title = fmt.Sprintf("%s: IAM could not decide whether %s may call Bedrock model %s in %s (account %s)", r.Status, r.Principal, r.Model, r.Region, r.Account)
	case r.Principal != "":
		title = fmt.Sprintf("%s: %s may not call Bedrock model %s in %s (account %s)", r.Status, r.Principal, r.Model, r.Region, r.Account)
	}
	return types.AwsSecurityFinding{
		SchemaVersion: aws.String(SchemaVersion),
		Id:            aws.String(ID(r)),
		ProductArn:    aws.String(s.ProductARN()),
		GeneratorId:   aws.String(GeneratorID),
		AwsAccountId:  aws.String(s.Account),
		Types:         []string{FindingType},
		CreatedAt:     timestamp(since),
		UpdatedAt:     timestamp(now),
		Severity:      &types.Severity{Label: sev},
		FindingProviderFields: &types.FindingProviderFields{
			Severity: &types.FindingProviderSeverity{Label: sev, Original: aws.String(string(s.Severity.For(r)))},
			Types:    []string{FindingType},
		},
		Title:       aws.String(result.Clip(title, 256)),
		Description: aws.String(result.Clip(r.Cause, 1024)),
		Compliance:  &types.Compliance{Status: compliance},
		Remediation: &types.Remediation{Recommendation: &types.Recommendation{Text: aws.String(result.Clip(r.Remediation, 512))}},
		Resources: []types.Resource{
			{Type: aws.String("Other"), Id: aws.String(modelResource(s.Partition, r)), Partition: types.Partition(s.Partition), Region: aws.String(r.Region)},
			{Type: aws.String("AwsAccount"), Id: aws.String("AWS::::Account:" + r.Account), Partition: types.Partition(s.Partition), Region: aws.String(r.Region)},
		},
		ProductFields: fields,
		Region:        aws.String(r.Region),
		RecordState:   types.RecordStateActive,
	}
}

// Workflow is the workflow status a check's finding should have: SUPPRESSED
// while a suppression covers the check, else NEW.
func Workflow(r result.Result) types.WorkflowStatus {
	if r.SuppressedBy() != nil {
		return types.WorkflowStatusSuppressed
	}
	return types.WorkflowStatusNew
}

// Update is f as an import that updates an existing finding: without the
// top-level Severity and Types, which a provider updates through
// FindingProviderFields only (ledger: SH-provider-fields), and without
// Workflow, which an import cannot change (ledger: SH-import-no-workflow).
func Update(f types.AwsSecurityFinding) types.AwsSecurityFinding {
	f.Severity, f.Types, f.Workflow = nil, nil, nil
	return f
}

// Archived is the update that archives the finding of r: RecordState
// ARCHIVED, Compliance PASSED when the check is usable again, else
// NOT_AVAILABLE (grantwatch no longer checks it: ignored or dropped), and
// why as its description. Its Workflow is set apart: RESOLVED, with
// SetWorkflow.
func (s Source) Archived(r result.Result, since, now time.Time, why string) types.AwsSecurityFinding {
	f := Update(s.Finding(r, since, now))
	f.RecordState = types.RecordStateArchived
	f.Compliance = &types.Compliance{Status: types.ComplianceStatusNotAvailable}
	if r.Status.Usable() {
		f.Compliance.Status = types.ComplianceStatusPassed
	}
	f.Description = aws.String(result.Clip(why, 1024))
	return f
}

// modelResource names the model the check is about: its foundation-model
// ARN in the region, or the profile ARN as configured.
func modelResource(partition string, r result.Result) string {
	if strings.HasPrefix(r.Model, "arn:") {
		return r.Model
	}
	return "arn:" + partition + ":bedrock:" + r.Region + "::foundation-model/" + r.Model
}

// Findings are the findings of a report as a first import creates them
// (`grantwatch run --output asff`): every check that is not usable or
// could not be checked, but for statuses configured to be ignored and a
// principal's copy of its account's problem. since gives a check's first
// sighting when known (else now).
func (s Source) Findings(rep *result.Report, since func(result.Result) (time.Time, bool), now time.Time) []types.AwsSecurityFinding {
	var out []types.AwsSecurityFinding
	for _, r := range rep.Results {
		if r.Status.Usable() || !s.Severity.For(r).Alerts() {
			continue
		}
		first := now
		if since != nil {
			if t, ok := since(r); ok {
				first = t
			}
		}
		f := s.Finding(r, first, now)
		f.Workflow = &types.Workflow{Status: Workflow(r)} // a creation may set it: the file is for a first import
		out = append(out, f)
	}
	return out
}

// Import sends findings in batches of BatchSize, retries the findings a
// batch reports as failed once, and returns the ids of those imported and
// an error naming those that failed twice: none is dropped silently.
func Import(ctx context.Context, api Importer, findings []types.AwsSecurityFinding) (map[string]bool, error) {
	imported := map[string]bool{}
	var failed []string
	for start := 0; start < len(findings); start += BatchSize {
		batch := findings[start:min(start+BatchSize, len(findings))]
		for attempt := 0; attempt < 2 && len(batch) > 0; attempt++ {
			out, err := api.BatchImportFindings(ctx, &securityhub.BatchImportFindingsInput{Findings: batch})
			if err != nil {
				return imported, fmt.Errorf("batch import findings: %w", err)
			}
			if f := out.FailedFindings; len(f) == len(batch) && len(f) > 0 && aws.ToString(f[0].ErrorCode) == "InvalidAccess" {
				// Security Hub is off in the account (or the product not
				// enabled): it refuses every finding alike, so stop here
				// (ledger: SH-disabled-invalid-access).
				return imported, fmt.Errorf("batch import findings: %d findings not imported: %s (%s): Security Hub (CSPM) must be enabled in the importing account and region",
					len(findings)-len(imported), aws.ToString(f[0].ErrorCode), aws.ToString(f[0].ErrorMessage))
			}
			refused := map[string]bool{}
			retry := make([]types.AwsSecurityFinding, 0, len(out.FailedFindings))
			for _, f := range out.FailedFindings {
				refused[aws.ToString(f.Id)] = true
				for _, b := range batch {
					if aws.ToString(b.Id) == aws.ToString(f.Id) {
						retry = append(retry, b)
					}
				}
				if attempt == 1 {
					failed = append(failed, fmt.Sprintf("%s (%s: %s)", aws.ToString(f.Id), aws.ToString(f.ErrorCode), aws.ToString(f.ErrorMessage)))
				}
			}
			for _, b := range batch {
				if !refused[aws.ToString(b.Id)] {
					imported[aws.ToString(b.Id)] = true
				}
			}
			batch = retry
		}
	}
	if len(failed) > 0 {
		return imported, fmt.Errorf("batch import findings: %d findings failed twice: %s", len(failed), strings.Join(failed, "; "))
	}
	return imported, nil
}

// SetWorkflow sets the workflow status of findings with BatchUpdateFindings
// (ledger: SH-update-workflow), in batches of BatchSize, with note saying
// why. It returns the ids Security Hub processed and an error naming those
// it did not.
func SetWorkflow(ctx context.Context, api Updater, productARN string, ids []string, status types.WorkflowStatus, note string) (map[string]bool, error) {
	done := map[string]bool{}
	err := updateInBatches(ctx, api, productARN, ids, string(status), done, func(in *securityhub.BatchUpdateFindingsInput) {
		in.Workflow = &types.WorkflowUpdate{Status: status}
		in.Note = &types.NoteUpdate{Text: aws.String(result.Clip(note, 512)), UpdatedBy: aws.String("grantwatch")}
	})
	return done, err
}

// AddNote sets the note of findings with BatchUpdateFindings, leaving
// their workflow status as it is (ledger: SH-update-note). It returns an
// error naming the findings Security Hub did not update.
func AddNote(ctx context.Context, api Updater, productARN string, ids []string, note, by string) error {
	return updateInBatches(ctx, api, productARN, ids, "note", nil, func(in *securityhub.BatchUpdateFindingsInput) {
		in.Note = &types.NoteUpdate{Text: aws.String(result.Clip(note, 512)), UpdatedBy: aws.String(result.Clip(by, 512))}
	})
}

// updateInBatches calls BatchUpdateFindings for ids, BatchSize at a time,
// with the update set sets. It records the processed ids in done (when not
// nil) and returns an error naming what, the findings Security Hub did not
// process, or the call that failed.
func updateInBatches(ctx context.Context, api Updater, productARN string, ids []string, what string, done map[string]bool, set func(*securityhub.BatchUpdateFindingsInput)) error {
	var failed []string
	for start := 0; start < len(ids); start += BatchSize {
		in := &securityhub.BatchUpdateFindingsInput{}
		for _, id := range ids[start:min(start+BatchSize, len(ids))] {
			in.FindingIdentifiers = append(in.FindingIdentifiers, types.AwsSecurityFindingIdentifier{Id: aws.String(id), ProductArn: aws.String(productARN)})
		}
		set(in)
		out, err := api.BatchUpdateFindings(ctx, in)
		if err != nil {
			return fmt.Errorf("batch update findings (%s): %w", what, err)
		}
		for _, k := range out.ProcessedFindings {
			if done != nil {
				done[aws.ToString(k.Id)] = true
			}
		}
		for _, f := range out.UnprocessedFindings {
			failed = append(failed, fmt.Sprintf("%s (%s: %s)", aws.ToString(f.FindingIdentifier.Id), aws.ToString(f.ErrorCode), aws.ToString(f.ErrorMessage)))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("batch update findings (%s): %s", what, strings.Join(failed, "; "))
	}
	return nil
}

// JSON renders findings as `aws securityhub batch-import-findings
// --cli-input-json file://...` takes them, {"Findings": [...]}, with ASFF's
// member names (the SDK's field names) and no null or empty members.
func JSON(findings []types.AwsSecurityFinding) ([]byte, error) {
	raw, err := json.Marshal(struct{ Findings []types.AwsSecurityFinding }{findings})
	if err != nil {
		return nil, fmt.Errorf("asff: %w", err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("asff: %w", err)
	}
	return json.MarshalIndent(prune(v), "", "  ")
}

// prune drops nulls, empty strings, empty lists and empty objects.
func prune(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if p := prune(e); p != nil {
				out[k] = p
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		var out []any
		for _, e := range x {
			if p := prune(e); p != nil {
				out = append(out, p)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case string:
		if x == "" {
			return nil
		}
	case float64:
		if x == 0 {
			return nil // ASFF's optional numbers (Confidence, Criticality) unset
		}
	case bool:
		if !x {
			return nil
		}
	}
	return v
}
