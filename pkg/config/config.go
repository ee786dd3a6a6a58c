// Package config reads and validates the grantwatch configuration file, the same
// file for the command line and the Lambda function.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/grantwatch/grantwatch/pkg/result"
)

// Config is the whole configuration. Zero values are replaced by the defaults in
// [Config.ApplyDefaults]; see the README for the reference.
type Config struct {
	Accounts Accounts `yaml:"accounts"`
	// Regions are the AWS regions audited in every account.
	Regions []string `yaml:"regions"`
	Models  Models   `yaml:"models"`
	Role    Role     `yaml:"role"`
	Limits  Limits   `yaml:"limits"`
	// PendingGrace is how long an agreement may stay PENDING before it alerts.
	PendingGrace Duration `yaml:"pending_grace"`
	History      History  `yaml:"history"`
	Notify       Notify   `yaml:"notify"`
	Alerts       Alerts   `yaml:"alerts"`
	// Principals are the roles that call Bedrock, whose own permissions are
	// evaluated besides the account's model access.
	Principals Principals `yaml:"principals"`
	// Suppressions mute known, accepted findings until a date.
	Suppressions []Suppression `yaml:"suppressions"`
	// SecurityHub sends findings to AWS Security Hub.
	SecurityHub SecurityHub `yaml:"securityhub"`
	// Remediation, when present, lets grantwatch fix create agreements and
	// submit the use-case form (remediation.go).
	Remediation *Remediation `yaml:"remediation"`
}

// SecurityHub configures the Security Hub findings of the scheduled run.
type SecurityHub struct {
	// Enabled imports one finding per not-usable check and audit error into
	// the auditor's own account's Security Hub, in its region.
	Enabled bool `yaml:"enabled"`
}

// Suppression mutes the checks it selects (every selector given must match)
// until the end of its Until day, UTC: they keep their real status, carry
// the suppression, and are neither alerted nor fail the command line.
type Suppression struct {
	Account   string        `yaml:"account"`
	OU        string        `yaml:"ou"` // the account is below this OU
	Region    string        `yaml:"region"`
	Model     string        `yaml:"model"`
	Principal string        `yaml:"principal"`
	Status    result.Status `yaml:"status"`
	Reason    string        `yaml:"reason"`
	Owner     string        `yaml:"owner"`
	Until     string        `yaml:"until"` // YYYY-MM-DD, at most MaxSuppressionAhead from today
	// Permanent suppresses with no end date, instead of Until; its reason
	// says why the finding is accepted for good.
	Permanent bool `yaml:"permanent"`
}

// MaxSuppressionAhead is how far ahead a suppression's until may be: a
// time-boxed suppression is reviewed at least once a year; one meant to
// last says permanent: true.
const MaxSuppressionAhead = 366 * 24 * time.Hour

// Matches reports whether the suppression selects r, in an account below ous.
func (s Suppression) Matches(r result.Result, ous []string) bool {
	return (s.Account == "" || s.Account == r.Account) &&
		(s.OU == "" || slices.Contains(ous, s.OU)) &&
		(s.Region == "" || s.Region == r.Region) &&
		(s.Model == "" || s.Model == r.Model) &&
		(s.Principal == "" || s.Principal == r.Principal) &&
		(s.Status == "" || s.Status == r.Status)
}

// Active reports whether the suppression still holds at now: through the
// whole of its Until day, UTC.
func (s Suppression) Active(now time.Time) bool {
	if s.Permanent {
		return true
	}
	until, err := time.Parse(time.DateOnly, s.Until)
	return err == nil && now.Before(until.AddDate(0, 0, 1))
}

// Record is what a suppressed result carries.
func (s Suppression) Record() *result.Suppressed {
	until := s.Until
	if s.Permanent {
		until = "permanent"
	}
	return &result.Suppressed{Reason: s.Reason, Owner: s.Owner, Until: until}
}

// Principals names the roles that call Bedrock: everywhere, below an OU, or
// in one account. The sets add up, as required models do.
type Principals struct {
	PrincipalSet `yaml:",inline"`
	ByOU         map[string]PrincipalSet `yaml:"by_ou"`
	ByAccount    map[string]PrincipalSet `yaml:"by_account"`
}

// PrincipalSet is one way or more of naming roles, and how they call Bedrock.
type PrincipalSet struct {
	// Roles are role names, looked up in each account.
	Roles []string `yaml:"roles"`
	// ARNTemplates are role ARNs with {account} where the account id goes.
	ARNTemplates []string `yaml:"arn_templates"`
	// Tag is "key=value": every role of the account carrying it is evaluated.
	Tag string `yaml:"tag"`
	// Actions are the calls the roles make: "invoke" (InvokeModel and
	// Converse, the default) and "stream" (InvokeModelWithResponseStream and
	// ConverseStream).
	Actions []string `yaml:"actions"`
	// Auth is how the roles' applications authenticate: "iam" (SigV4, the
	// default) and "api_key" (a Bedrock API key, which also needs
	// bedrock:CallWithBearerToken).
	Auth []string `yaml:"auth"`
	// Context are condition keys only the callers' requests carry (such as
	// aws:SourceVpce), passed to every simulation of these roles.
	Context []ContextEntry `yaml:"context"`
	// Parts are the sets For merged, each with its own actions, auth and
	// context; empty for a set read from the configuration.
	Parts []PrincipalSet `yaml:"-"`
}

