package awssim

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/grantwatch/grantwatch/pkg/config"
)

// Scenario is a simulated organization: its tree, accounts, the Bedrock model
// catalog per region, each account's model states, and how the service behaves
// (latency, throttling, faults, pagination).
type Scenario struct {
	Organization Organization `yaml:"organization"`
	// Auditor is the principal whose long-term keys grantwatch signs with.
	Auditor Principal `yaml:"auditor"`
	// Role is the audit role every account has unless it says otherwise.
	Role RoleSpec `yaml:"role"`
	// Catalog lists the foundation models and the regions that offer them.
	Catalog []CatalogModel `yaml:"catalog"`
	// Profiles are the system-defined (cross-region) inference profiles.
	Profiles []Profile `yaml:"profiles"`
	// UseCaseForms lists the accounts that submitted Anthropic's
	// first-time-use form; the management account's form covers every
	// account. Absent, every account has one.
	UseCaseForms []string `yaml:"use_case_forms"`
	// OptInUseCaseForms lists, per opt-in region, the accounts that
	// submitted the form there: the commercial-region form does not cover an
	// opt-in region (Bedrock user guide, model access; ledger:
	// BR-form-opt-in-regions). The management account's form in that region
	// covering its members is inferred from the commercial rule. Absent with
	// UseCaseForms absent, every account has a form everywhere.
	OptInUseCaseForms map[string][]string `yaml:"opt_in_use_case_forms"`
	// OptInRegions are the regions disabled by default; absent, those AWS
	// launched after March 20, 2019 (Account Management reference, "Enable
	// or disable AWS Regions in your account"; ledger: ACC-opt-in-regions).
	OptInRegions []string `yaml:"opt_in_regions"`
	// SCPs are the organization's service control policies.
	SCPs     []SCP     `yaml:"scps"`
	Accounts []Account `yaml:"accounts"`
	Latency  Latency   `yaml:"latency"`
	// ClockOffset is how far the simulated AWS clock runs ahead of this
	// machine's (negative: behind), to see clients correct clock skew.
	ClockOffset Duration   `yaml:"clock_offset"`
	Throttling  []Rule     `yaml:"throttling"`
	Faults      []Rule     `yaml:"faults"`
	Pagination  Pagination `yaml:"pagination"`
	Defaults    ModelState `yaml:"defaults"`
	// Agreements sets how agreement and form writes are answered (agreements.go).
	Agreements AgreementSettings `yaml:"agreements"`
	byRegion   map[string][]int  // catalog indexes offered per region, filled by prepare
}

// Organization is the tree of OUs; accounts name their parent.
type Organization struct {
	ID                string `yaml:"id"`
	ManagementAccount string `yaml:"management_account"`
	Root              string `yaml:"root"`
	OUs               []OU   `yaml:"ous"`
	// FullAWSAccessDetached lists the root, OUs and accounts from which the
	// FullAWSAccess SCP, which AWS attaches to every one of them, has been
	// detached: there only the SCPs listed in scps allow, so an allow-list
	// SCP can be expressed (ledger: IAM-scp-every-level).
	FullAWSAccessDetached []string `yaml:"full_aws_access_detached"`
}

// OU is an organizational unit with the OUs nested in it.
type OU struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	OUs  []OU   `yaml:"ous"`
}

// Principal is a caller with long-term keys.
type Principal struct {
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key"`
	Account         string `yaml:"account"`
	ARN             string `yaml:"arn"`
}

// RoleSpec is the audit role's name, the ExternalId its trust policy requires
// (empty: none) and its maximum session duration.
type RoleSpec struct {
	Name               string   `yaml:"name"`
	ExternalID         string   `yaml:"external_id"`
	MaxSessionDuration Duration `yaml:"max_session_duration"`
}

