// Package shsim is a recording Security Hub stand-in: it speaks the two
// operations grantwatch calls (BatchImportFindings and BatchUpdateFindings,
// REST-JSON) to the real SDK client, keeps each finding as Security Hub's
// API reference says it evolves, and records every call, so that a test can
// assert which API carried each transition of a finding.
//
// What it holds to (docs/aws-behaviour.md, section SH):
//   - an import of a new finding creates it; Workflow starts NEW unless the
//     import sets it (SH-import-no-workflow);
//   - an import of an existing finding cannot change Workflow (nor Note,
//     UserDefinedFields, VerificationState): they are kept
//     (SH-import-no-workflow);
//   - the top-level Severity follows FindingProviderFields.Severity until a
//     customer sets it with BatchUpdateFindings (SH-provider-fields);
//   - Workflow NOTIFIED or RESOLVED goes back to NEW when RecordState goes
//     from ARCHIVED to ACTIVE, or Compliance.Status from PASSED to FAILED,
//     WARNING or NOT_AVAILABLE (SH-workflow-reset);
//   - with Security Hub disabled (Disable), every finding of an import is
//     refused with InvalidAccess (SH-disabled-invalid-access);
//   - an import whose UpdatedAt is before the existing finding's is
//     ignored (SH-updated-at-order);
//   - BatchUpdateFindings sets Workflow; an unknown finding is unprocessed
//     (its error code is inferred: the reference names none).
package shsim

import (
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"
)

// Call is one request the stand-in answered.
type Call struct {
	// Op is BatchImportFindings or BatchUpdateFindings.
	Op string
	// Findings are what an import sent.
	Findings []types.AwsSecurityFinding
	// IDs are the finding ids of the call.
	IDs []string
	// Workflow is the status a BatchUpdateFindings call set.
	Workflow types.WorkflowStatus
	// Note is the note text a BatchUpdateFindings call set.
	Note string
}

// Finding is a finding as Security Hub holds it.
type Finding struct {
	types.AwsSecurityFinding
	// Created says which import created it (its index in Calls).
	Created int
	// customerSeverity is set once BatchUpdateFindings set Severity.
	customerSeverity bool
}

// Hub is the stand-in; its zero value is not usable, use New.
type Hub struct {
	mu       sync.Mutex
	calls    []Call
	findings map[string]*Finding
	disabled bool
}

// New returns an empty Security Hub.
func New() *Hub { return &Hub{findings: map[string]*Finding{}} }

// Disable turns Security Hub off in the account: every import is refused,
// finding by finding, with InvalidAccess (SH-disabled-invalid-access; the
// message is inferred).
func (h *Hub) Disable() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.disabled = true
}

// Calls returns the calls answered so far.
func (h *Hub) Calls() []Call {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.calls)
}

// Finding returns the finding with id, as Security Hub holds it.
func (h *Hub) Finding(id string) (Finding, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f, ok := h.findings[id]
	if !ok {
		return Finding{}, false
	}
	return *f, true
}

func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/findings/import":
		var in struct{ Findings []types.AwsSecurityFinding }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"__type": "InvalidInputException", "message": err.Error()})
			return
		}
		h.serveImport(w, in.Findings)
	case r.Method == http.MethodPatch && r.URL.Path == "/findings/batchupdate":
		var in struct {
			FindingIdentifiers []types.AwsSecurityFindingIdentifier
			Workflow           *types.WorkflowUpdate
			Severity           *types.SeverityUpdate
			Note               *types.NoteUpdate
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"__type": "InvalidInputException", "message": err.Error()})
			return
		}
		call := Call{Op: "BatchUpdateFindings"}
		if in.Workflow != nil {
			call.Workflow = in.Workflow.Status
		}
		if in.Note != nil {
			// Text and UpdatedBy are required, at most 512 characters each
			// (ledger: SH-update-note).
			text, by := aws.ToString(in.Note.Text), aws.ToString(in.Note.UpdatedBy)
			if text == "" || by == "" || len(text) > 512 || len(by) > 512 {
				w.WriteHeader(http.StatusBadRequest)
				_ = json.NewEncoder(w).Encode(map[string]string{"__type": "InvalidInputException", "message": "Note.Text and Note.UpdatedBy must be 1 to 512 characters"})
				return
			}
			call.Note = text
		}
		processed := []types.AwsSecurityFindingIdentifier{}
		unprocessed := []map[string]any{}
		for _, k := range in.FindingIdentifiers {
			id := aws.ToString(k.Id)
			call.IDs = append(call.IDs, id)
			f, ok := h.findings[id]
			if !ok {
				// The code and message the API reference lists for an
				// unknown finding (ledger: SH-update-workflow).
				unprocessed = append(unprocessed, map[string]any{"FindingIdentifier": k, "ErrorCode": "FindingNotFound", "ErrorMessage": "Finding Not Found"})
				continue
			}
			if in.Workflow != nil {
				f.Workflow = &types.Workflow{Status: in.Workflow.Status}
			}
			if in.Severity != nil {
				f.Severity = &types.Severity{Label: in.Severity.Label}
				f.customerSeverity = true
			}
			if in.Note != nil {
				f.Note = &types.Note{Text: in.Note.Text, UpdatedBy: in.Note.UpdatedBy, UpdatedAt: aws.String(time.Now().UTC().Format(time.RFC3339Nano))}
			}
			processed = append(processed, k)
		}
		h.calls = append(h.calls, call)
		_ = json.NewEncoder(w).Encode(map[string]any{"ProcessedFindings": processed, "UnprocessedFindings": unprocessed})
	default:
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": "ResourceNotFoundException", "message": r.Method + " " + r.URL.Path})
	}
}

