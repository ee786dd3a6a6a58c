package config

import (
	"strings"
	"time"
)

// Names the stack and the functions it deploys share. The stack sets these
// environment variables and watches these metrics; the functions read and
// emit them. One constant each, so a rename cannot leave a function without
// its setting or an alarm silent.
const (
	// EnvConfig is the configuration file's path in the auditor function; by
	// default grantwatch.yaml next to the function's code (the stack bundles
	// it there).
	EnvConfig = "GRANTWATCH_CONFIG"
	// EnvTable names the history table; in the auditor it overrides
	// history.table.
	EnvTable = "GRANTWATCH_TABLE"
	// EnvTopic is the alert topic's ARN; it overrides notify.topic_arn.
	EnvTopic = "GRANTWATCH_TOPIC_ARN"
	// EnvReaders lists the governance readers of the history function,
	// comma-separated: role ARNs (any session of the role) or exact
	// principal ARNs.
	EnvReaders = "GRANTWATCH_GOVERNANCE_READERS"
	// EnvSecurityHub is "true" when the stack lets the auditor import
	// Security Hub findings; it overrides securityhub.enabled.
	EnvSecurityHub = "GRANTWATCH_SECURITY_HUB"
	// EnvBatchAccounts is how many accounts one batch of a sharded run
	// audits (the stack's grantwatch:batchAccounts; DefaultBatchAccounts
	// when unset).
	EnvBatchAccounts = "GRANTWATCH_BATCH_ACCOUNTS"
	// EnvHeartbeat sets how often an auditor attempt heartbeats (a Go
	// duration, 100ms to 1m); the stack sets none and the function uses
	// job.HeartbeatInterval. Tests set a short one so that a takeover does
	// not wait 30 s; a watcher waits for the longer of its own interval and
	// the one the holder recorded, so attempts with different settings
	// never misjudge each other.
	EnvHeartbeat = "GRANTWATCH_HEARTBEAT_INTERVAL"
)

// MetricNamespace is the CloudWatch namespace of the auditor's run metrics.
const MetricNamespace = "Grantwatch"

// The run metrics, one value per run, in MetricNamespace.
const (
	MetricRunsIncomplete    = "RunsIncomplete"
	MetricRunsFailed        = "RunsFailed"
	MetricDiscoveryFailed   = "DiscoveryFailed"
	MetricAuditErrors       = "AuditErrors"
	MetricNotUsable         = "NotUsable"
	MetricChecksDone        = "ChecksDone"
	MetricAlertsPublished   = "AlertsPublished"
	MetricAlertsUnpublished = "AlertsUnpublished"
)

// Metrics lists the run metrics in the order the auditor writes them.
var Metrics = []string{MetricRunsIncomplete, MetricRunsFailed, MetricDiscoveryFailed, MetricAuditErrors,
	MetricNotUsable, MetricChecksDone, MetricAlertsPublished, MetricAlertsUnpublished}

// List splits a comma-separated list, dropping blanks and the spaces around
// each item.
func List(s string) []string {
	var items []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// ShardedRunTimeout bounds a sharded run's state machine execution; the
// run's first step holds the run for as long, so that a second delivery of
// the schedule finds it busy rather than starting it again.
const ShardedRunTimeout = 6 * time.Hour

// The size of a sharded run's batches: the stack's grantwatch:batchAccounts
// sets it in EnvBatchAccounts, and both refuse a size outside 1 to
// MaxBatchAccounts. At 20 regions and 5 models, 50 accounts are about 10,000
// Bedrock calls, a few minutes of one invocation's 15.
const (
	DefaultBatchAccounts = 50
	MaxBatchAccounts     = 1000
)

// MemberScope is what the member (audit) role grants an action on.
type MemberScope string

// The scopes of the member role's read actions.
const (
	// ScopeAny is "*": the Service Authorization Reference lists no resource
	// type for the action, so nothing narrower works.
	ScopeAny MemberScope = "*"
	// ScopeOwnApplicationProfiles is the account's own application inference
	// profiles, in any region.
	ScopeOwnApplicationProfiles MemberScope = "application-inference-profile"
	// ScopeOwnAccount is the account's own account ARN.
	ScopeOwnAccount MemberScope = "account"
)

// MemberAction is one read the member role allows, and on what.
type MemberAction struct {
	Action string
	Scope  MemberScope
}

// MemberReadActions are the calls grantwatch makes with the audit role in a
// member account, in the order a check makes them: the one list the member
// stack grants (infra), the AccessDenied remediation names (pkg/check) and
// the deploy page's table lists (a test checks it). The principal checks'
// IAM reads, granted only with principals configured, are the stack's own.
var MemberReadActions = []MemberAction{
	{Action: "bedrock:ListFoundationModels", Scope: ScopeAny},
	{Action: "bedrock:GetFoundationModelAvailability", Scope: ScopeAny},
	{Action: "bedrock:ListInferenceProfiles", Scope: ScopeAny},
	{Action: "bedrock:GetInferenceProfile", Scope: ScopeOwnApplicationProfiles},
	{Action: "bedrock:GetUseCaseForModelAccess", Scope: ScopeAny},
	// ledger: ACC-list-regions
	{Action: "account:ListRegions", Scope: ScopeOwnAccount},
}

// MemberActions are the member role's read actions that keep, in the order
// of MemberReadActions.
func MemberActions(keep func(MemberAction) bool) []string {
	var out []string
	for _, a := range MemberReadActions {
		if keep(a) {
			out = append(out, a.Action)
		}
	}
	return out
}

// MemberActionsOf are the member role's read actions of one service
// ("bedrock"), in the order of MemberReadActions.
func MemberActionsOf(service string) []string {
	return MemberActions(func(a MemberAction) bool { return strings.HasPrefix(a.Action, service+":") })
}