// CatalogModel is one foundation model.
type CatalogModel struct {
	ID        string   `yaml:"id"`
	Name      string   `yaml:"name"`
	Provider  string   `yaml:"provider"`
	Lifecycle string   `yaml:"lifecycle"` // ACTIVE (default) or LEGACY
	Regions   []string `yaml:"regions"`
	// InferenceTypes are ListFoundationModels' inferenceTypesSupported:
	// ON_DEMAND (default), INFERENCE_PROFILE (only through a profile, as the
	// Claude 4 and Nova models answer), PROVISIONED.
	InferenceTypes []string `yaml:"inference_types"`
	// NoStreaming makes ListFoundationModels answer
	// responseStreamingSupported=false (embedding and image models).
	NoStreaming bool `yaml:"no_streaming"`
}

// Profile is a system-defined inference profile such as
// us.anthropic.claude-sonnet-4-5-20250929-v1:0: it exists in its source
// regions and routes calls for one model to its destination regions.
type Profile struct {
	ID    string `yaml:"id"`
	Name  string `yaml:"name"`
	Model string `yaml:"model"` // a catalog model id
	// Sources are the regions the profile can be called from.
	Sources []string `yaml:"sources"`
	// Destinations are the regions it routes to; default: Sources.
	Destinations []string `yaml:"destinations"`
}

// IAMRole is a role with its identity policies and permissions boundary, as
// IAM policy documents (JSON). See iampolicy.go for what is evaluated.
type IAMRole struct {
	Name string            `yaml:"name"`
	Path string            `yaml:"path"` // default "/"
	Tags map[string]string `yaml:"tags"`
	// Policies are inline policies, by name.
	Policies map[string]string `yaml:"policies"`
	Boundary string            `yaml:"boundary"`
	parsed   map[string]*policy
	boundary *policy
}

// SCP is a service control policy attached to the root, OUs or accounts.
// Every level also has FullAWSAccess unless organization.full_aws_access_detached
// names it; see iampolicy.go for what is evaluated.
type SCP struct {
	Name     string   `yaml:"name"`
	Targets  []string `yaml:"targets"`
	Document string   `yaml:"document"`
	parsed   *policy
}

// Global reports whether the profile is a global one (global. prefix),
// which routes to any commercial region.
func (p Profile) Global() bool { return strings.HasPrefix(p.ID, "global.") }

// ApplicationProfile is an inference profile an account created, copying a
// system profile (its destinations) or a model (one region).
type ApplicationProfile struct {
	ID     string `yaml:"id"` // the ARN's last part, such as a1b2c3d4e5f6
	Name   string `yaml:"name"`
	Region string `yaml:"region"`
	// CopyFrom is a system profile id or a catalog model id.
	CopyFrom string `yaml:"copy_from"`
}