func (h *Hub) serveImport(w http.ResponseWriter, findings []types.AwsSecurityFinding) {
	call := Call{Op: "BatchImportFindings", Findings: findings}
	failed := []map[string]string{}
	for _, in := range findings {
		id := aws.ToString(in.Id)
		call.IDs = append(call.IDs, id)
		if h.disabled {
			// Every finding refused with InvalidAccess; the message is
			// inferred (ledger: SH-disabled-invalid-access).
			failed = append(failed, map[string]string{"Id": id, "ErrorCode": "InvalidAccess", "ErrorMessage": "Account is not subscribed to AWS Security Hub"})
			continue
		}
		prev, exists := h.findings[id]
		if !exists {
			if in.Severity == nil && (in.FindingProviderFields == nil || in.FindingProviderFields.Severity == nil) {
				// A creation needs a severity, top-level or the provider's
				// (ledger: SH-provider-fields); the code and message of the
				// refusal are inferred: the API reference lists none.
				failed = append(failed, map[string]string{"Id": id, "ErrorCode": "InvalidInput", "ErrorMessage": "Finding does not adhere to Amazon Finding Format: missing Severity"})
				continue
			}
			f := &Finding{AwsSecurityFinding: in, Created: len(h.calls)}
			if f.Workflow == nil {
				f.Workflow = &types.Workflow{Status: types.WorkflowStatusNew}
			}
			if f.RecordState == "" {
				f.RecordState = types.RecordStateActive
			}
			if f.Severity == nil {
				f.Severity = &types.Severity{Label: in.FindingProviderFields.Severity.Label}
			}
			if f.FindingProviderFields == nil {
				f.FindingProviderFields = &types.FindingProviderFields{Severity: &types.FindingProviderSeverity{Label: f.Severity.Label}, Types: f.Types}
			}
			h.findings[id] = f
			continue
		}
		if older(in.UpdatedAt, prev.UpdatedAt) {
			continue // ignored, not refused (SH-updated-at-order)
		}
		next := *prev
		next.AwsSecurityFinding = in
		// What an import cannot change stays.
		next.Workflow, next.Note, next.UserDefinedFields, next.VerificationState = prev.Workflow, prev.Note, prev.UserDefinedFields, prev.VerificationState
		if next.RecordState == "" {
			next.RecordState = prev.RecordState
		}
		next.Severity, next.Types = prev.Severity, prev.Types
		if fp := in.FindingProviderFields; fp != nil {
			if fp.Severity != nil && !prev.customerSeverity {
				next.Severity = &types.Severity{Label: fp.Severity.Label}
			}
		} else {
			next.FindingProviderFields = prev.FindingProviderFields
		}
		status := func(f *types.AwsSecurityFinding) types.WorkflowStatus {
			if f.Workflow == nil {
				return ""
			}
			return f.Workflow.Status
		}
		reopened := prev.RecordState == types.RecordStateArchived && next.RecordState == types.RecordStateActive
		failing := prev.Compliance != nil && prev.Compliance.Status == types.ComplianceStatusPassed && next.Compliance != nil &&
			next.Compliance.Status != types.ComplianceStatusPassed
		if s := status(&prev.AwsSecurityFinding); (s == types.WorkflowStatusResolved || s == types.WorkflowStatusNotified) && (reopened || failing) {
			next.Workflow = &types.Workflow{Status: types.WorkflowStatusNew}
		}
		h.findings[id] = &next
	}
	h.calls = append(h.calls, call)
	_ = json.NewEncoder(w).Encode(map[string]any{"FailedCount": len(failed), "SuccessCount": len(findings) - len(failed), "FailedFindings": failed})
}

// older reports whether timestamp a is before b; one that does not parse
// is not.
func older(a, b *string) bool {
	ta, errA := time.Parse(time.RFC3339Nano, aws.ToString(a))
	tb, errB := time.Parse(time.RFC3339Nano, aws.ToString(b))
	return errA == nil && errB == nil && ta.Before(tb)
}
