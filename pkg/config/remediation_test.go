package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testForm is the form as the Terraform/Pulumi examples of
// PutUseCaseForModelAccess show it.
const testForm = `{"companyName":"Example Corp","companyWebsite":"https://www.example.com","intendedUsers":"0","industryOption":"Energy","otherIndustryOption":"","useCases":"Internal assistants"}`

func writeForm(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "form.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRemediationAbsentMeansOff(t *testing.T) {
	c, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if c.Remediation != nil {
		t.Errorf("remediation: got %+v; want nil (off) when the section is absent", c.Remediation)
	}
}

func TestRemediationDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal + `
remediation:
  agreements: {models: [anthropic.claude-3-5-sonnet-20240620-v1:0]}
`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	r := c.Remediation
	if r.RoleName != DefaultRemediationRole || r.Concurrency != DefaultRemediationConcurrency || r.Agreements.OfferType != "PUBLIC" || r.Auto {
		t.Errorf("got role %q, concurrency %d, offer type %q, auto %v; want %q, %d, PUBLIC, false", r.RoleName, r.Concurrency, r.Agreements.OfferType, r.Auto, DefaultRemediationRole, DefaultRemediationConcurrency)
	}
}

func TestRemediationConfig(t *testing.T) {
	good := writeForm(t, testForm)
	tests := []struct {
		name    string
		section string
		want    []string // every error must name these
	}{
		{"a valid section", "agreements: {models: [anthropic.claude-3-5-sonnet-20240620-v1:0], accounts: [\"111111111111\"], ous: [ou-ab12-cd34ef56], regions: [us-east-1], offer_type: ALL}\n  use_case_form: {file: " + good + ", accounts: [\"999999999999\"], regions: [us-east-1, me-south-1]}", nil},
		{"a profile id names its model", "agreements: {models: [us.anthropic.claude-3-5-sonnet-20240620-v1:0]}", nil},
		{"nothing allowed", "concurrency: 2", []string{"remediation.agreements: the section allows nothing"}},
		{"scheduled remediation is allowed", "auto: true\n  agreements: {models: [anthropic.claude-3-5-sonnet-20240620-v1:0]}", nil},
		{"empty model list", "agreements: {models: []}", []string{"remediation.agreements.models: empty"}},
		{"an Amazon model needs no agreement", "agreements: {models: [amazon.nova-pro-v1:0]}", []string{"remediation.agreements.models[0]", "needs no agreement", "Amazon"}},
		{"a Meta model needs no agreement", "agreements: {models: [meta.llama3-70b-instruct-v1:0]}", []string{"remediation.agreements.models[0]", "Meta"}},
		{"a Mistral model needs no agreement", "agreements: {models: [mistral.mistral-large-2402-v1:0]}", []string{"Mistral AI"}},
		{"DeepSeek, Qwen and OpenAI need none", "agreements: {models: [deepseek.r1-v1:0, qwen.qwen3-32b-v1:0, openai.gpt-oss-120b-1:0]}", []string{"models[0]", "models[1]", "models[2]"}},
		{"an unknown provider", "agreements: {models: [acme.rocket-v1:0]}", []string{"remediation.agreements.models[0]", "not among the audited models"}},
		{"a made-up Anthropic id", "agreements: {models: [anthropic.anything]}", []string{"remediation.agreements.models[0]", `"anthropic.anything" is not among the audited models`}},
		{"an ARN is refused", "agreements: {models: [\"arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/a1b2c3d4e5f6\"]}", []string{"remediation.agreements.models[0]", "ARN"}},
		{"bad account", "agreements: {models: [anthropic.claude-3-5-sonnet-20240620-v1:0], accounts: [\"12\"]}", []string{"remediation.agreements.accounts[0]", "12 digits"}},
		{"bad OU", "agreements: {models: [anthropic.claude-3-5-sonnet-20240620-v1:0], ous: [sales]}", []string{"remediation.agreements.ous[0]"}},
		{"region not audited", "agreements: {models: [anthropic.claude-3-5-sonnet-20240620-v1:0], regions: [eu-west-1]}", []string{"remediation.agreements.regions[0]", "not among the audited regions"}},
		{"unknown region", "agreements: {models: [anthropic.claude-3-5-sonnet-20240620-v1:0], regions: [mars-1]}", []string{"remediation.agreements.regions[0]", "unknown region"}},
		{"an offer for a model not listed", "agreements: {models: [anthropic.claude-3-5-sonnet-20240620-v1:0], offers: {\"cohere.command-r-plus-v1:0\": offer-1}}", []string{"remediation.agreements.offers[cohere.command-r-plus-v1:0]", "not in remediation.agreements.models"}},
		{"an empty offer id", "agreements: {models: [anthropic.claude-3-5-sonnet-20240620-v1:0], offers: {\"anthropic.claude-3-5-sonnet-20240620-v1:0\": \" \"}}", []string{"remediation.agreements.offers[anthropic.claude-3-5-sonnet-20240620-v1:0]", "not an offer id"}},
		{"bad offer type", "agreements: {models: [anthropic.claude-3-5-sonnet-20240620-v1:0], offer_type: PRIVATE}", []string{"remediation.agreements.offer_type"}},
		{"bad role name", "role_name: \"a b\"\n  agreements: {models: [anthropic.claude-3-5-sonnet-20240620-v1:0]}", []string{"remediation.role_name"}},
		{"concurrency too high", "concurrency: 1000\n  agreements: {models: [anthropic.claude-3-5-sonnet-20240620-v1:0]}", []string{"remediation.concurrency"}},
		{"form file missing", "use_case_form: {file: /nonexistent/form.json, accounts: [\"999999999999\"]}", []string{"remediation.use_case_form.file"}},
		{"form file not given", "use_case_form: {accounts: [\"999999999999\"]}", []string{"remediation.use_case_form.file: empty"}},
		{"form with an unknown field and a missing one", "use_case_form: {file: " + writeForm(t, `{"companyName":"X","companyWebsite":"https://x.example","intendedUsers":"0","industryOption":"Energy","otherIndustryOption":"","useCase":"typo"}`) + ", accounts: [\"999999999999\"]}", []string{"remediation.use_case_form.file", `unknown field "useCase"`, `missing field "useCases"`}},
		{"form not JSON", "use_case_form: {file: " + writeForm(t, "companyName=Example Corp") + ", accounts: [\"999999999999\"]}", []string{"remediation.use_case_form.file", "not a JSON object"}},
		{"form website not a URL", "use_case_form: {file: " + writeForm(t, strings.Replace(testForm, "https://www.example.com", "example", 1)) + ", accounts: [\"999999999999\"]}", []string{"companyWebsite"}},
		{"form with data after the object", "use_case_form: {file: " + writeForm(t, testForm+" junk") + ", accounts: [\"999999999999\"]}", []string{"remediation.use_case_form.file", "data after its JSON object"}},
		{"form with two objects", "use_case_form: {file: " + writeForm(t, testForm+testForm) + ", accounts: [\"999999999999\"]}", []string{"data after its JSON object"}},
		{"form intendedUsers outside 0, 1, 2", "use_case_form: {file: " + writeForm(t, strings.Replace(testForm, `"intendedUsers":"0"`, `"intendedUsers":"3"`, 1)) + ", accounts: [\"999999999999\"]}", []string{`field "intendedUsers" is "3": AWS takes 0, 1 or 2`}},
		{"form companyName over 128", "use_case_form: {file: " + writeForm(t, strings.Replace(testForm, "Example Corp", strings.Repeat("x", 129), 1)) + ", accounts: [\"999999999999\"]}", []string{`field "companyName" is 129 characters: AWS takes at most 128`}},
		{"form otherIndustryOption over 128", "use_case_form: {file: " + writeForm(t, strings.Replace(testForm, `"otherIndustryOption":""`, `"otherIndustryOption":"`+strings.Repeat("y", 129)+`"`, 1)) + ", accounts: [\"999999999999\"]}", []string{`field "otherIndustryOption" is 129 characters`}},
		{"form useCases over 8192", "use_case_form: {file: " + writeForm(t, strings.Replace(testForm, "Internal assistants", strings.Repeat("z", 8193), 1)) + ", accounts: [\"999999999999\"]}", []string{`field "useCases" is 8193 characters: AWS takes at most 8192`}},
		{"form without accounts", "use_case_form: {file: " + good + "}", []string{"remediation.use_case_form.accounts: empty: list the organization's management account"}},
		{"form bad account and region", "use_case_form: {file: " + good + ", accounts: [\"x\"], regions: [nowhere-1]}", []string{"remediation.use_case_form.accounts[0]", "remediation.use_case_form.regions[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(minimal + "remediation:\n  " + tt.section + "\n"))
			if err == nil && c.Remediation.UseCaseForm != nil {
				err = c.Remediation.UseCaseForm.LoadForm()
			}
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("got %v; want no error", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got no error; want one naming %v", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q; want it to contain %q", err, w)
				}
			}
		})
	}
}