// Account is a member account and what Bedrock says about it.
type Account struct {
	ID     string            `yaml:"id"`
	Name   string            `yaml:"name"`
	Email  string            `yaml:"email"`
	Parent string            `yaml:"parent"` // an OU id; empty means the root
	State  string            `yaml:"state"`  // ACTIVE (default), SUSPENDED, PENDING_CLOSURE, CLOSED
	Tags   map[string]string `yaml:"tags"`
	// Role is "" (the audit role exists and trusts the auditor), "deny" (its
	// trust policy does not) or "missing" (no such role).
	Role string `yaml:"role"`
	// Remediation is "" (the remediation role exists and trusts the
	// auditor) or "missing"; MarketplaceDenied: an SCP denies
	// aws-marketplace:Subscribe, so agreements cannot be created.
	Remediation       string `yaml:"remediation"`
	MarketplaceDenied bool   `yaml:"marketplace_denied"`
	// AgreementFails is the errorMessage an agreement created in this
	// account ends in: it reads PENDING, then ERROR with this message
	// instead of AVAILABLE, as an account without a valid payment method
	// for Marketplace purchases would (ledger BR-agreement-error).
	AgreementFails string `yaml:"agreement_fails"`
	// DenyRegions are regions where an SCP denies every Bedrock call.
	DenyRegions []string `yaml:"deny_regions"`
	// MissingPermissions are actions the account's audit role lacks, as an
	// older member stack would (only account:ListRegions is modelled).
	MissingPermissions []string `yaml:"missing_permissions"`
	// SCPDeniedActions are Account Management actions a service control
	// policy denies the account's audit role, as a region-deny SCP without
	// an exemption for account:* does: the Account API is called in the
	// partition's global region, us-east-1 in aws (only account:ListRegions
	// is modelled).
	SCPDeniedActions []string `yaml:"scp_denied_actions"`
	// DisabledRegions are opt-in regions the account has not enabled:
	// ListRegions says DISABLED, and a Bedrock call signed there is refused
	// as an unknown token (ledger: ACC-region-not-enabled).
	DisabledRegions []string `yaml:"disabled_regions"`
	// ApplicationProfiles are the inference profiles the account created.
	ApplicationProfiles []ApplicationProfile `yaml:"application_profiles"`
	// Roles are the account's IAM roles besides the audit role: the
	// principals whose permissions SimulatePrincipalPolicy evaluates.
	Roles []IAMRole `yaml:"roles"`
	// Models overrides model states in every region; Regions per region.
	Models  map[string]ModelState   `yaml:"models"`
	Regions map[string]RegionStates `yaml:"regions"`
}

// RegionStates overrides model states in one region.
type RegionStates struct {
	Models map[string]ModelState `yaml:"models"`
}

// ModelState is what GetFoundationModelAvailability reports; empty fields
// inherit (account region, account, scenario defaults, then all positive).
type ModelState struct {
	Agreement      string `yaml:"agreement"` // AVAILABLE, PENDING, NOT_AVAILABLE, ERROR
	AgreementError string `yaml:"agreement_error"`
	Authorization  string `yaml:"authorization"` // AUTHORIZED, NOT_AUTHORIZED
	Entitlement    string `yaml:"entitlement"`   // AVAILABLE, NOT_AVAILABLE
}

// Latency delays every answer: Fixed, or uniformly between Min and Max.
// ByRegion overrides it for slow regions.
type Latency struct {
	Fixed    Duration           `yaml:"fixed"`
	Min      Duration           `yaml:"min"`
	Max      Duration           `yaml:"max"`
	ByRegion map[string]Latency `yaml:"by_region"`
}

// Rule selects requests (empty fields match all) and applies with probability
// Rate, or to the first Count matching requests when Count is set.
type Rule struct {
	Operation string  `yaml:"operation"`
	Account   string  `yaml:"account"`
	Region    string  `yaml:"region"`
	Rate      float64 `yaml:"rate"`
	Count     int64   `yaml:"count"`
	// Status is the HTTP status a fault answers with (500, 502, 503, 504);
	// unused for throttling.
	Status int `yaml:"status"`
	// AfterWrite makes a fault answer after the write took effect, as a
	// response lost on its way back does: the SDK retries a write that
	// succeeded (only the agreement and form writes; ledger
	// BR-agreement-retry).
	AfterWrite bool `yaml:"after_write"`
	// AnswerDelay, with AfterWrite, holds the answer that long after the
	// write took effect instead of answering a fault (Status is then
	// unused): a client whose deadline passes meanwhile never learns the
	// write succeeded. A test fault, not an AWS behaviour: no ledger row.
	AnswerDelay Duration `yaml:"answer_delay"`
}

// Pagination sets the page size of paginated Organizations calls; with
// EmptyPages every page with content is preceded by an empty one that only
// carries a NextToken, as Organizations is allowed to do.
type Pagination struct {
	PageSize   int  `yaml:"page_size"`
	EmptyPages bool `yaml:"empty_pages"`
}

// Duration is a time.Duration written as "100ms" in YAML, as in grantwatch's configuration.
type Duration = config.Duration

