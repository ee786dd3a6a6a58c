package securityhub

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/grantwatch/grantwatch/pkg/result"
)

var (
	now   = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	since = now.Add(-72 * time.Hour)
	src   = Source{Account: "999999999999", Region: "us-east-1", Partition: "aws"}
)

// The ASFF's required top-level attributes (Security Hub user guide, "ASFF
// required attributes"); the SDK marks the same minus Severity and Types.
func checkRequired(t *testing.T, f types.AwsSecurityFinding) {
	t.Helper()
	for name, v := range map[string]*string{
		"AwsAccountId": f.AwsAccountId, "CreatedAt": f.CreatedAt, "Description": f.Description, "GeneratorId": f.GeneratorId,
		"Id": f.Id, "ProductArn": f.ProductArn, "SchemaVersion": f.SchemaVersion, "Title": f.Title, "UpdatedAt": f.UpdatedAt,
	} {
		if aws.ToString(v) == "" {
			t.Errorf("%s: empty", name)
		}
	}
	if f.Severity == nil || f.Severity.Label == "" {
		t.Error("Severity.Label: empty")
	}
	if len(f.Types) == 0 || !strings.HasPrefix(f.Types[0], "Software and Configuration Checks/") || strings.Count(f.Types[0], "/") != 2 {
		t.Errorf("Types: got %v; want namespace/category/classifier", f.Types)
	}
	if len(f.Resources) == 0 {
		t.Error("Resources: empty")
	}
	for i, r := range f.Resources {
		if aws.ToString(r.Type) == "" || aws.ToString(r.Id) == "" {
			t.Errorf("Resources[%d]: Type %q, Id %q", i, aws.ToString(r.Type), aws.ToString(r.Id))
		}
	}
	for _, ts := range []*string{f.CreatedAt, f.UpdatedAt} {
		if _, err := time.Parse(time.RFC3339Nano, aws.ToString(ts)); err != nil {
			t.Errorf("timestamp %q: %v", aws.ToString(ts), err)
		}
	}
	if len(aws.ToString(f.Title)) > 256 || len(aws.ToString(f.Description)) > 1024 || len(aws.ToString(f.Remediation.Recommendation.Text)) > 512 {
		t.Errorf("a text over its ASFF limit: title %d, description %d, remediation %d", len(aws.ToString(f.Title)), len(aws.ToString(f.Description)), len(aws.ToString(f.Remediation.Recommendation.Text)))
	}
}