// The values of PrincipalSet.Actions and PrincipalSet.Auth.
const (
	ActionInvoke = "invoke"
	ActionStream = "stream"
	AuthIAM      = "iam"
	AuthAPIKey   = "api_key"
)

// ContextEntry is one condition key and its values, as
// SimulatePrincipalPolicy's ContextEntries take them.
type ContextEntry struct {
	Name string `yaml:"name"`
	// Type is the ContextKeyType: string, stringList, numeric, numericList,
	// boolean, booleanList, ip, ipList, binary, binaryList, date, dateList.
	Type   string   `yaml:"type"`
	Values []string `yaml:"values"`
}

// contextKeyTypes are the ContextKeyTypeEnum values of the IAM API
// reference (ContextEntry).
var contextKeyTypes = []string{"string", "stringList", "numeric", "numericList", "boolean", "booleanList", "ip", "ipList", "binary", "binaryList", "date", "dateList"}

// ReservedContextKeys are the keys grantwatch sets itself for every
// simulation; a configured entry may not override them.
var ReservedContextKeys = []string{"aws:RequestedRegion", "aws:PrincipalArn", "aws:PrincipalAccount", "bedrock:InferenceProfileArn", "aws-marketplace:ProductId"}

var contextKeyPattern = regexp.MustCompile(`^[a-zA-Z0-9-]+:[a-zA-Z0-9_./${}*-]+$`)

// Configured reports whether any principal is named anywhere.
func (p Principals) Configured() bool {
	if !p.PrincipalSet.Empty() {
		return true
	}
	for _, s := range p.ByOU {
		if !s.Empty() {
			return true
		}
	}
	for _, s := range p.ByAccount {
		if !s.Empty() {
			return true
		}
	}
	return false
}

// UsesTags reports whether any set discovers roles by tag.
func (p Principals) UsesTags() bool {
	if p.Tag != "" {
		return true
	}
	for _, s := range p.ByOU {
		if s.Tag != "" {
			return true
		}
	}
	for _, s := range p.ByAccount {
		if s.Tag != "" {
			return true
		}
	}
	return false
}

// Empty reports whether the set names no role.
func (s PrincipalSet) Empty() bool {
	return len(s.Roles) == 0 && len(s.ARNTemplates) == 0 && s.Tag == ""
}

// For is the union of the sets that apply to an account below ous; Parts
// keeps each non-empty set, the top level first and the account's last, so
// that each role keeps the actions, auth and context of the sets naming it.
func (p Principals) For(account string, ous []string) PrincipalSet {
	out := p.PrincipalSet
	out.Roles, out.ARNTemplates = slices.Clone(out.Roles), slices.Clone(out.ARNTemplates)
	out.Parts = nil
	if !p.PrincipalSet.Empty() {
		out.Parts = append(out.Parts, p.PrincipalSet)
	}
	add := func(s PrincipalSet) {
		if !s.Empty() {
			out.Parts = append(out.Parts, s)
		}
		out.Roles = append(out.Roles, s.Roles...)
		out.ARNTemplates = append(out.ARNTemplates, s.ARNTemplates...)
		if out.Tag == "" {
			out.Tag = s.Tag
		}
	}
	for _, ou := range ous {
		add(p.ByOU[ou])
	}
	add(p.ByAccount[account])
	slices.Sort(out.Roles)
	out.Roles = slices.Compact(out.Roles)
	slices.Sort(out.ARNTemplates)
	out.ARNTemplates = slices.Compact(out.ARNTemplates)
	return out
}

// TagPair splits a tag given as "key=value".
func TagPair(tag string) (key, value string) {
	key, value, _ = strings.Cut(tag, "=")
	return key, value
}

// Alerts says how loudly each status is alerted.
type Alerts struct {
	// Severity overrides the default severity of statuses (README, "Statuses").
	Severity result.Severities `yaml:"severity"`
	// MarketplaceDeniedCritical makes an account's AGREEMENT_MISSING
	// critical when one of its principals reads MARKETPLACE_DENIED. Off by
	// default: since models are enabled on first use, whoever calls first
	// subscribes, and that need not be the denied principal.
	MarketplaceDeniedCritical bool `yaml:"marketplace_denied_critical"`
}