// LoadScenario reads a scenario file.
func LoadScenario(path string) (*Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	sc, err := ParseScenario(b)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", path, err)
	}
	return sc, nil
}

// ParseScenario decodes a scenario strictly and validates it.
func ParseScenario(b []byte) (*Scenario, error) {
	var sc Scenario
	if err := config.DecodeStrict(b, &sc, "scenario"); err != nil {
		return nil, err
	}
	if err := sc.prepare(); err != nil {
		return nil, err
	}
	return &sc, nil
}

var (
	enums = map[string][]string{
		"agreement":     {"AVAILABLE", "PENDING", "NOT_AVAILABLE", "ERROR"},
		"authorization": {"AUTHORIZED", "NOT_AUTHORIZED"},
		"entitlement":   {"AVAILABLE", "NOT_AVAILABLE"},
		"state":         {"ACTIVE", "SUSPENDED", "PENDING_CLOSURE", "CLOSED"},
		"lifecycle":     {"ACTIVE", "LEGACY"},
		"inference":     {"ON_DEMAND", "INFERENCE_PROFILE", "PROVISIONED"},
		"role":          {"deny", "missing"},
		"remediation":   {"missing"},
	}
)

func oneOf(field, kind, v string) error {
	if v == "" {
		return nil
	}
	for _, ok := range enums[kind] {
		if v == ok {
			return nil
		}
	}
	return fmt.Errorf("%s: %q is not one of %v", field, v, enums[kind])
}

