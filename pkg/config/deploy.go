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
	// Why is what the audit needs it for, the deploy page's "why" column
	// (docs/deploying.md's member-actions section is generated from this
	// list: go test ./pkg/config -run DeployPage -update).
	Why string
}

// MemberReadActions are the calls grantwatch makes with the audit role in a
// member account, in the order a check makes them: the one list the member
// stack grants (infra), the AccessDenied remediation names (pkg/check) and
// the deploy page's table is generated from (TestDeployPageMatchesMemberReadActions).
// The principal checks' IAM reads, granted only with principals configured,
// are the stack's own.
var MemberReadActions = []MemberAction{
	{Action: "bedrock:ListFoundationModels", Scope: ScopeAny,
		Why: "the region's models, lifecycle and inference types; no resource-level permissions"},
	{Action: "bedrock:GetFoundationModelAvailability", Scope: ScopeAny,
		Why: "agreement, authorization, entitlement, region; no resource-level permissions"},
	{Action: "bedrock:ListInferenceProfiles", Scope: ScopeAny,
		Why: "the region's system inference profiles; no resource-level permissions"},
	{Action: "bedrock:GetInferenceProfile", Scope: ScopeOwnApplicationProfiles,
		Why: "the required application profile ARNs; scoped to the account's own application profiles (system profiles are read with `ListInferenceProfiles`, never with this)"},
	{Action: "bedrock:GetUseCaseForModelAccess", Scope: ScopeAny,
		Why: "whether the Anthropic use-case form is on file; no resource-level permissions"},
	// ledger: ACC-list-regions
	{Action: "account:ListRegions", Scope: ScopeOwnAccount,
		Why: "which audited regions are opt-in (and which are not enabled) for the account, where the Anthropic use-case form is read again; the role asks about its own account only (the Service Authorization Reference lists the `account` resource type for it). The Account API is global, called in us-east-1: a region-deny SCP must exempt `account:ListRegions` for the audit role, or the form is read in every region and a warning says so"},
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