// History is where audit results are kept.
type History struct {
	// Table is the DynamoDB table name; empty keeps no history (and sends no alerts).
	Table string `yaml:"table"`
	// Retention is how long records live before DynamoDB's TTL removes them.
	Retention Duration `yaml:"retention"`
}

// Notify is where alerts go.
type Notify struct {
	// TopicARN is the SNS topic; empty sends nothing.
	TopicARN string `yaml:"topic_arn"`
	// ReminderInterval is how long a model may stay not usable before it is alerted again.
	ReminderInterval Duration `yaml:"reminder_interval"`
	// Chat also gives HTTPS subscribers (AWS Chatbot) each message as a
	// chat notification; email and SQS subscribers keep the text.
	Chat bool `yaml:"chat"`
}

// Accounts says which accounts are audited.
type Accounts struct {
	// Static lists account ids audited whether or not Organizations is used.
	Static        []string      `yaml:"static"`
	Organizations Organizations `yaml:"organizations"`
	// Exclude removes accounts from both sources.
	Exclude []string `yaml:"exclude"`
}

// Organizations configures account discovery through AWS Organizations.
type Organizations struct {
	Enabled bool `yaml:"enabled"`
	// OUs keeps only accounts below one of these OUs, nested OUs included.
	OUs []string `yaml:"ous"`
	// Tags keeps only accounts that carry every one of these tags.
	Tags map[string]string `yaml:"tags"`
}

// Models says which models must be usable. The lists add up: an account must
// have the global models, those of every OU above it and its own.
type Models struct {
	Required  []string            `yaml:"required"`
	ByOU      map[string][]string `yaml:"by_ou"`
	ByAccount map[string][]string `yaml:"by_account"`
}

// Role is the read-only audit role assumed in each account.
type Role struct {
	// Name is the role name; ARNTemplate wins when both are set.
	Name string `yaml:"name"`
	// ARNTemplate is a role ARN with {account} where the account id goes.
	ARNTemplate     string   `yaml:"arn_template"`
	ExternalID      string   `yaml:"external_id"`
	SessionName     string   `yaml:"session_name"`
	SessionDuration Duration `yaml:"session_duration"`
}

// Limits bound how hard the audit presses on AWS.
type Limits struct {
	// Concurrency is the most API calls in flight in the whole run.
	Concurrency int `yaml:"concurrency"`
	// PerAccountRegion is the most calls in flight for one account in one region,
	// so that one throttled account cannot hold every slot.
	PerAccountRegion int `yaml:"per_account_region"`
	// MaxAttempts is the SDK's attempts per call, first try included.
	MaxAttempts int `yaml:"max_attempts"`
	// CallTimeout bounds one call, its retries included.
	CallTimeout Duration `yaml:"call_timeout"`
	// AttemptTimeout bounds one attempt of a call (one HTTP request and its
	// answer), so that a call's attempts and the waits between them fit in
	// CallTimeout.
	AttemptTimeout Duration `yaml:"attempt_timeout"`
	// MaxBackoff caps the SDK's wait between two attempts.
	MaxBackoff Duration `yaml:"max_backoff"`
}

// Defaults, documented in the README.
const (
	DefaultRoleName         = "GrantwatchAudit"
	DefaultSessionName      = "grantwatch"
	DefaultSessionDuration  = 15 * time.Minute
	DefaultConcurrency      = 64
	DefaultPerAccountRegion = 4
	DefaultMaxAttempts      = 5
	DefaultCallTimeout      = 60 * time.Second
	DefaultAttemptTimeout   = 5 * time.Second
	DefaultMaxBackoff       = 20 * time.Second
	DefaultPendingGrace     = 30 * time.Minute
	DefaultRetention        = 400 * 24 * time.Hour
	DefaultReminder         = 7 * 24 * time.Hour
)

// Upper bounds, so that a typo cannot overflow a worker count or make a run
// wait for hours.
const (
	MaxConcurrency      = 4096
	MaxPerAccountRegion = 64
	MaxAttempts         = 20
	MaxCallTimeout      = 10 * time.Minute
	MaxBackoff          = 5 * time.Minute
	// MinSessionDuration and MaxSessionDuration bound role.session_duration:
	// STS's minimum, and the 1-hour cap AWS puts on role chaining (the
	// auditor's own credentials are a role session).
	MinSessionDuration = 15 * time.Minute
	MaxSessionDuration = time.Hour
)

// Duration is a time.Duration written as "90s", "15m", "2h" or "7d" in YAML.
type Duration time.Duration

// UnmarshalYAML accepts Go duration strings, and whole days as "7d".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: want a duration such as \"15m\": %w", n.Line, err)
	}
	v, err := ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: want a duration such as \"15m\" or \"7d\", got %q", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// ParseDuration is time.ParseDuration that also takes whole days ("400d").
func ParseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100000 {
			return 0, fmt.Errorf("bad number of days %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// MarshalYAML writes the duration back as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// MaxFileBytes bounds the configuration file: a real one is a few kilobytes,
// and a huge one would take the parser seconds per run.
const MaxFileBytes = 1 << 20

// Load reads, defaults and validates the file at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if len(b) > MaxFileBytes {
		return nil, fmt.Errorf("config %s: larger than %d bytes; a grantwatch configuration is a few kilobytes", path, MaxFileBytes)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes YAML strictly (unknown keys are errors), applies defaults and validates.
func Parse(b []byte) (*Config, error) {
	if len(b) > MaxFileBytes {
		return nil, fmt.Errorf("config: larger than %d bytes; a grantwatch configuration is a few kilobytes", MaxFileBytes)
	}
	var c Config
	if err := DecodeStrict(b, &c, "config"); err != nil {
		return nil, err
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// DecodeStrict decodes exactly one YAML document into v, refusing keys v does
// not have; what names the input in errors ("config", "scenario").
// The file is parsed once into a node tree whose keys are checked per
// mapping with a set (checkKeys), so that refusing it is linear in its size.
func DecodeStrict(b []byte, v any, what string) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s is empty", what)
		}
		return fmt.Errorf("parse yaml: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("parse yaml: more than one document; want exactly one")
	}
	if err := checkKeys(&root, reflect.TypeOf(v)); err != nil {
		return err
	}
	// The keys are known and unique now; yaml.v3 still checks aliases.
	strict := yaml.NewDecoder(bytes.NewReader(b))
	strict.KnownFields(true)
	if err := strict.Decode(v); err != nil {
		return fmt.Errorf("parse yaml: %w", err)
	}
	return nil
}

// ApplyDefaults fills every unset field that has a default.
func (c *Config) ApplyDefaults() {
	if c.Role.Name == "" && c.Role.ARNTemplate == "" {
		c.Role.Name = DefaultRoleName
	}
	if c.Role.SessionName == "" {
		c.Role.SessionName = DefaultSessionName
	}
	if c.Role.SessionDuration == 0 {
		c.Role.SessionDuration = Duration(DefaultSessionDuration)
	}
	if c.Limits.Concurrency == 0 {
		c.Limits.Concurrency = DefaultConcurrency
	}
	if c.Limits.PerAccountRegion == 0 {
		c.Limits.PerAccountRegion = DefaultPerAccountRegion
	}
	if c.Limits.MaxAttempts == 0 {
		c.Limits.MaxAttempts = DefaultMaxAttempts
	}
	if c.Limits.CallTimeout == 0 {
		c.Limits.CallTimeout = Duration(DefaultCallTimeout)
	}
	if c.Limits.MaxBackoff == 0 {
		c.Limits.MaxBackoff = Duration(DefaultMaxBackoff)
	}
	if c.Limits.AttemptTimeout == 0 {
		c.Limits.AttemptTimeout = Duration(DefaultAttemptTimeout)
	}
	if c.PendingGrace == 0 {
		c.PendingGrace = Duration(DefaultPendingGrace)
	}
	if c.History.Retention == 0 {
		c.History.Retention = Duration(DefaultRetention)
	}
	if c.Notify.ReminderInterval == 0 {
		c.Notify.ReminderInterval = Duration(DefaultReminder)
	}
	c.applyRemediationDefaults()
}

var (
	accountIDPattern   = regexp.MustCompile(`^[0-9]{12}$`)
	ouIDPattern        = regexp.MustCompile(`^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$`)
	roleNamePattern    = regexp.MustCompile(`^[\w+=,.@/-]{1,64}$`)
	sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	tableNamePattern   = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)
	topicARNPattern    = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[a-zA-Z0-9_-]{1,256}$`)
	modelIDPattern     = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._:/-]{0,255}$`)
)

// scoped checks the per-OU and per-account settings of section (models,
// principals): each key must be an OU id or an account id, and each value
// passes check, with fields named section.by_ou[<id>] and
// section.by_account[<id>], in key order.
func scoped[T any](bad func(field, format string, args ...any), section string, byOU, byAccount map[string]T, check func(field string, v T)) {
	for _, ou := range slices.Sorted(maps.Keys(byOU)) {
		field := fmt.Sprintf("%s.by_ou[%s]", section, ou)
		if !ouIDPattern.MatchString(ou) {
			bad(field, "%q is not an OU id like ou-ab12-cd34ef56", ou)
		}
		check(field, byOU[ou])
	}
	for _, id := range slices.Sorted(maps.Keys(byAccount)) {
		field := fmt.Sprintf("%s.by_account[%s]", section, id)
		if !accountIDPattern.MatchString(id) {
			bad(field, "account id %q is not 12 digits", id)
		}
		check(field, byAccount[id])
	}
}

