package config

import (
	"strings"
)

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

// validateRole checks the audit role's name or ARN template and its session.
func (c *Config) validateRole(bad badFunc) {
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
