package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// Remediation is the optional remediation section: what grantwatch fix (and
// the scheduled run, with Auto) may accept on the organization's behalf.
// Absent, nothing is ever written.
type Remediation struct {
	// Auto makes the scheduled run apply the plan after it stored its
	// results; without it the run only reports what grantwatch fix would do
	// (the Remediable metric and a message).
	Auto bool `yaml:"auto"`
	// RoleName is the opt-in member role that may make the writes.
	RoleName string `yaml:"role_name"`
	// Concurrency is the most writes in flight at once.
	Concurrency int                `yaml:"concurrency"`
	Agreements  *AgreementPolicy   `yaml:"agreements"`
	UseCaseForm *UseCaseFormPolicy `yaml:"use_case_form"`
}

// AgreementPolicy says which Marketplace agreements may be created: only
// for Models, and only in the accounts, OUs and regions listed (empty:
// every audited one).
type AgreementPolicy struct {
	Models   []string `yaml:"models"`
	Accounts []string `yaml:"accounts"`
	OUs      []string `yaml:"ous"`
	Regions  []string `yaml:"regions"`
	// OfferType is ListFoundationModelAgreementOffers' offerType: PUBLIC
	// (default) or ALL.
	OfferType string `yaml:"offer_type"`
	// Offers name the offer id to accept per model, for a model with
	// several offers: AWS documents no order of the offers, so fix never
	// picks one of several by itself (ledger BR-agreement-offers).
	Offers map[string]string `yaml:"offers"`
}

// OfferFor is the offer id the configuration names for a model, or "".
func (p *AgreementPolicy) OfferFor(model string) string {
	for m, id := range p.Offers {
		if AgreementModel(m) == AgreementModel(model) {
			return id
		}
	}
	return ""
}

// UseCaseFormPolicy says where the Anthropic use-case form is submitted.
type UseCaseFormPolicy struct {
	// File is the form's JSON, relative to the working directory; LoadForm
	// reads and checks it.
	File string `yaml:"file"`
	// Accounts are where the form is submitted: the organization's
	// management account, whose form covers every member (ledger
	// BR-form-inherited). Required: the configuration does not name the
	// management account, and grantwatch runs in an audit account.
	Accounts []string `yaml:"accounts"`
	// Regions are where the form is submitted; default: the first audited
	// region. List the opt-in regions that need their own.
	Regions []string `yaml:"regions"`
	// Form is the file's content once validated.
	Form []byte `yaml:"-"`
}

// Remediation defaults.
const (
	// MetricRemediable is the run metric counting the actions grantwatch
	// fix would take (planned) after the run; written only with a
	// remediation section, beside Metrics.
	MetricRemediable              = "Remediable"
	DefaultRemediationRole        = "GrantwatchRemediate"
	DefaultRemediationConcurrency = 4
	MaxRemediationConcurrency     = 64
)

// useCaseFormFields are the form's fields, as the Terraform and Pulumi
// resources for PutUseCaseForModelAccess document them; otherIndustryOption
// may be empty.
var useCaseFormFields = []string{"companyName", "companyWebsite", "intendedUsers", "industryOption", "otherIndustryOption", "useCases"}

// useCaseFormMaxLen are the fields' length limits, and intendedUsersValues
// the values intendedUsers takes, as the user guide gives them (model
// access, "Manage model access using SDK and CLI", step 2; ledger
// BR-form-fields).
var (
	useCaseFormMaxLen = map[string]int{
		"companyName": 128, "companyWebsite": 128, "industryOption": 128, "otherIndustryOption": 128, "useCases": 8192,
	}
	intendedUsersValues = []string{"0", "1", "2"}
)

// notSoldProviders maps the model id prefixes of the providers AWS lists
// as not sold through AWS Marketplace to those providers' names, as
// ListFoundationModels gives providerName (ledger MP-not-sold-providers;
// the names are pkg/check/data/marketplace.json's, the prefixes ours:
// ledger MP-agreement-models).
var notSoldProviders = map[string]string{"amazon": "Amazon", "deepseek": "DeepSeek", "mistral": "Mistral AI", "meta": "Meta", "qwen": "Qwen", "openai": "OpenAI"}

// NotSoldProviders are the provider names NeedsAgreement refuses.
func NotSoldProviders() []string { return slices.Sorted(maps.Values(notSoldProviders)) }

// AgreementModel is the foundation model id an agreement is for: the id
// itself, or the model of a system inference profile id (its geography
// prefix removed).
func AgreementModel(id string) string {
	if g := geography(id); g != "" {
		return strings.TrimPrefix(id, g+".")
	}
	return id
}