// checkPinnedModels: an inference profile ARN names its account, and only
// that account can call it (an application profile is the account's own; a
// system profile's ARN carries the caller's account). Required anywhere
// but models.by_account[its account], or for an account never audited, it
// would be checked nowhere or reported for accounts that cannot call it:
// each such place is a configuration error.
func (c *Config) checkPinnedModels(bad func(field, format string, args ...any)) {
	advice := func(ref Model) string {
		if ref.Kind == SystemProfile {
			return fmt.Sprintf("require the profile id %s instead, which every account calls by that id", ref.ProfileID)
		}
		return fmt.Sprintf("list it under models.by_account[%s]", ref.Account)
	}
	pinned := func(field string, ids []string, owner string) {
		for i, m := range ids {
			ref, err := ParseModel(m)
			if err != nil || ref.Account == "" {
				continue
			}
			f := fmt.Sprintf("%s[%d]", field, i)
			switch {
			case owner == "":
				bad(f, "the inference profile ARN %s belongs to account %s and can be called only there, but %s requires it of every account in scope: %s", m, ref.Account, field, advice(ref))
			case owner != ref.Account:
				bad(f, "the inference profile ARN %s belongs to account %s, not %s, which cannot call it: %s", m, ref.Account, owner, advice(ref))
			case slices.Contains(c.Accounts.Exclude, owner):
				bad(f, "account %s is in accounts.exclude, so its inference profile ARN %s would never be checked", owner, m)
			case !c.Accounts.Organizations.Enabled && !slices.Contains(c.Accounts.Static, owner):
				bad(f, "account %s is not in accounts.static (and accounts.organizations is not enabled), so its inference profile ARN %s would never be checked", owner, m)
			}
		}
	}
	pinned("models.required", c.Models.Required, "")
	for _, ou := range slices.Sorted(maps.Keys(c.Models.ByOU)) {
		pinned(fmt.Sprintf("models.by_ou[%s]", ou), c.Models.ByOU[ou], "")
	}
	for _, id := range slices.Sorted(maps.Keys(c.Models.ByAccount)) {
		pinned(fmt.Sprintf("models.by_account[%s]", id), c.Models.ByAccount[id], id)
	}
}