func TestFindings(t *testing.T) {
	suppressed := result.Result{Account: "111111111111", Region: "us-east-1", Model: "ai21.jamba-1-5-large-v1:0", Status: result.AgreementMissing, Cause: "no agreement", Remediation: "subscribe"}
	suppressed.Suppress(&result.Suppressed{Reason: "evaluation", Owner: "ml@example.com", Until: "2030-06-30"})
	rep := &result.Report{Results: []result.Result{
		{Account: "111111111111", Region: "us-east-1", Model: "amazon.nova-pro-v1:0", Status: result.Enabled},
		{Account: "111111111111", Region: "us-east-1", Model: "anthropic.claude-3-5-sonnet-20240620-v1:0", Status: result.NotAuthorized, Cause: strings.Repeat("c", 2000), Remediation: strings.Repeat("r", 900)},
		{Account: "111111111111", Region: "us-east-1", Model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0", Principal: "ChatApp", Status: result.SCPDenied, Cause: "SCP", Remediation: "exempt"},
		{Account: "111111111111", Region: "us-east-1", Model: "m", Principal: "ChatApp", Status: result.NotAuthorized, Cause: "copy", Remediation: "form"},
		{Account: "111111111111", Region: "us-east-1", Model: "amazon.nova-pro-v1:0", Principal: "Batch", Status: result.IAMUndetermined, Cause: "MissingContextValues aws:SourceVpc", Remediation: "add context"},
		{Account: "444444444444", Region: "eu-west-1", Model: "amazon.nova-pro-v1:0", Status: result.AuditError, Cause: "assume-role: AccessDenied", Remediation: "deploy the role"},
		suppressed,
	}}
	findings := src.Findings(rep, func(result.Result) (time.Time, bool) { return since, true }, now)
	if len(findings) != 5 {
		t.Fatalf("findings: got %d; want 5 (not the usable check, not a principal's copy of its account's problem)", len(findings))
	}
	ids := map[string]bool{}
	for _, f := range findings {
		t.Run(aws.ToString(f.Id), func(t *testing.T) {
			checkRequired(t, f)
			if aws.ToString(f.AwsAccountId) != "999999999999" || aws.ToString(f.ProductArn) != "arn:aws:securityhub:us-east-1:999999999999:product/999999999999/default" {
				t.Errorf("account %s, product %s: want the importing account's default product", aws.ToString(f.AwsAccountId), aws.ToString(f.ProductArn))
			}
			if aws.ToString(f.CreatedAt) != "2026-11-24T09:00:00.000Z" || aws.ToString(f.UpdatedAt) != "2026-11-27T09:00:00.000Z" {
				t.Errorf("created %s, updated %s", aws.ToString(f.CreatedAt), aws.ToString(f.UpdatedAt))
			}
		})
		ids[aws.ToString(f.Id)] = true
	}
	if len(ids) != 5 || !ids["grantwatch/111111111111/us-east-1/us.anthropic.claude-sonnet-4-5-20250929-v1:0/ChatApp"] {
		t.Errorf("ids: got %v; want one per check and principal", ids)
	}
	byStatus := map[string]types.AwsSecurityFinding{}
	for _, f := range findings {
		byStatus[f.ProductFields["grantwatch/Status"]] = f
	}
	if f := byStatus["NOT_AUTHORIZED"]; f.Severity.Label != types.SeverityLabelCritical || f.Compliance.Status != types.ComplianceStatusFailed ||
		aws.ToString(f.Resources[0].Id) != "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-sonnet-20240620-v1:0" ||
		aws.ToString(f.Resources[1].Id) != "AWS::::Account:111111111111" || f.Workflow.Status != types.WorkflowStatusNew || f.RecordState != types.RecordStateActive {
		t.Errorf("NOT_AUTHORIZED finding: %+v", f)
	}
	if f := byStatus["AUDIT_ERROR"]; f.Compliance.Status != types.ComplianceStatusNotAvailable || f.Severity.Label != types.SeverityLabelMedium {
		t.Errorf("AUDIT_ERROR finding: compliance %s, severity %s; want NOT_AVAILABLE, MEDIUM", f.Compliance.Status, f.Severity.Label)
	}
	if f := byStatus["AGREEMENT_MISSING"]; f.Workflow.Status != types.WorkflowStatusSuppressed || f.ProductFields["grantwatch/SuppressedUntil"] != "2030-06-30" || f.ProductFields["grantwatch/SuppressedReason"] != "evaluation" {
		t.Errorf("suppressed finding: workflow %s, fields %v", f.Workflow.Status, f.ProductFields)
	}
	if f := byStatus["SCP_DENIED"]; f.ProductFields["grantwatch/Principal"] != "ChatApp" || !strings.Contains(aws.ToString(f.Title), "ChatApp may not call") {
		t.Errorf("principal finding: %+v", f)
	}
	if f := byStatus["IAM_UNDETERMINED"]; f.Compliance.Status != types.ComplianceStatusWarning || f.Severity.Label != types.SeverityLabelMedium ||
		!strings.Contains(aws.ToString(f.Title), "could not decide whether Batch may call") {
		t.Errorf("IAM_UNDETERMINED finding: compliance %s, severity %s, title %q; want WARNING, MEDIUM (warning by default), a title that does not say denied",
			f.Compliance.Status, f.Severity.Label, aws.ToString(f.Title))
	}
	if f := src.Finding(rep.Results[1], since, now); f.Workflow != nil || f.Severity == nil || f.FindingProviderFields.Severity.Label != f.Severity.Label {
		t.Errorf("a created finding: workflow %v, severity %v, provider severity %v; want no Workflow (Security Hub starts it NEW), both severities", f.Workflow, f.Severity, f.FindingProviderFields.Severity)
	}
	update := Update(src.Finding(rep.Results[1], since, now))
	if update.Workflow != nil || update.Severity != nil || update.Types != nil || update.FindingProviderFields.Severity.Label != types.SeverityLabelCritical ||
		len(update.FindingProviderFields.Types) != 1 {
		t.Errorf("an update: workflow %v, severity %v, types %v; want neither, and the provider's severity and types in FindingProviderFields", update.Workflow, update.Severity, update.Types)
	}
	usable := rep.Results[1]
	usable.Status = result.Enabled
	archived := src.Archived(usable, since, now, "usable again")
	if archived.RecordState != types.RecordStateArchived || archived.Workflow != nil || archived.Severity != nil || archived.Compliance.Status != types.ComplianceStatusPassed ||
		aws.ToString(archived.Description) != "usable again" || aws.ToString(archived.CreatedAt) != "2026-11-24T09:00:00.000Z" {
		t.Errorf("archived: record %s, workflow %v, severity %v, compliance %s, description %q, created %s", archived.RecordState, archived.Workflow, archived.Severity,
			archived.Compliance.Status, aws.ToString(archived.Description), aws.ToString(archived.CreatedAt))
	}
	if dropped := src.Archived(rep.Results[1], since, now, "dropped"); dropped.Compliance.Status != types.ComplianceStatusNotAvailable {
		t.Errorf("archived while not usable (ignored, dropped): compliance %s; want NOT_AVAILABLE", dropped.Compliance.Status)
	}

	out, err := JSON(findings)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "null") || !strings.HasPrefix(string(out), "{\n  \"Findings\": [") {
		t.Errorf("ASFF JSON: want {\"Findings\": [...]} without nulls:\n%.400s", out)
	}
	var back struct{ Findings []types.AwsSecurityFinding }
	if err := json.Unmarshal(out, &back); err != nil || len(back.Findings) != 5 || aws.ToString(back.Findings[0].SchemaVersion) != SchemaVersion {
		t.Errorf("ASFF JSON does not read back into the SDK's type: %v", err)
	}
}