// NeedsAgreement checks that a model id is one a Marketplace agreement can
// be created for: a foundation model id (or a system profile id) of a
// provider AWS does not list as not sold through Marketplace. Whether the
// model exists is the audit's to say: validateRemediation only checks that
// it is audited.
func NeedsAgreement(id string) error {
	base := AgreementModel(id)
	provider, _, ok := strings.Cut(base, ".")
	switch {
	case strings.HasPrefix(id, "arn:"):
		return fmt.Errorf("%q is an ARN: name the foundation model id, such as anthropic.claude-3-5-sonnet-20240620-v1:0", id)
	case !ok || !modelIDPattern.MatchString(base):
		return fmt.Errorf("%q is not a foundation model id such as anthropic.claude-3-5-sonnet-20240620-v1:0", id)
	case notSoldProviders[provider] != "":
		return fmt.Errorf("%q needs no agreement: %s models are not sold through AWS Marketplace", id, notSoldProviders[provider])
	}
	return nil
}

// auditedAgreementModels are the foundation models the audit checks under
// their own id, and whether that is all of them: an application inference
// profile ARN names no model in the configuration.
func (c *Config) auditedAgreementModels() (map[string]bool, bool) {
	out := map[string]bool{}
	complete := true
	add := func(ids []string) {
		for _, id := range ids {
			ref, err := ParseModel(id)
			switch {
			case err != nil:
			case ref.Kind == ApplicationProfile:
				complete = false
			case ref.ProfileID != "":
				out[AgreementModel(ref.ProfileID)] = true
			default:
				out[AgreementModel(id)] = true
			}
		}
	}
	add(c.Models.Required)
	for _, ids := range c.Models.ByOU {
		add(ids)
	}
	for _, ids := range c.Models.ByAccount {
		add(ids)
	}
	return out, complete
}

// applyRemediationDefaults fills the section's defaults when it is present.
func (c *Config) applyRemediationDefaults() {
	r := c.Remediation
	if r == nil {
		return
	}
	if r.RoleName == "" {
		r.RoleName = DefaultRemediationRole
	}
	if r.Concurrency == 0 {
		r.Concurrency = DefaultRemediationConcurrency
	}
	if a := r.Agreements; a != nil && a.OfferType == "" {
		a.OfferType = "PUBLIC"
	}
}

// validateRemediation reports every problem of the remediation section,
// each naming its field.
func (c *Config) validateRemediation(badField badFunc) {
	r := c.Remediation
	if r == nil {
		return
	}
	bad := func(field, format string, args ...any) { badField("remediation."+field, format, args...) }
	if r.Agreements == nil && r.UseCaseForm == nil {
		bad("agreements", "the section allows nothing: give agreements, use_case_form or both")
	}
	if !roleNamePattern.MatchString(r.RoleName) || strings.Contains(r.RoleName, "/") {
		bad("role_name", "%q is not an IAM role name", r.RoleName)
	}
	if r.Concurrency <= 0 || r.Concurrency > MaxRemediationConcurrency {
		bad("concurrency", "%d is outside 1 to %d", r.Concurrency, MaxRemediationConcurrency)
	}
	regions := func(field string, list []string) {
		for i, reg := range list {
			f := fmt.Sprintf("%s[%d]", field, i)
			switch {
			case !KnownRegion(reg):
				bad(f, "unknown region %q", reg)
			case slices.Index(list, reg) < i:
				bad(f, "region %q is listed twice", reg)
			}
		}
	}
	if a := r.Agreements; a != nil {
		if len(a.Models) == 0 {
			bad("agreements.models", "empty: list the models agreements may be created for")
		}
		audited, complete := c.auditedAgreementModels()
		for i, m := range a.Models {
			if err := NeedsAgreement(m); err != nil {
				bad(fmt.Sprintf("agreements.models[%d]", i), "%v", err)
			} else if complete && !audited[AgreementModel(m)] {
				bad(fmt.Sprintf("agreements.models[%d]", i), "%q is not among the audited models (models.required, by_ou, by_account): the audit would never find its agreement missing", m)
			}
		}
		checkAccountIDs(bad, "agreements.accounts", a.Accounts)
		for i, ou := range a.OUs {
			if !ouIDPattern.MatchString(ou) {
				bad(fmt.Sprintf("agreements.ous[%d]", i), "%q is not an OU id like ou-ab12-cd34ef56", ou)
			}
		}
		regions("agreements.regions", a.Regions)
		for i, reg := range a.Regions {
			if KnownRegion(reg) && !slices.Contains(c.Regions, reg) {
				bad(fmt.Sprintf("agreements.regions[%d]", i), "region %q is not among the audited regions %v: nothing would ever be found missing there", reg, c.Regions)
			}
		}
		for _, m := range slices.Sorted(maps.Keys(a.Offers)) {
			f := "agreements.offers[" + m + "]"
			switch id := a.Offers[m]; {
			case !slices.ContainsFunc(a.Models, func(x string) bool { return AgreementModel(x) == AgreementModel(m) }):
				bad(f, "model %q is not in remediation.agreements.models", m)
			case strings.TrimSpace(id) == "" || strings.ContainsAny(id, " \t\n") || len(id) > 256:
				bad(f, "%q is not an offer id as ListFoundationModelAgreementOffers gives offerId", id)
			}
		}
		if a.OfferType != "PUBLIC" && a.OfferType != "ALL" {
			bad("agreements.offer_type", "%q is not PUBLIC or ALL", a.OfferType)
		}
	}
	if f := r.UseCaseForm; f != nil {
		if len(f.Accounts) == 0 {
			bad("use_case_form.accounts", "empty: list the organization's management account, whose form covers every member account (and deploy the remediation role there: StackSets skip the management account)")
		}
		checkAccountIDs(bad, "use_case_form.accounts", f.Accounts)
		regions("use_case_form.regions", f.Regions)
		if f.File == "" {
			bad("use_case_form.file", "empty: name the JSON file with the use-case form")
		}
	}
}