// Validate reports every problem found, each naming the field and the value.
func (c *Config) Validate() error {
	var errs []error
	problems := 0 // all of them; errs keeps the first maxProblemsListed
	bad := func(field string, format string, args ...any) {
		if problems++; problems <= maxProblemsListed {
			errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
		}
	}

	c.validateSizes(bad)
	if len(c.Accounts.Static) == 0 && !c.Accounts.Organizations.Enabled {
		bad("accounts", "no accounts: list accounts.static or set accounts.organizations.enabled")
	}
	checkAccounts := func(field string, ids []string) {
		seen := map[string]bool{}
		for i, id := range ids {
			switch {
			case !accountIDPattern.MatchString(id):
				bad(fmt.Sprintf("%s[%d]", field, i), "account id %q is not 12 digits", id)
			case seen[id]:
				bad(fmt.Sprintf("%s[%d]", field, i), "account id %q is listed twice", id)
			}
			seen[id] = true
		}
	}
	checkAccounts("accounts.static", c.Accounts.Static)
	checkAccounts("accounts.exclude", c.Accounts.Exclude)
	org := c.Accounts.Organizations
	if !org.Enabled && (len(org.OUs) > 0 || len(org.Tags) > 0) {
		bad("accounts.organizations", "ous or tags are set but enabled is false")
	}
	for i, ou := range org.OUs {
		if !ouIDPattern.MatchString(ou) {
			bad(fmt.Sprintf("accounts.organizations.ous[%d]", i), "%q is not an OU id like ou-ab12-cd34ef56", ou)
		}
	}
	for k := range org.Tags {
		if k == "" {
			bad("accounts.organizations.tags", "empty tag key")
		}
	}

	if len(c.Regions) == 0 {
		bad("regions", "no regions: list at least one, such as us-east-1")
	}
	seenRegion := map[string]bool{}
	for i, r := range c.Regions {
		switch {
		case !KnownRegion(r):
			bad(fmt.Sprintf("regions[%d]", i), "unknown region %q", r)
		case seenRegion[r]:
			bad(fmt.Sprintf("regions[%d]", i), "region %q is listed twice", r)
		case Partition(r) != Partition(c.Regions[0]):
			bad(fmt.Sprintf("regions[%d]", i), "region %q is in partition %s but regions[0] %q is in %s: credentials do not cross partitions, so deploy one grantwatch per partition",
				r, Partition(r), c.Regions[0], Partition(c.Regions[0]))
		}
		seenRegion[r] = true
	}

	checkModels := func(field string, ids []string) {
		if len(ids) == 0 {
			bad(field, "empty model list")
		}
		for i, m := range ids {
			f := fmt.Sprintf("%s[%d]", field, i)
			if !modelIDPattern.MatchString(m) {
				bad(f, "%q is not a model id such as anthropic.claude-3-5-sonnet-20240620-v1:0, an inference profile id such as us.anthropic.claude-sonnet-4-5-20250929-v1:0, or an inference profile ARN", m)
				continue
			}
			ref, err := ParseModel(m)
			switch {
			case err != nil:
				bad(f, "%v", err)
			case ref.Region != "" && !slices.Contains(c.Regions, ref.Region):
				bad(f, "the ARN's region %s is not among regions %v: it would never be checked", ref.Region, c.Regions)
			case ref.Partition != "" && len(c.Regions) > 0 && ref.Partition != Partition(c.Regions[0]):
				bad(f, "the ARN is in partition %s, the audited regions in %s", ref.Partition, Partition(c.Regions[0]))
			}
		}
	}
	if len(c.Models.Required) == 0 && len(c.Models.ByOU) == 0 && len(c.Models.ByAccount) == 0 {
		bad("models.required", "empty model list: require at least one model")
	}
	if len(c.Models.Required) > 0 {
		checkModels("models.required", c.Models.Required)
	}
	scoped(bad, "models", c.Models.ByOU, c.Models.ByAccount, checkModels)
	c.checkPinnedModels(bad)

	r := c.Role
	switch {
	case r.ARNTemplate != "":
		if !strings.Contains(r.ARNTemplate, "{account}") {
			bad("role.arn_template", "%q has no {account} placeholder", r.ARNTemplate)
		} else if !strings.HasPrefix(r.ARNTemplate, "arn:") || !strings.Contains(r.ARNTemplate, ":role/") {
			bad("role.arn_template", "%q is not a role ARN such as arn:aws:iam::{account}:role/GrantwatchAudit", r.ARNTemplate)
		}
	case !roleNamePattern.MatchString(r.Name):
		bad("role.name", "%q is not an IAM role name", r.Name)
	}
	if !sessionNamePattern.MatchString(r.SessionName) {
		bad("role.session_name", "%q is not a valid session name (2-64 of letters, digits and +=,.@-)", r.SessionName)
	}
	if d := r.SessionDuration.Std(); d < MinSessionDuration || d > MaxSessionDuration {
		bad("role.session_duration", "%s is outside 15m to 1h: the auditor assumes the member role with a role's credentials (role chaining), and AWS caps such sessions at 1 hour", d)
	}

	l := c.Limits
	positive := func(field string, v int) {
		if v <= 0 {
			bad(field, "%d must be a positive number", v)
		}
	}
	atMost := func(field string, v, limit int) {
		if v > limit {
			bad(field, "%d is more than %d", v, limit)
		}
	}
	within := func(field string, d Duration, lo, hi time.Duration) {
		if d.Std() < lo || d.Std() > hi {
			bad(field, "%s is outside %s to %s", d.Std(), lo, hi)
		}
	}
	positive("limits.concurrency", l.Concurrency)
	atMost("limits.concurrency", l.Concurrency, MaxConcurrency)
	positive("limits.per_account_region", l.PerAccountRegion)
	atMost("limits.per_account_region", l.PerAccountRegion, MaxPerAccountRegion)
	positive("limits.max_attempts", l.MaxAttempts)
	atMost("limits.max_attempts", l.MaxAttempts, MaxAttempts)
	within("limits.call_timeout", l.CallTimeout, 10*time.Millisecond, MaxCallTimeout)
	within("limits.max_backoff", l.MaxBackoff, time.Millisecond, MaxBackoff)
	within("limits.attempt_timeout", l.AttemptTimeout, 10*time.Millisecond, MaxCallTimeout)
	// A throttled call takes its attempts and the waits between them: a
	// call timeout shorter than both would report throttling as a timeout.
	if l.MaxAttempts > 0 && l.MaxAttempts <= MaxAttempts && l.MaxBackoff > 0 && l.AttemptTimeout > 0 {
		if worst, waits := l.WorstCall(), l.WorstBackoff(); l.CallTimeout.Std() <= worst {
			bad("limits.call_timeout", "%s is not longer than the %s a throttled call may take: %d attempts of up to %s each (limits.max_attempts, limits.attempt_timeout) and %s of waits between them (limits.max_backoff): a throttled call would be reported as a timeout",
				l.CallTimeout.Std(), worst, l.MaxAttempts, l.AttemptTimeout.Std(), waits)
		}
	}
	within("pending_grace", c.PendingGrace, 0, 30*24*time.Hour)
	if t := c.History.Table; t != "" && !tableNamePattern.MatchString(t) {
		bad("history.table", "%q is not a DynamoDB table name (3-255 of letters, digits, _ . -)", t)
	}
	if c.History.Retention < Duration(24*time.Hour) {
		bad("history.retention", "%s is shorter than a day", c.History.Retention.Std())
	}
	if arn := c.Notify.TopicARN; arn != "" {
		if !topicARNPattern.MatchString(arn) {
			bad("notify.topic_arn", "%q is not an SNS topic ARN such as arn:aws:sns:us-east-1:123456789012:grantwatch", arn)
		} else if c.History.Table == "" {
			bad("notify.topic_arn", "alerts need history.table: grantwatch alerts on changes, and changes need the last state")
		}
	}
	within("notify.reminder_interval", c.Notify.ReminderInterval, time.Hour, 365*24*time.Hour)
	checkPrincipals := func(field string, s PrincipalSet) {
		for i, name := range s.Roles {
			if !roleNamePattern.MatchString(name) || strings.Contains(name, "/") {
				bad(fmt.Sprintf("%s.roles[%d]", field, i), "%q is not a role name such as BedrockAppRole", name)
			}
		}
		for i, t := range s.ARNTemplates {
			f := fmt.Sprintf("%s.arn_templates[%d]", field, i)
			switch {
			case !strings.Contains(t, "{account}"):
				bad(f, "%q has no {account} placeholder", t)
			case !strings.HasPrefix(t, "arn:") || !strings.Contains(t, ":iam::{account}:role/"):
				bad(f, "%q is not a role ARN such as arn:aws:iam::{account}:role/apps/BedrockAppRole", t)
			}
		}
		if k, v := TagPair(s.Tag); s.Tag != "" && (k == "" || v == "" || !strings.Contains(s.Tag, "=")) {
			bad(field+".tag", "%q is not key=value, such as grantwatch:bedrock-caller=true", s.Tag)
		}
		if s.Empty() && (len(s.Actions) > 0 || len(s.Auth) > 0 || len(s.Context) > 0) {
			bad(field, "actions, auth and context apply to the roles of the same set, and it names none (give roles, arn_templates or tag)")
		}
		oneOf(bad, field+".actions", s.Actions, ActionInvoke, ActionStream)
		oneOf(bad, field+".auth", s.Auth, AuthIAM, AuthAPIKey)
		checkContext(bad, field+".context", s.Context)
	}
	for i, sp := range c.Suppressions {
		field := fmt.Sprintf("suppressions[%d]", i)
		if sp.Account == "" && sp.OU == "" && sp.Region == "" && sp.Model == "" && sp.Principal == "" && sp.Status == "" {
			bad(field, "selects every check: give at least one of account, ou, region, model, principal, status")
		}
		if sp.Account != "" && !accountIDPattern.MatchString(sp.Account) {
			bad(field+".account", "%q is not 12 digits", sp.Account)
		}
		if sp.OU != "" && !ouIDPattern.MatchString(sp.OU) {
			bad(field+".ou", "%q is not an OU id like ou-ab12-cd34ef56", sp.OU)
		}
		if sp.Region != "" && !KnownRegion(sp.Region) {
			bad(field+".region", "unknown region %q", sp.Region)
		}
		if sp.Status != "" && !slices.Contains(result.Statuses, sp.Status) {
			bad(field+".status", "unknown status %q", sp.Status)
		}
		if strings.TrimSpace(sp.Reason) == "" {
			bad(field+".reason", "empty: say why the finding is accepted")
		}
		if strings.TrimSpace(sp.Owner) == "" {
			bad(field+".owner", "empty: name who answers for it")
		}
		// Validation reads the clock here: a date only comes nearer, so a
		// configuration accepted once stays accepted.
		until, err := time.Parse(time.DateOnly, sp.Until)
		switch {
		case sp.Permanent && sp.Until != "":
			bad(field+".until", "%q is set with permanent: true; give one of them", sp.Until)
		case sp.Permanent:
		case err != nil:
			bad(field+".until", "%q is not a date such as 2027-03-31 (or set permanent: true, with a reason)", sp.Until)
		case until.After(time.Now().Add(MaxSuppressionAhead)):
			bad(field+".until", "%s is more than a year ahead (config.MaxSuppressionAhead): renew a time-boxed suppression when it ends, or set permanent: true instead of until, with a reason", sp.Until)
		}
	}
	checkPrincipals("principals", c.Principals.PrincipalSet)
	scoped(bad, "principals", c.Principals.ByOU, c.Principals.ByAccount, checkPrincipals)
	for _, st := range slices.Sorted(maps.Keys(c.Alerts.Severity)) {
		field := fmt.Sprintf("alerts.severity[%s]", st)
		switch sev := c.Alerts.Severity[st]; {
		case !slices.Contains(result.Statuses, st):
			bad(field, "unknown status %q; statuses are %v", st, result.Statuses)
		case st.Usable():
			bad(field, "%s is never alerted (only as resolved)", st)
		case !slices.Contains(result.SeverityLevels, sev):
			bad(field, "%q is not one of %v", sev, result.SeverityLevels)
		}
	}
	for _, err := range c.validateRemediation() {
		if problems++; problems <= maxProblemsListed {
			errs = append(errs, err)
		}
	}
	if problems > maxProblemsListed {
		errs = append(errs, fmt.Errorf("and %d more problems", problems-maxProblemsListed))
	}
	return errors.Join(errs...)
}