// prepare fills defaults, validates and indexes the scenario. New calls it too,
// so a scenario built in Go gets the same checks as one read from YAML.
func (sc *Scenario) prepare() error {
	if sc.Organization.ID == "" {
		sc.Organization.ID = "o-sim0000000"
	}
	if sc.Organization.Root == "" {
		sc.Organization.Root = "r-sim0"
	}
	if sc.Organization.ManagementAccount == "" {
		sc.Organization.ManagementAccount = "999999999999"
	}
	if sc.Auditor.AccessKeyID == "" {
		sc.Auditor.AccessKeyID = "AKIAGRANTWATCHSIM000"
	}
	if sc.Auditor.SecretAccessKey == "" {
		sc.Auditor.SecretAccessKey = "grantwatch-simulated-secret"
	}
	if sc.Auditor.Account == "" {
		sc.Auditor.Account = sc.Organization.ManagementAccount
	}
	if sc.Auditor.ARN == "" {
		// The auditor runs as a Lambda function, whose credentials are a
		// session of its execution role (GetCallerIdentity shows it as
		// assumed-role), so its AssumeRole calls are role chaining.
		sc.Auditor.ARN = "arn:aws:sts::" + sc.Auditor.Account + ":assumed-role/GrantwatchAuditor/grantwatch-auditor"
	}
	if sc.Role.Name == "" {
		sc.Role.Name = "GrantwatchAudit"
	}
	if sc.Role.MaxSessionDuration == 0 {
		sc.Role.MaxSessionDuration = Duration(time.Hour)
	}
	if sc.Pagination.PageSize == 0 {
		sc.Pagination.PageSize = 20
	}

	var errs []error
	ous := map[string]bool{}
	var walk func(path string, list []OU)
	walk = func(path string, list []OU) {
		for i, ou := range list {
			field := fmt.Sprintf("%s[%d]", path, i)
			if ou.ID == "" || ous[ou.ID] {
				errs = append(errs, fmt.Errorf("%s.id: %q is empty or repeated", field, ou.ID))
			}
			ous[ou.ID] = true
			walk(field+".ous", ou.OUs)
		}
	}
	walk("organization.ous", sc.Organization.OUs)
	if !config.ValidAccountID(sc.Organization.ManagementAccount) {
		errs = append(errs, fmt.Errorf("organization.management_account: %q is not 12 digits", sc.Organization.ManagementAccount))
	}

	sc.byRegion = map[string][]int{}
	// unique records id in seen and reports an empty or repeated one.
	unique := func(field, id string, seen map[string]bool) {
		if id == "" || seen[id] {
			errs = append(errs, fmt.Errorf("%s.id: %q is empty or repeated", field, id))
		}
		seen[id] = true
	}
	seenModel := map[string]bool{}
	for i, m := range sc.Catalog {
		field := fmt.Sprintf("catalog[%d]", i)
		unique(field, m.ID, seenModel)
		errs = append(errs, oneOf(field+".lifecycle", "lifecycle", m.Lifecycle))
		if len(m.InferenceTypes) == 0 {
			sc.Catalog[i].InferenceTypes = []string{"ON_DEMAND"}
		}
		for j, t := range m.InferenceTypes {
			errs = append(errs, oneOf(fmt.Sprintf("%s.inference_types[%d]", field, j), "inference", t))
		}
		for _, r := range m.Regions {
			sc.byRegion[r] = append(sc.byRegion[r], i)
		}
	}
	seenProfile := map[string]bool{}
	for i, p := range sc.Profiles {
		field := fmt.Sprintf("profiles[%d]", i)
		unique(field, p.ID, seenProfile)
		if !seenModel[p.Model] {
			errs = append(errs, fmt.Errorf("%s.model: no catalog model %q", field, p.Model))
		}
		if len(p.Sources) == 0 {
			errs = append(errs, fmt.Errorf("%s.sources: empty: list the regions the profile can be called from", field))
		}
		switch {
		case p.Global() && len(p.Destinations) > 0:
			errs = append(errs, fmt.Errorf("%s.destinations: a global profile lists its source region's model and the region-less one, not regions: leave destinations out", field))
		case len(p.Destinations) == 0 && !p.Global():
			sc.Profiles[i].Destinations = p.Sources
		}
	}
	for i, id := range sc.UseCaseForms {
		if !config.ValidAccountID(id) {
			errs = append(errs, fmt.Errorf("use_case_forms[%d]: %q is not 12 digits", i, id))
		}
	}
	if sc.OptInRegions == nil {
		sc.OptInRegions = defaultOptInRegions
	}
	for i, r := range sc.OptInRegions {
		if !config.KnownRegion(r) {
			errs = append(errs, fmt.Errorf("opt_in_regions[%d]: unknown region %q", i, r))
		}
	}
	for _, r := range slices.Sorted(maps.Keys(sc.OptInUseCaseForms)) {
		if !slices.Contains(sc.OptInRegions, r) {
			errs = append(errs, fmt.Errorf("opt_in_use_case_forms[%s]: not an opt-in region (opt_in_regions): commercial regions share use_case_forms", r))
		}
		for i, id := range sc.OptInUseCaseForms[r] {
			if !config.ValidAccountID(id) {
				errs = append(errs, fmt.Errorf("opt_in_use_case_forms[%s][%d]: %q is not 12 digits", r, i, id))
			}
		}
	}
	errs = append(errs, sc.Defaults.validate("defaults"))

	seenAccount := map[string]bool{}
	for i, a := range sc.Accounts {
		field := fmt.Sprintf("accounts[%d]", i)
		if !config.ValidAccountID(a.ID) || seenAccount[a.ID] {
			errs = append(errs, fmt.Errorf("%s.id: %q is not 12 digits or is repeated", field, a.ID))
		}
		seenAccount[a.ID] = true
		if a.Parent != "" && a.Parent != sc.Organization.Root && !ous[a.Parent] {
			errs = append(errs, fmt.Errorf("%s.parent: no OU %q in organization.ous", field, a.Parent))
		}
		errs = append(errs, oneOf(field+".state", "state", a.State), oneOf(field+".role", "role", a.Role), oneOf(field+".remediation", "remediation", a.Remediation))
		for j, p := range a.ApplicationProfiles {
			pf := fmt.Sprintf("%s.application_profiles[%d]", field, j)
			if p.ID == "" || p.Region == "" {
				errs = append(errs, fmt.Errorf("%s: id and region are required", pf))
			}
			if !seenProfile[p.CopyFrom] && !seenModel[p.CopyFrom] {
				errs = append(errs, fmt.Errorf("%s.copy_from: no profile or catalog model %q", pf, p.CopyFrom))
			}
		}
		for j, r := range a.DisabledRegions {
			if !slices.Contains(sc.OptInRegions, r) {
				errs = append(errs, fmt.Errorf("%s.disabled_regions[%d]: %q is not an opt-in region (opt_in_regions); a default region cannot be disabled", field, j, r))
			}
		}
		for j := range a.Roles {
			r := &sc.Accounts[i].Roles[j]
			rf := fmt.Sprintf("%s.roles[%d]", field, j)
			if r.Name == "" {
				errs = append(errs, fmt.Errorf("%s.name: empty", rf))
			}
			if r.Path == "" {
				r.Path = "/"
			}
			r.parsed = map[string]*policy{}
			for name, doc := range r.Policies {
				p, err := parsePolicy(doc, identityPolicy)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s.policies[%s]: %w", rf, name, err))
				}
				r.parsed[name] = p
			}
			if r.Boundary != "" {
				p, err := parsePolicy(r.Boundary, boundaryPolicy)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s.boundary: %w", rf, err))
				}
				r.boundary = p
			}
		}
		for id, st := range a.Models {
			errs = append(errs, st.validate(fmt.Sprintf("%s.models[%s]", field, id)))
		}
		for r, rs := range a.Regions {
			for id, st := range rs.Models {
				errs = append(errs, st.validate(fmt.Sprintf("%s.regions[%s].models[%s]", field, r, id)))
			}
		}
	}
	for i := range sc.SCPs {
		p, err := parsePolicy(sc.SCPs[i].Document, scpPolicy)
		if err != nil {
			errs = append(errs, fmt.Errorf("scps[%d].document: %w", i, err))
		}
		sc.SCPs[i].parsed = p
		for j, t := range sc.SCPs[i].Targets {
			if t != sc.Organization.Root && !ous[t] && !config.ValidAccountID(t) {
				errs = append(errs, fmt.Errorf("scps[%d].targets[%d]: %q is not the root, an OU or an account", i, j, t))
			}
		}
	}
	for i, t := range sc.Organization.FullAWSAccessDetached {
		if t != sc.Organization.Root && !ous[t] && !config.ValidAccountID(t) {
			errs = append(errs, fmt.Errorf("organization.full_aws_access_detached[%d]: %q is not the root, an OU or an account", i, t))
		}
	}
	for i, r := range append(sc.Throttling, sc.Faults...) {
		if r.Rate < 0 || r.Rate > 1 {
			errs = append(errs, fmt.Errorf("rule %d: rate %v is not between 0 and 1", i, r.Rate))
		}
	}
	for i, f := range sc.Faults {
		if f.AnswerDelay < 0 {
			errs = append(errs, fmt.Errorf("faults[%d].answer_delay: %v is negative", i, f.AnswerDelay))
		}
		if f.AnswerDelay > 0 && !f.AfterWrite {
			errs = append(errs, fmt.Errorf("faults[%d].answer_delay: set without after_write (only an answer after the write is held)", i))
		}
		if f.AnswerDelay == 0 && (f.Status < 500 || f.Status > 599) {
			errs = append(errs, fmt.Errorf("faults[%d].status: %d is not a 5xx status", i, f.Status))
		}
		if f.AfterWrite && f.Operation != OpCreateFoundationModelAgreement && f.Operation != OpDeleteFoundationModelAgreement && f.Operation != OpPutUseCaseForModelAccess {
			errs = append(errs, fmt.Errorf("faults[%d].after_write: operation %q is not one of the agreement and form writes", i, f.Operation))
		}
	}
	return errors.Join(errs...)
}

