package config

import (
	"strings"
	"testing"
)

// legacyFamilies are model families Bedrock lists as legacy or end of life
// by late 2026 (user guide, "Model lifecycle"): an example that requires
// them teaches newcomers legacy answers (issue 18 item 9).
var legacyFamilies = []string{"anthropic.claude-3", "anthropic.claude-v2", "amazon.titan-text", "meta.llama3-", "cohere.command-r", "anthropic.claude-instant"}

func legacy(id string) bool {
	ref, _ := ParseModel(id)
	base := id
	if ref.Kind == SystemProfile {
		base = strings.TrimPrefix(ref.ProfileID, ref.Geography+".")
	}
	for _, f := range legacyFamilies {
		if strings.HasPrefix(base, f) {
			return true
		}
	}
	return false
}

// TestExampleRequiresCurrentModels: grantwatch.example.yaml is valid and
// requires only current models.
func TestExampleRequiresCurrentModels(t *testing.T) {
	c, err := Load("../../grantwatch.example.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	all := append([]string{}, c.Models.Required...)
	for _, ids := range c.Models.ByOU {
		all = append(all, ids...)
	}
	for _, ids := range c.Models.ByAccount {
		all = append(all, ids...)
	}
	for _, id := range all {
		if legacy(id) {
			t.Errorf("the example requires %s, a legacy model", id)
		}
	}
}

// TestDemoRequiresCurrentModels: the demo configuration requires current
// models, legacy ones only for the account that shows LEGACY.
func TestDemoRequiresCurrentModels(t *testing.T) {
	c, err := Load("../../cmd/grantwatch/demo.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	check := func(field string, ids []string) {
		for _, id := range ids {
			if legacy(id) {
				t.Errorf("%s requires %s, a legacy model", field, id)
			}
		}
	}
	check("models.required", c.Models.Required)
	for ou, ids := range c.Models.ByOU {
		check("models.by_ou["+ou+"]", ids)
	}
	for account, ids := range c.Models.ByAccount {
		if account != "333333333333" { // the LEGACY case
			check("models.by_account["+account+"]", ids)
		}
	}
}
