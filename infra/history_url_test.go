package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
)

// The history function answers function-URL requests only, and trusts the
// caller identity in its event (functions/history). So its resource policy
// admits only function-URL invocations with IAM authentication
// (lambda:InvokeFunctionUrl with lambda:FunctionUrlAuthType AWS_IAM, and
// lambda:InvokeFunction with lambda:InvokedViaFunctionUrl, which function
// URLs created since October 2025 also need; ledger: LAM-url-permissions),
// and no role of the stack may invoke it directly. What stays trusted is a
// principal of the audit account whose own IAM policy allows
// lambda:InvokeFunction on it (docs/reliability.md).
func TestHistoryFunctionAdmitsOnlyFunctionURLInvocations(t *testing.T) {
	audit, _ := stacks(t, testSettings(t, nil))
	raw, err := json.Marshal(assertions.Template_FromStack(audit, nil).ToJSON())
	if err != nil {
		t.Fatal(err)
	}
	var tmpl struct {
		Resources map[string]struct {
			Type       string         `json:"Type"`
			Properties map[string]any `json:"Properties"`
		} `json:"Resources"`
	}
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		t.Fatal(err)
	}
	history := ""
	for id, r := range tmpl.Resources {
		if d, _ := r.Properties["Description"].(string); r.Type == "AWS::Lambda::Function" && strings.Contains(d, "history") {
			history = id
		}
	}
	if history == "" {
		t.Fatal("no history function in the template")
	}
	permissions := 0
	for id, r := range tmpl.Resources {
		p := r.Properties
		ref, _ := json.Marshal(p["FunctionName"])
		if r.Type != "AWS::Lambda::Permission" || !strings.Contains(string(ref), `"`+history+`"`) {
			continue
		}
		permissions++
		urlOnly := (p["Action"] == "lambda:InvokeFunctionUrl" && p["FunctionUrlAuthType"] == "AWS_IAM") ||
			(p["Action"] == "lambda:InvokeFunction" && p["InvokedViaFunctionUrl"] == true)
		if !urlOnly {
			t.Errorf("permission %s admits more than function-URL invocations with IAM authentication: %v", id, p)
		}
		if p["PrincipalOrgID"] != "o-a1b2c3d4e5" {
			t.Errorf("permission %s: PrincipalOrgID %v; want the organization's", id, p["PrincipalOrgID"])
		}
	}
	if permissions != 2 {
		t.Errorf("permissions on the history function: got %d; want the URL's two", permissions)
	}
	// No identity policy of the stack invokes it directly.
	for id, r := range tmpl.Resources {
		if r.Type != "AWS::IAM::Policy" && r.Type != "AWS::IAM::ManagedPolicy" && r.Type != "AWS::IAM::Role" {
			continue
		}
		doc, _ := json.Marshal(r.Properties)
		if strings.Contains(string(doc), "lambda:Invoke") && strings.Contains(string(doc), `"`+history+`"`) {
			t.Errorf("%s %s may invoke the history function directly: %s", r.Type, id, doc)
		}
	}
}
