package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/grantwatch/grantwatch/pkg/result"
	"github.com/grantwatch/grantwatch/pkg/securityhub"
)

// smallOrg audits two accounts in two regions: some checks usable, some not.
const smallOrg = `accounts: {static: ["111111111111", "333333333333"]}
regions: [us-east-1, us-west-2]
models: {required: [amazon.nova-pro-v1:0, meta.llama3-1-70b-instruct-v1:0]}` + roleAndLimits

func linesWiderThan(text string, width int) []string {
	var wide []string
	for _, l := range strings.Split(text, "\n") {
		if utf8.RuneCountInString(l) > width {
			wide = append(wide, l)
		}
	}
	return wide
}

// `grantwatch run` prints the summary and the problems only; --all prints
// every check as well; no line is wider than 120 columns (stdout is not a
// terminal here).
func TestRunPrintsTheProblemsOnlyUnlessAll(t *testing.T) {
	useSimulator(t)
	path := writeConfig(t, smallOrg)
	outputs := map[string]string{}
	for name, args := range map[string][]string{
		"table": {"run", "--config", path},
		"all":   {"run", "--config", path, "--all"},
		"json":  {"run", "--config", path, "--output", "json"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code == exitError {
			t.Fatalf("%v: exit %d: %s", args, code, &stderr)
		}
		outputs[name] = stdout.String()
	}
	var rep result.Report
	if err := json.Unmarshal([]byte(outputs["json"]), &rep); err != nil {
		t.Fatal(err)
	}
	var usable, problems int
	for _, r := range rep.Results {
		if r.Status.Usable() {
			usable++
		} else {
			problems++
		}
	}
	if usable == 0 || problems == 0 {
		t.Fatalf("the small organization has %d usable checks and %d problems; want some of each", usable, problems)
	}

	table := outputs["table"]
	for _, want := range []string{"account checks (8): ", "accounts with problems: ", "regions with problems: ", fmt.Sprintf("PROBLEMS: %d checks in ", problems), "(usable checks are not shown; --all prints every check)"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if strings.Contains(table, "ACCOUNT") || strings.Contains(table, "ENABLED  ") {
		t.Errorf("table without --all lists usable checks:\n%s", table)
	}
	for _, r := range rep.Results {
		if !r.Status.Usable() && !strings.Contains(table, string(r.Status)+"  "+r.Model) {
			t.Errorf("table lacks the group of %s %s:\n%s", r.Status, r.Model, table)
		}
	}

	all := outputs["all"]
	for _, r := range rep.Results {
		row := strings.Join([]string{r.Account, r.Region, r.Model, string(r.Status)}, " ")
		found := false
		for _, l := range strings.Split(all, "\n") {
			if strings.HasPrefix(strings.Join(strings.Fields(l), " "), row) {
				found = true
			}
		}
		if !found {
			t.Errorf("--all lacks the row %q:\n%s", row, all)
		}
	}
	if !strings.Contains(all, "PROBLEMS: ") {
		t.Errorf("--all lacks the problems after the table:\n%s", all)
	}
	for name, out := range map[string]string{"table": table, "--all": all} {
		if wide := linesWiderThan(out, defaultWidth); len(wide) > 0 {
			t.Errorf("%s: lines wider than %d:\n%s", name, defaultWidth, strings.Join(wide, "\n"))
		}
	}
}

// longReport has texts far wider than any terminal: a 600-character
// remediation on six principal results that differ only in the account
// and the principal, as the HTML report used to repeat it.
func longReport() *result.Report {
	filler := strings.Repeat("Allow bedrock:InvokeModel on the inference profile and on the model in every region it routes to. ", 6)
	var results []result.Result
	for _, account := range []string{"111111111111", "222222222222"} {
		results = append(results, result.Result{Account: account, Region: "us-east-1", Model: "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
			Status: result.Enabled, Cause: "inference profile exists " + strings.Repeat("and routes ", 20)})
		for _, p := range []string{"BatchJobs", "ChatApp", "VpcApp"} {
			results = append(results, result.Result{Account: account, Region: "us-east-1", Model: "global.anthropic.claude-sonnet-4-5-20250929-v1:0", Principal: p,
				Status: result.SCPDenied,
				Cause:  fmt.Sprintf("SimulatePrincipalPolicy for arn:aws:iam::%s:role/%s: OrganizationsDecisionDetail.AllowedByOrganizations=false", account, p),
				Remediation: fmt.Sprintf("A service control policy denies the global hop for %s. Exempt arn:aws:iam::%s:role/%s with an aws:PrincipalArn condition. %s",
					p, account, p, filler)})
		}
	}
	results = append(results, result.Result{Account: "111111111111", Region: "us-east-1", Model: "amazon.nova-pro-v1:0", Principal: "ChatApp",
		Status: result.SCPDenied, Cause: "denied", Remediation: "A different remediation for ChatAppV2 in 111111111111."})
	s := result.Summary{RunID: "r-long", Accounts: 2, Regions: 1, Planned: 3, DurationMS: 900}
	s.Summarize(results)
	return &result.Report{Summary: s, Results: results}
}

// Checks whose remediation differs only in the account and principal are
// one group, its remediation printed once; another model is its own group.
func TestGroupingPrintsEachRemediationOnce(t *testing.T) {
	rep := longReport()
	var table, page bytes.Buffer
	if err := writeReportView(&table, "table", rep, securityhub.Source{}, tableView{width: 100}); err != nil {
		t.Fatal(err)
	}
	if err := writeReport(&page, "html", rep, securityhub.Source{}); err != nil {
		t.Fatal(err)
	}
	out := table.String()
	for _, want := range []string{
		"SCP_DENIED  global.anthropic.claude-sonnet-4-5-20250929-v1:0  (6 principal results)\n",
		"  111111111111 in us-east-1: BatchJobs, ChatApp, VpcApp\n  222222222222 in us-east-1: BatchJobs, ChatApp, VpcApp\n",
		"(<account>, <principal>: each check's own)",
		"SCP_DENIED  amazon.nova-pro-v1:0  (1 principal result)",
		"A different remediation for ChatAppV2 in 111111111111.", // one check: its own names, ChatAppV2 left whole
		"PROBLEMS: 7 checks in 2 groups",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	once := "A service control policy denies the global hop for <principal>. Exempt arn:aws:iam::<account>:role/<principal>"
	// The table wraps its lines; read it with the wrapping undone.
	if n := strings.Count(strings.Join(strings.Fields(out), " "), once); n != 1 {
		t.Errorf("table: the remediation appears %d times; want once:\n%s", n, out)
	}
	if n := strings.Count(page.String(), html.EscapeString(once)); n != 1 {
		t.Errorf("html: the remediation appears %d times; want once", n)
	}
	if n := strings.Count(page.String(), "Allow bedrock:InvokeModel on the inference profile"); n != 6 {
		t.Errorf("html: the remediation's filler appears %d times; want the 6 sentences of one copy", n)
	}
}

// No line of the table is wider than the width it is given, with every
// check or the problems only.
func TestNoLineWiderThanTheWidth(t *testing.T) {
	for _, width := range []int{60, 80, 120, 200} {
		for _, all := range []bool{false, true} {
			var out bytes.Buffer
			if err := writeReportView(&out, "table", longReport(), securityhub.Source{}, tableView{all: all, width: width}); err != nil {
				t.Fatal(err)
			}
			if wide := linesWiderThan(out.String(), width); len(wide) > 0 {
				t.Errorf("width %d, all %v: lines wider:\n%s", width, all, strings.Join(wide, "\n"))
			}
		}
	}
}

// A grouped text filled back with a check's own names is that check's
// text exactly, and a name is replaced only where it stands whole.
func TestGeneralizeIsExact(t *testing.T) {
	tests := []struct {
		name, text string
		r          result.Result
		want       string
	}{
		{"account, region and role", "arn:aws:iam::111111111111:role/ChatApp in us-east-1", result.Result{Account: "111111111111", Region: "us-east-1", Principal: "ChatApp"}, "arn:aws:iam::<account>:role/<principal> in <region>"},
		{"a longer name is left whole", "ChatAppV2 and ChatApp, us-east-12", result.Result{Account: "111111111111", Region: "us-east-1", Principal: "ChatApp"}, "ChatAppV2 and <principal>, us-east-12"},
		{"a text with a placeholder is left as it is", "call <region> later in us-east-1", result.Result{Account: "111111111111", Region: "us-east-1"}, "call <region> later in us-east-1"},
		{"a region after = and before )", "(aws:RequestedRegion=us-east-1) on 111111111111:x", result.Result{Account: "111111111111", Region: "us-east-1"}, "(aws:RequestedRegion=<region>) on <account>:x"},
		{"a principal named like a region", "role us-east-1 in us-east-1", result.Result{Account: "111111111111", Region: "us-east-1", Principal: "us-east-1"}, "role <region> in <region>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := generalize(tt.text, tt.r)
			if got.text != tt.want {
				t.Errorf("generalize: got %q; want %q", got.text, tt.want)
			}
			back := problemGroup{checks: []result.Result{tt.r}}.specialize(got)
			if back != tt.text {
				t.Errorf("filled back: got %q; want the original %q", back, tt.text)
			}
		})
	}
}

// The demo's story and the alert texts it shows fit 120 columns (stdout is
// not a terminal here), as its tables do.
func TestDemoFitsTheWidth(t *testing.T) {
	var stdout bytes.Buffer
	if code, err := demoCmd(context.Background(), nil, &stdout, io.Discard); err != nil || code == exitError {
		t.Fatalf("demo: exit %d, %v", code, err)
	}
	if wide := linesWiderThan(stdout.String(), defaultWidth); len(wide) > 0 {
		t.Errorf("lines wider than %d:\n%s", defaultWidth, strings.Join(wide, "\n"))
	}
}

// wrapWriter wraps each line under its own indent and keeps a line that
// fits, and the last one without a newline, as it is.
func TestWrapWriter(t *testing.T) {
	var b bytes.Buffer
	ww := &wrapWriter{w: &b, width: 20}
	fmt.Fprint(ww, "short\n   an indented line that is far too wide\nlast")
	if err := ww.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "short\n   an indented line\n     that is far too\n     wide\nlast\n"
	if got := b.String(); got != want {
		t.Errorf("got %q; want %q", got, want)
	}
}