// maxProblemsListed is how many problems Validate names; the rest are counted.
const maxProblemsListed = 50

// ValidAccountID reports whether id is an AWS account id: 12 digits.
func ValidAccountID(id string) bool { return accountIDPattern.MatchString(id) }

// WorstBackoff is the longest the SDK's standard retryer may wait in all
// between l.MaxAttempts attempts of a throttled call: a base of 1 s doubled
// each retry and capped at l.MaxBackoff (retry.NewStandard, aws-sdk-go-v2
// v1.48 aws/retry/jitter_backoff.go; the jitter only shortens it).
func (l Limits) WorstBackoff() time.Duration {
	var total time.Duration
	for i := range max(l.MaxAttempts-1, 0) {
		total += min(time.Second<<min(i, 30), l.MaxBackoff.Std())
	}
	return total
}

// WorstCall is the longest a call may take before its last attempt's
// answer: every attempt up to l.AttemptTimeout and the waits between them.
func (l Limits) WorstCall() time.Duration {
	return time.Duration(l.MaxAttempts)*l.AttemptTimeout.Std() + l.WorstBackoff()
}

// RoleARN returns the audit role ARN for account, in the partition of the
// audited regions.
func (c *Config) RoleARN(account string) string {
	if c.Role.ARNTemplate != "" {
		return strings.ReplaceAll(c.Role.ARNTemplate, "{account}", account)
	}
	return RoleARN(c.Partition(), account, c.Role.Name)
}

