// Package config reads and validates the grantwatch configuration file, the same
// file for the command line and the Lambda function.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
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