func (m ModelState) validate(field string) error {
	return errors.Join(
		oneOf(field+".agreement", "agreement", m.Agreement),
		oneOf(field+".authorization", "authorization", m.Authorization),
		oneOf(field+".entitlement", "entitlement", m.Entitlement),
	)
}

// over returns m with its empty fields taken from base.
func (m ModelState) over(base ModelState) ModelState {
	if m.Agreement == "" {
		m.Agreement, m.AgreementError = base.Agreement, base.AgreementError
	}
	if m.Authorization == "" {
		m.Authorization = base.Authorization
	}
	if m.Entitlement == "" {
		m.Entitlement = base.Entitlement
	}
	return m
}

// clone copies the scenario deeply enough for Update: everything an edit may
// change is copied, the rest is shared read-only.
func (sc *Scenario) clone() *Scenario {
	c := *sc
	c.Catalog = slices.Clone(sc.Catalog)
	c.Profiles = slices.Clone(sc.Profiles)
	c.UseCaseForms = slices.Clone(sc.UseCaseForms)
	c.OptInRegions = slices.Clone(sc.OptInRegions)
	c.OptInUseCaseForms = make(map[string][]string, len(sc.OptInUseCaseForms))
	for r, ids := range sc.OptInUseCaseForms {
		c.OptInUseCaseForms[r] = slices.Clone(ids)
	}
	if sc.OptInUseCaseForms == nil {
		c.OptInUseCaseForms = nil
	}
	c.SCPs = slices.Clone(sc.SCPs)
	c.Throttling = slices.Clone(sc.Throttling)
	c.Faults = slices.Clone(sc.Faults)
	c.Accounts = make([]Account, len(sc.Accounts))
	for i, a := range sc.Accounts {
		a.Tags = maps.Clone(a.Tags)
		a.DenyRegions = slices.Clone(a.DenyRegions)
		a.MissingPermissions = slices.Clone(a.MissingPermissions)
		a.DisabledRegions = slices.Clone(a.DisabledRegions)
		a.SCPDeniedActions = slices.Clone(a.SCPDeniedActions)
		a.ApplicationProfiles = slices.Clone(a.ApplicationProfiles)
		a.Roles = slices.Clone(a.Roles)
		a.Models = maps.Clone(a.Models)
		regions := make(map[string]RegionStates, len(a.Regions))
		for r, rs := range a.Regions {
			regions[r] = RegionStates{Models: maps.Clone(rs.Models)}
		}
		a.Regions = regions
		c.Accounts[i] = a
	}
	return &c
}

