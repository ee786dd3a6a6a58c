package shsim

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"
)

func finding(record types.RecordState, compliance types.ComplianceStatus, fpSeverity types.SeverityLabel) types.AwsSecurityFinding {
	return types.AwsSecurityFinding{
		Id: aws.String("f-1"), ProductArn: aws.String("arn:aws:securityhub:us-east-1:999999999999:product/999999999999/default"),
		SchemaVersion: aws.String("2018-10-08"), GeneratorId: aws.String("g"), AwsAccountId: aws.String("999999999999"),
		CreatedAt: aws.String("2026-11-01T00:00:00.000Z"), UpdatedAt: aws.String("2026-11-02T00:00:00.000Z"),
		Title: aws.String("t"), Description: aws.String("d"), RecordState: record,
		Compliance:            &types.Compliance{Status: compliance},
		FindingProviderFields: &types.FindingProviderFields{Severity: &types.FindingProviderSeverity{Label: fpSeverity}},
		Resources:             []types.Resource{{Type: aws.String("Other"), Id: aws.String("r")}},
	}
}

// The stand-in keeps a finding as the API reference says it evolves.
func TestStandInFollowsTheAPIReference(t *testing.T) {
	hub := New()
	srv := httptest.NewServer(hub)
	defer srv.Close()
	client := securityhub.New(securityhub.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIA", "secret", "")})
	ctx := context.Background()
	imp := func(f types.AwsSecurityFinding) {
		t.Helper()
		out, err := client.BatchImportFindings(ctx, &securityhub.BatchImportFindingsInput{Findings: []types.AwsSecurityFinding{f}})
		if err != nil || aws.ToInt32(out.FailedCount) != 0 {
			t.Fatalf("import: %v, %+v", err, out)
		}
	}
	setWorkflow := func(s types.WorkflowStatus) {
		t.Helper()
		out, err := client.BatchUpdateFindings(ctx, &securityhub.BatchUpdateFindingsInput{
			FindingIdentifiers: []types.AwsSecurityFindingIdentifier{{Id: aws.String("f-1"), ProductArn: aws.String("arn:aws:securityhub:us-east-1:999999999999:product/999999999999/default")}},
			Workflow:           &types.WorkflowUpdate{Status: s},
		})
		if err != nil || len(out.ProcessedFindings) != 1 {
			t.Fatalf("update: %v, %+v", err, out)
		}
	}
	check := func(step string, workflow types.WorkflowStatus, severity types.SeverityLabel) {
		t.Helper()
		f, _ := hub.Finding("f-1")
		if f.Workflow.Status != workflow || f.Severity.Label != severity {
			t.Errorf("%s: workflow %s, severity %s; want %s, %s", step, f.Workflow.Status, f.Severity.Label, workflow, severity)
		}
	}

	imp(finding(types.RecordStateActive, types.ComplianceStatusFailed, types.SeverityLabelHigh))
	check("created without Workflow", types.WorkflowStatusNew, types.SeverityLabelHigh)
	withWorkflow := finding(types.RecordStateActive, types.ComplianceStatusFailed, types.SeverityLabelMedium)
	withWorkflow.Workflow = &types.Workflow{Status: types.WorkflowStatusSuppressed}
	imp(withWorkflow)
	check("an import's Workflow on an existing finding", types.WorkflowStatusNew, types.SeverityLabelMedium)
	setWorkflow(types.WorkflowStatusResolved)
	imp(finding(types.RecordStateArchived, types.ComplianceStatusPassed, types.SeverityLabelInformational))
	check("archived", types.WorkflowStatusResolved, types.SeverityLabelInformational)
	imp(finding(types.RecordStateActive, types.ComplianceStatusFailed, types.SeverityLabelHigh))
	check("reactivated", types.WorkflowStatusNew, types.SeverityLabelHigh)
	setWorkflow(types.WorkflowStatusSuppressed)
	imp(finding(types.RecordStateActive, types.ComplianceStatusFailed, types.SeverityLabelHigh))
	check("suppressed, updated", types.WorkflowStatusSuppressed, types.SeverityLabelHigh)
	if n := len(hub.Calls()); n != 7 {
		t.Errorf("calls: got %d; want 7 recorded", n)
	}
}

// An import older than the finding it updates (UpdatedAt before the
// finding's) is ignored, though not refused (ledger: SH-updated-at-order).
func TestStandInIgnoresAnOlderUpdate(t *testing.T) {
	hub := New()
	srv := httptest.NewServer(hub)
	defer srv.Close()
	client := securityhub.New(securityhub.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIA", "secret", "")})
	imp := func(f types.AwsSecurityFinding) {
		t.Helper()
		out, err := client.BatchImportFindings(context.Background(), &securityhub.BatchImportFindingsInput{Findings: []types.AwsSecurityFinding{f}})
		if err != nil || aws.ToInt32(out.FailedCount) != 0 {
			t.Fatalf("import: %v, %+v", err, out)
		}
	}
	imp(finding(types.RecordStateActive, types.ComplianceStatusFailed, types.SeverityLabelHigh))
	older := finding(types.RecordStateArchived, types.ComplianceStatusPassed, types.SeverityLabelInformational)
	older.UpdatedAt = aws.String("2026-11-01T12:00:00.000Z") // before the finding's 2026-11-02
	imp(older)
	if f, _ := hub.Finding("f-1"); f.RecordState != types.RecordStateActive || aws.ToString(f.UpdatedAt) != "2026-11-02T00:00:00.000Z" {
		t.Errorf("after an older import: record %s, updated %s; want the finding unchanged", f.RecordState, aws.ToString(f.UpdatedAt))
	}
	newer := finding(types.RecordStateArchived, types.ComplianceStatusPassed, types.SeverityLabelInformational)
	newer.UpdatedAt = aws.String("2026-11-03T00:00:00.000Z")
	imp(newer)
	if f, _ := hub.Finding("f-1"); f.RecordState != types.RecordStateArchived {
		t.Errorf("after a newer import: record %s; want ARCHIVED", f.RecordState)
	}
}
