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
