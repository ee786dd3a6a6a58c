package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/result"
	"github.com/grantwatch/grantwatch/pkg/securityhub"
)

func sampleReport() *result.Report {
	results := []result.Result{
		{Account: "111111111111", Region: "us-east-1", Model: "us.amazon.nova-pro-v1:0", Status: result.Enabled, Cause: "all positive", Remediation: "None needed."},
		{Account: "111111111111", Region: "us-east-1", Model: "cohere.command-r-plus-v1:0", Status: result.AgreementMissing, Cause: "agreement NOT_AVAILABLE", Remediation: "Subscribe | once."},
		{Account: "222222222222", Region: "us-east-1", Model: "cohere.command-r-plus-v1:0", Status: result.AgreementMissing, Cause: "agreement NOT_AVAILABLE", Remediation: "Subscribe | once."},
	}
	results[0].SetDestinations([]string{"us-east-1", "us-west-2"})
	results[2].Suppress(&result.Suppressed{Reason: "accepted", Owner: "ml@example.com", Until: "2027-03-31"})
	s := result.Summary{RunID: "r1", Accounts: 2, Regions: 1, Planned: 3, DurationMS: 1200, StartedAt: time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC)}
	s.Summarize(results)
	return &result.Report{Summary: s, Results: results}
}

func TestWriteFormats(t *testing.T) {
	tests := []struct {
		format string
		check  func(string) string
	}{
		{"table", func(out string) string {
			if !strings.Contains(out, "AGREEMENT_MISSING  cohere.command-r-plus-v1:0  (1 account check)\n  111111111111 in us-east-1\n  cause: agreement NOT_AVAILABLE\n  -> Subscribe | once.\n") {
				return "problem not grouped, or the suppressed check in it"
			}
			if !strings.Contains(out, "SUPPRESSED (1, not alerted):\n  222222222222/us-east-1/cohere.command-r-plus-v1:0 AGREEMENT_MISSING: accepted (ml@example.com, until 2027-03-31)") ||
				!strings.Contains(out, "account checks (3): ENABLED=1 AGREEMENT_MISSING=2; 1 suppressed") {
				return "suppression not shown"
			}
			if !strings.Contains(out, "run r1: 2 accounts, 1 regions, 3 of 3 checks in 1.2s") {
				return "summary missing"
			}
			if strings.Contains(out, "nova-pro") {
				return "usable check listed without --all"
			}
			return ""
		}},
		{"json", func(out string) string {
			var got struct {
				Run     result.Summary  `json:"run"`
				Results []result.Result `json:"results"`
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				return err.Error()
			}
			if got.Run.RunID != "r1" || len(got.Results) != 3 || got.Results[1].Status != result.AgreementMissing || got.Results[1].Remediation != "Subscribe | once." ||
				strings.Join(got.Results[0].Destinations(), ",") != "us-east-1,us-west-2" {
				return "fields lost"
			}
			return ""
		}},
		{"csv", func(out string) string {
			rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
			if err != nil {
				return err.Error()
			}
			if len(rows) != 4 || strings.Join(rows[0], ",") != "account,region,model,principal,status,cause,remediation,destination_regions,suppressed" || rows[3][8] != "until 2027-03-31, ml@example.com: accepted" || rows[2][4] != "AGREEMENT_MISSING" || rows[1][7] != "us-east-1 us-west-2" || rows[2][7] != "" {
				return "rows wrong"
			}
			return ""
		}},
		{"markdown", func(out string) string {
			if !strings.Contains(out, "| 111111111111 | us-east-1 | `cohere.command-r-plus-v1:0` |  | AGREEMENT_MISSING | agreement NOT_AVAILABLE | Subscribe \\| once. |") {
				return "row or escaping wrong"
			}
			if strings.Contains(out, "amazon.nova-pro") {
				return "usable model listed"
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			var buf bytes.Buffer
			if err := writeReport(&buf, tt.format, sampleReport(), securityhub.Source{}); err != nil {
				t.Fatal(err)
			}
			if problem := tt.check(buf.String()); problem != "" {
				t.Errorf("%s:\ngot\n%s", problem, buf.String())
			}
		})
	}
	if err := writeReport(&bytes.Buffer{}, "yaml", sampleReport(), securityhub.Source{}); err == nil || !strings.Contains(err.Error(), `output format "yaml"`) {
		t.Errorf("unknown format: got %v; want an error naming it", err)
	}
}

func Example_summaryLine() {
	rep := sampleReport()
	rep.Summary.Incomplete = true
	os.Stdout.WriteString(summaryLine(rep.Summary) + "\n")
	// Output: run r1: 2 accounts, 1 regions, 3 of 3 checks in 1.2s; ENABLED=1 AGREEMENT_MISSING=2; 1 suppressed; INCOMPLETE (deadline reached)
}

func TestTableShowsPrincipalsOnlyWhenThereAreSome(t *testing.T) {
	rep := sampleReport()
	all := tableView{all: true, width: defaultWidth}
	var without bytes.Buffer
	if err := writeReportView(&without, "table", rep, securityhub.Source{}, all); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(without.String(), "PRINCIPAL") {
		t.Errorf("table without principals has a PRINCIPAL column:\n%s", &without)
	}
	rep.Results = append(rep.Results,
		result.Result{Account: "111111111111", Region: "us-east-1", Model: "cohere.command-r-plus-v1:0", Principal: "ChatApp", Status: result.MarketplaceDenied, Cause: "may not subscribe", Remediation: "Allow aws-marketplace:Subscribe."},
		result.Result{Account: "222222222222", Region: "us-east-1", Model: "cohere.command-r-plus-v1:0", Principal: "ChatApp", Status: result.AgreementMissing, Cause: "permissions allow", Remediation: "Subscribe | once."})
	var with bytes.Buffer
	if err := writeReportView(&with, "table", rep, securityhub.Source{}, all); err != nil {
		t.Fatal(err)
	}
	out := with.String()
	for _, want := range []string{"PRINCIPAL", "(account)", "MARKETPLACE_DENIED  cohere.command-r-plus-v1:0  (1 principal result)\n  111111111111 in us-east-1: ChatApp\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "222222222222 in us-east-1: ChatApp") {
		t.Errorf("a principal's copy of its account's problem is listed among the problems:\n%s", out)
	}
}

// An undetermined principal is counted, listed and exported like the other
// principal statuses, in every format, with the global hop named "global"
// in its destinations.
func TestUndeterminedInEveryFormat(t *testing.T) {
	rep := sampleReport()
	u := result.Result{Account: "111111111111", Region: "us-east-1", Model: "global.anthropic.claude-sonnet-4-5-20250929-v1:0", Principal: "VpcApp",
		Status: result.IAMUndetermined, Cause: "implicitDeny without the context keys aws:SourceVpce", Remediation: "context: [{name: aws:SourceVpce}]"}
	u.SetDestinations([]string{"us-east-1", "global"})
	rep.Results = append(rep.Results, u)
	rep.Summary.Summarize(rep.Results)
	// A principal's result is counted with the principal results (issue 18
	// item 6), never with the account checks.
	if rep.Summary.PrincipalCounts[result.IAMUndetermined] != 1 || rep.Summary.PrincipalNotUsable != 1 || rep.Summary.Counts[result.IAMUndetermined] != 0 {
		t.Errorf("summary: got %d principal IAM_UNDETERMINED (%d not usable), %d as account checks; want 1 (1), 0",
			rep.Summary.PrincipalCounts[result.IAMUndetermined], rep.Summary.PrincipalNotUsable, rep.Summary.Counts[result.IAMUndetermined])
	}
	if sev := result.Severities(nil).For(u); sev != result.Warning {
		t.Errorf("severity: got %s; want warning by default", sev)
	}
	for _, format := range []string{"table", "json", "csv", "markdown", "html", "asff"} {
		var out bytes.Buffer
		if err := writeReport(&out, format, rep, securityhub.Source{Account: "999999999999", Region: "us-east-1"}); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if !strings.Contains(out.String(), "IAM_UNDETERMINED") {
			t.Errorf("%s: no IAM_UNDETERMINED in:\n%.600s", format, &out)
		}
		if format == "json" && !strings.Contains(out.String(), `"destination_regions": [`) {
			t.Errorf("json: no destination regions")
		}
	}
}

// Markdown output renders causes as text: HTML from an AWS answer is
// escaped, and a cause cannot add cells or rows.
func TestMarkdownEscapesHTML(t *testing.T) {
	rep := sampleReport()
	rep.Results[1].Cause = "<script>alert(1)</script> [click](https://evil.example.com) | extra cell\n| forged | row |"
	var out bytes.Buffer
	if err := writeReport(&out, "markdown", rep, securityhub.Source{}); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	if strings.Contains(text, "<script>") || strings.Contains(text, "[click](") || strings.Contains(text, "\n| forged") {
		t.Errorf("markdown keeps markup from a cause:\n%s", text)
	}
	if !strings.Contains(text, `&lt;script&gt;alert(1)&lt;/script&gt; \[click\](https://evil.example.com) \| extra cell \| forged \| row \|`) {
		t.Errorf("markdown: want the cause escaped in its cell:\n%s", text)
	}
}