// LoadForm reads and checks the form file. grantwatch fix calls it before
// it plans; Validate does not, since the same configuration is loaded where
// the file is not shipped (the scheduled function's bundle holds only
// grantwatch.yaml).
func (f *UseCaseFormPolicy) LoadForm() error {
	form, err := readUseCaseForm(f.File)
	if err != nil {
		return fmt.Errorf("remediation.use_case_form.file: %w", err)
	}
	f.Form = form
	return nil
}

// readUseCaseForm reads and checks the form: a JSON object with exactly
// the documented fields, all strings, and the size PutUseCaseForModelAccess
// accepts (10 to 16384 bytes, API reference; ledger BR-form-put).
func readUseCaseForm(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if n := len(b); n < 10 || n > 16384 {
		return nil, fmt.Errorf("%s is %d bytes; PutUseCaseForModelAccess takes 10 to 16384", path, n)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var form map[string]any
	if err := dec.Decode(&form); err != nil {
		return nil, fmt.Errorf("%s is not a JSON object: %w", path, err)
	}
	// Decode reads one value; the file is sent as it is, so anything after
	// the object would be sent too.
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s has data after its JSON object: the file must hold the form only", path)
	}
	var errs []string
	for k, v := range form {
		if !slices.Contains(useCaseFormFields, k) {
			errs = append(errs, fmt.Sprintf("unknown field %q", k))
		} else if _, ok := v.(string); !ok {
			errs = append(errs, fmt.Sprintf("field %q is not a string", k))
		}
	}
	for _, k := range useCaseFormFields {
		v, _ := form[k].(string)
		switch {
		case form[k] == nil:
			errs = append(errs, fmt.Sprintf("missing field %q", k))
		case k != "otherIndustryOption" && strings.TrimSpace(v) == "":
			errs = append(errs, fmt.Sprintf("field %q is empty", k))
		case k == "intendedUsers" && !slices.Contains(intendedUsersValues, v):
			errs = append(errs, fmt.Sprintf("field %q is %q: AWS takes 0, 1 or 2", k, v))
		case useCaseFormMaxLen[k] > 0 && utf8.RuneCountInString(v) > useCaseFormMaxLen[k]:
			errs = append(errs, fmt.Sprintf("field %q is %d characters: AWS takes at most %d", k, utf8.RuneCountInString(v), useCaseFormMaxLen[k]))
		}
	}
	if w, _ := form["companyWebsite"].(string); w != "" {
		if u, err := url.Parse(w); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Sprintf("companyWebsite %q is not a web address such as https://example.com", w))
		}
	}
	if len(errs) > 0 {
		slices.Sort(errs)
		return nil, fmt.Errorf("%s: %s (fields: %s)", path, strings.Join(errs, "; "), strings.Join(useCaseFormFields, ", "))
	}
	return b, nil
}