// Partition is the partition of the audited regions (validated to be one).
func (c *Config) Partition() string {
	if len(c.Regions) == 0 {
		return "aws"
	}
	return Partition(c.Regions[0])
}

// oneOf checks a list of keywords: each one of allowed, none twice.
func oneOf(bad func(field, format string, args ...any), field string, values []string, allowed ...string) {
	for i, v := range values {
		switch {
		case !slices.Contains(allowed, v):
			bad(fmt.Sprintf("%s[%d]", field, i), "%q is not one of %s", v, strings.Join(allowed, ", "))
		case slices.Index(values, v) < i:
			bad(fmt.Sprintf("%s[%d]", field, i), "%q is listed twice", v)
		}
	}
}

// checkContext checks configured context entries as SimulatePrincipalPolicy
// would read them: a key name, a ContextKeyType, and values of that type
// (one for a single-valued type).
func checkContext(bad func(field, format string, args ...any), field string, entries []ContextEntry) {
	seen := map[string]bool{}
	for i, e := range entries {
		f := fmt.Sprintf("%s[%d]", field, i)
		lower := strings.ToLower(e.Name)
		switch {
		case !contextKeyPattern.MatchString(e.Name):
			bad(f+".name", "%q is not a condition key such as aws:SourceVpce", e.Name)
		case slices.ContainsFunc(ReservedContextKeys, func(k string) bool { return strings.EqualFold(k, e.Name) }):
			bad(f+".name", "%s is set by grantwatch for every simulation; leave it out", e.Name)
		case seen[lower]:
			bad(f+".name", "%s is listed twice (condition keys are case-insensitive)", e.Name)
		}
		seen[lower] = true
		if !slices.Contains(contextKeyTypes, e.Type) {
			bad(f+".type", "%q is not one of %s", e.Type, strings.Join(contextKeyTypes, ", "))
			continue
		}
		switch {
		case len(e.Values) == 0:
			bad(f+".values", "empty: give the value the callers' requests carry")
		case !strings.HasSuffix(e.Type, "List") && len(e.Values) > 1:
			bad(f+".values", "%d values for the single-valued type %s; use %sList", len(e.Values), e.Type, e.Type)
		}
		for j, v := range e.Values {
			if err := contextValue(strings.TrimSuffix(e.Type, "List"), v); err != nil {
				bad(fmt.Sprintf("%s.values[%d]", f, j), "%q: %v", v, err)
			}
		}
	}
}

// contextValue checks one value of a context key type.
func contextValue(typ, v string) error {
	switch typ {
	case "numeric":
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return errors.New("not a number")
		}
	case "boolean":
		if v != "true" && v != "false" {
			return errors.New("not true or false")
		}
	case "ip":
		if _, err := netip.ParsePrefix(v); err != nil {
			if _, err := netip.ParseAddr(v); err != nil {
				return errors.New("not an IP address or CIDR block")
			}
		}
	case "date":
		if _, err := time.Parse(time.RFC3339, v); err != nil {
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				return errors.New("not a date such as 2026-11-30T00:00:00Z (or epoch seconds)")
			}
		}
	case "string", "binary":
		if v == "" {
			return errors.New("empty")
		}
	}
	return nil
}