// Account returns the scenario's account id, for edits in Update.
func (sc *Scenario) Account(id string) *Account {
	for i := range sc.Accounts {
		if sc.Accounts[i].ID == id {
			return &sc.Accounts[i]
		}
	}
	return nil
}

// SetState sets an account's model state in one region, for edits in Update.
func (a *Account) SetState(region, model string, st ModelState) {
	if a.Regions == nil {
		a.Regions = map[string]RegionStates{}
	}
	rs := a.Regions[region]
	if rs.Models == nil {
		rs.Models = map[string]ModelState{}
	}
	rs.Models[model] = st
	a.Regions[region] = rs
}

// defaultOptInRegions are the regions grantwatch knows that AWS launched
// after March 20, 2019, disabled by default (Account Management reference,
// "Enable or disable AWS Regions in your account"; ledger: ACC-opt-in-regions).
var defaultOptInRegions = []string{
	"af-south-1", "ap-east-1", "ap-east-2", "ap-south-2", "ap-southeast-3", "ap-southeast-4",
	"ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ca-west-1", "eu-central-2",
	"eu-south-1", "eu-south-2", "il-central-1", "me-central-1", "me-south-1", "mx-central-1",
}

// optIn reports whether region is an opt-in region of the scenario.
func (sc *Scenario) optIn(region string) bool { return slices.Contains(sc.OptInRegions, region) }
