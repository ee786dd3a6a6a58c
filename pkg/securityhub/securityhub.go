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
// Updates follow the same API reference: after a finding is created,
// BatchImportFindings may not change its Workflow (nor should it change
// Severity or Types), so a finding whose check is usable again is imported
// once more with RecordState ARCHIVED, and its Workflow is set to RESOLVED
// with BatchUpdateFindings.
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
// be checked), first seen at since, updated at now.
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
	workflow := types.WorkflowStatusNew
	fields := map[string]string{
		"grantwatch/Account": r.Account, "grantwatch/Region": r.Region, "grantwatch/Model": r.Model, "grantwatch/Status": string(r.Status),
	}
	if r.Principal != "" {
		fields["grantwatch/Principal"] = r.Principal
	}
	if sp := r.SuppressedBy(); sp != nil {
		workflow = types.WorkflowStatusSuppressed
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
		Workflow:      &types.Workflow{Status: workflow},
	}
}

// Archived is the finding of a check that is usable again: the same finding,
// with RecordState ARCHIVED. Its Workflow is set apart, with Resolve.
func (s Source) Archived(r result.Result, since, now time.Time) types.AwsSecurityFinding {
	f := s.Finding(r, since, now)
	f.RecordState = types.RecordStateArchived
	f.Compliance = &types.Compliance{Status: types.ComplianceStatusPassed}
	f.Workflow = nil // not changeable by the import once created
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

// Findings are the findings of a report: every check that is not usable or
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
		out = append(out, s.Finding(r, first, now))
	}
	return out
}

// Import sends findings in batches of BatchSize, retries the findings a
// batch reports as failed once, and returns how many were imported and an
// error naming those that failed twice: none is dropped silently.
func Import(ctx context.Context, api Importer, findings []types.AwsSecurityFinding) (int, error) {
	imported := 0
	var failed []string
	for start := 0; start < len(findings); start += BatchSize {
		batch := findings[start:min(start+BatchSize, len(findings))]
		for attempt := 0; attempt < 2 && len(batch) > 0; attempt++ {
			out, err := api.BatchImportFindings(ctx, &securityhub.BatchImportFindingsInput{Findings: batch})
			if err != nil {
				return imported, fmt.Errorf("batch import findings: %w", err)
			}
			imported += int(aws.ToInt32(out.SuccessCount))
			retry := make([]types.AwsSecurityFinding, 0, len(out.FailedFindings))
			for _, f := range out.FailedFindings {
				for _, b := range batch {
					if aws.ToString(b.Id) == aws.ToString(f.Id) {
						retry = append(retry, b)
					}
				}
				if attempt == 1 {
					failed = append(failed, fmt.Sprintf("%s (%s: %s)", aws.ToString(f.Id), aws.ToString(f.ErrorCode), aws.ToString(f.ErrorMessage)))
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

// Resolve sets the workflow of archived findings to RESOLVED, in batches
// of BatchSize, and returns an error naming those Security Hub refused.
func Resolve(ctx context.Context, api Updater, productARN string, ids []string) error {
	var failed []string
	for start := 0; start < len(ids); start += BatchSize {
		var keys []types.AwsSecurityFindingIdentifier
		for _, id := range ids[start:min(start+BatchSize, len(ids))] {
			keys = append(keys, types.AwsSecurityFindingIdentifier{Id: aws.String(id), ProductArn: aws.String(productARN)})
		}
		out, err := api.BatchUpdateFindings(ctx, &securityhub.BatchUpdateFindingsInput{
			FindingIdentifiers: keys, Workflow: &types.WorkflowUpdate{Status: types.WorkflowStatusResolved},
			Note: &types.NoteUpdate{Text: aws.String("grantwatch: the check is usable again"), UpdatedBy: aws.String("grantwatch")},
		})
		if err != nil {
			return fmt.Errorf("batch update findings: %w", err)
		}
		for _, f := range out.UnprocessedFindings {
			failed = append(failed, fmt.Sprintf("%s (%s)", aws.ToString(f.FindingIdentifier.Id), aws.ToString(f.ErrorMessage)))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("batch update findings: %s", strings.Join(failed, "; "))
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
