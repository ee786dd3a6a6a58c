package config

import (
	"fmt"
	"maps"
	"slices"

	"github.com/grantwatch/grantwatch/pkg/result"
)

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

// validateAlerts checks each severity override: a known status that is
// alerted, and a known level.
func (c *Config) validateAlerts(bad badFunc) {
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
}