// securityHub is a local endpoint speaking Security Hub's REST-JSON to the
// real SDK client: it refuses the ids in fail (once each, or always when
// they end in "always"), and records what it was sent.
type securityHub struct {
	imports, updates [][]string
	seen             map[string]bool
}

func (h *securityHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/findings/import":
		var in struct {
			Findings []struct{ Id, RecordState string }
		}
		_ = json.NewDecoder(r.Body).Decode(&in)
		var ids []string
		var failed []map[string]string
		for _, f := range in.Findings {
			ids = append(ids, f.Id)
			if strings.HasSuffix(f.Id, "/fail-always") || (strings.HasSuffix(f.Id, "/fail-once") && !h.seen[f.Id]) {
				failed = append(failed, map[string]string{"Id": f.Id, "ErrorCode": "InvalidInput", "ErrorMessage": "simulated refusal"})
			}
			h.seen[f.Id] = true
		}
		h.imports = append(h.imports, ids)
		_ = json.NewEncoder(w).Encode(map[string]any{"FailedCount": len(failed), "SuccessCount": len(ids) - len(failed), "FailedFindings": failed})
	case r.Method == http.MethodPatch && r.URL.Path == "/findings/batchupdate":
		var in struct{ FindingIdentifiers []struct{ Id string } }
		_ = json.NewDecoder(r.Body).Decode(&in)
		var ids []string
		for _, f := range in.FindingIdentifiers {
			ids = append(ids, f.Id)
		}
		h.updates = append(h.updates, ids)
		_ = json.NewEncoder(w).Encode(map[string]any{"ProcessedFindings": in.FindingIdentifiers, "UnprocessedFindings": []any{}})
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func TestImportAndResolveThroughTheSDK(t *testing.T) {
	hub := &securityHub{seen: map[string]bool{}}
	srv := httptest.NewServer(hub)
	defer srv.Close()
	client := securityhub.New(securityhub.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIA", "secret", ""),
	})
	var findings []types.AwsSecurityFinding
	for i := range 249 {
		model := fmt.Sprintf("vendor.model-%03d", i)
		switch i {
		case 7:
			model = "vendor.model/fail-once"
		case 150:
			model = "vendor.model/fail-always"
		}
		findings = append(findings, src.Finding(result.Result{Account: "111111111111", Region: "us-east-1", Model: model, Status: result.NotEntitled, Cause: "c", Remediation: "r"}, since, now))
	}
	imported, err := Import(context.Background(), client, findings)
	if err == nil || !strings.Contains(err.Error(), "1 findings failed twice") || !strings.Contains(err.Error(), "fail-always (InvalidInput: simulated refusal)") {
		t.Errorf("error: got %v; want the one finding refused twice named", err)
	}
	if len(imported) != 248 || imported["grantwatch/111111111111/us-east-1/vendor.model/fail-always"] || !imported["grantwatch/111111111111/us-east-1/vendor.model/fail-once"] {
		t.Errorf("imported: got %d; want 248, the one refused once among them, not the one refused twice", len(imported))
	}
	var sizes []int
	for _, b := range hub.imports {
		sizes = append(sizes, len(b))
	}
	if fmt.Sprint(sizes) != "[100 1 100 1 49]" {
		t.Errorf("batches: got %v; want 100, its retry of 1, 100, its retry of 1, 49", sizes)
	}
	ids := make([]string, 150)
	for i := range ids {
		ids[i] = fmt.Sprintf("grantwatch/111111111111/us-east-1/vendor.model-%03d", i)
	}
	done, err := SetWorkflow(context.Background(), client, src.ProductARN(), ids, types.WorkflowStatusResolved, "usable again")
	if err != nil || len(done) != 150 {
		t.Fatalf("set workflow: %d processed, %v; want 150", len(done), err)
	}
	if len(hub.updates) != 2 || len(hub.updates[0]) != 100 || len(hub.updates[1]) != 50 {
		t.Errorf("workflow updates: got %d batches; want 100 and 50", len(hub.updates))
	}
}
