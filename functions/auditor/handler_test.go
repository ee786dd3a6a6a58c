package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/job"
	"github.com/grantwatch/grantwatch/pkg/result"
)

func TestScheduledAt(t *testing.T) {
	now := time.Date(2026, 11, 27, 6, 7, 8, 0, time.UTC)
	tests := []struct {
		name        string
		payload     string
		want        time.Time
		wantTrigger Trigger
		wantErr     string
	}{
		{"eventbridge rule", `{"version":"0","id":"a1","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2026-11-27T06:00:00Z","region":"us-east-1","resources":["arn:aws:events:us-east-1:123456789012:rule/grantwatch"],"detail":{}}`,
			time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC), Rule, ""},
		{"scheduler template", `{"scheduled_time":"2026-11-27T06:00:00Z"}`, time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC), Scheduler, ""},
		{"manual with a time", `{"scheduled_time":"2026-11-27T05:00:00+01:00","manual":true}`, time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC), Manual, ""},
		{"manual empty", `{}`, time.Date(2026, 11, 27, 6, 7, 0, 0, time.UTC), Manual, ""},
		{"manual flag only", `{"manual":true}`, time.Date(2026, 11, 27, 6, 7, 0, 0, time.UTC), Manual, ""},
		{"not an object", `"run"`, time.Time{}, "", `want a JSON object, got "\"run\""`},
		{"empty payload", ``, time.Time{}, "", "want a JSON object"},
		{"broken json", `{"scheduled_time":`, time.Time{}, "", "event: unexpected end of JSON input"},
		{"other event type", `{"detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","time":"2026-11-27T06:00:00Z"}`, time.Time{}, "", `detail-type "EC2 Instance State-change Notification" from source "aws.ec2"`},
		{"rule without time", `{"detail-type":"Scheduled Event","source":"aws.events"}`, time.Time{}, "", `has no "time"`},
		{"bad time", `{"scheduled_time":"tomorrow"}`, time.Time{}, "", `"scheduled_time" "tomorrow" is not an RFC 3339 time`},
		{"wrong type", `{"scheduled_time": 5}`, time.Time{}, "", "cannot unmarshal number"},
		{"unknown fields", `{"when":"now"}`, time.Time{}, "", "unrecognized fields [when]"},
		// EventBridge Scheduler's default event, sent when a schedule has no input.
		{"scheduler default event", `{"version":"0","id":"c4b6e4d0","detail-type":"Scheduled Event","source":"aws.scheduler","account":"123456789012","time":"2026-11-27T06:00:00Z","region":"us-east-1","resources":["arn:aws:scheduler:us-east-1:123456789012:schedule/default/grantwatch"],"detail":"{}"}`,
			time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC), Scheduler, ""},
		{"year 9999", `{"scheduled_time":"9999-12-31T00:00:00Z"}`, time.Time{}, "", `"scheduled_time" 9999-12-31T00:00:00Z is more than 1h0m0s after now`},
		{"year 1", `{"scheduled_time":"0001-01-01T00:00:00Z"}`, time.Time{}, "", `"scheduled_time" 0001-01-01T00:00:00Z is more than 7 days before now`},
		{"rule event from last month", `{"detail-type":"Scheduled Event","source":"aws.events","time":"2026-10-27T06:00:00Z"}`, time.Time{}, "", `"time" 2026-10-27T06:00:00Z is more than 7 days before now`},
		{"yesterday is a fine re-run", `{"scheduled_time":"2026-11-26T06:00:00Z"}`, time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC), Scheduler, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, trigger, err := ScheduledAt([]byte(tt.payload), now)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v; want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) || trigger != tt.wantTrigger {
				t.Errorf("got %v %s %v; want %v %s", got, trigger, err, tt.want, tt.wantTrigger)
			}
		})
	}
}

func TestSetupFailureIsReportedNotPanicked(t *testing.T) {
	t.Setenv(config.EnvConfig, "/nonexistent/grantwatch.yaml")
	var logs bytes.Buffer
	h := FromEnv(context.Background(), slog.New(slog.NewJSONHandler(&logs, nil)))
	_, err := h.Handle(context.Background(), json.RawMessage(`{}`))
	if err == nil || !strings.Contains(err.Error(), "grantwatch cannot run: read config") {
		t.Errorf("invocation: got %v; want the setup error", err)
	}
	if !strings.Contains(logs.String(), "configuration is invalid") {
		t.Errorf("log: got %q; want the setup error logged", &logs)
	}
}

func TestLoadConfigAppliesStackNames(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/grantwatch.yaml"
	writeFile(t, path, "accounts: {static: [\"111111111111\"]}\nregions: [us-east-1]\nmodels: {required: [m]}\n")
	t.Setenv(config.EnvConfig, path)
	t.Setenv(config.EnvTable, "grantwatch-Table1")
	t.Setenv(config.EnvTopic, "arn:aws:sns:eu-west-1:123456789012:grantwatch-Alerts")
	cfg, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.History.Table != "grantwatch-Table1" || cfg.Notify.TopicARN != "arn:aws:sns:eu-west-1:123456789012:grantwatch-Alerts" {
		t.Errorf("got table %q topic %q; want the stack's", cfg.History.Table, cfg.Notify.TopicARN)
	}
	t.Setenv(config.EnvTopic, "not-an-arn")
	if _, err := LoadConfig(); err == nil || !strings.Contains(err.Error(), "notify.topic_arn") {
		t.Errorf("bad topic from the environment: got %v; want an error naming notify.topic_arn", err)
	}
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// The metrics line is in CloudWatch Embedded Metric Format: the directive
// under _aws names the namespace and every metric, and each metric's value
// is a top-level field of the same name. A line CloudWatch cannot read
// leaves the stack's alarms silent.
func TestMetricsAreEmbeddedMetricFormat(t *testing.T) {
	var out bytes.Buffer
	h := &Handler{now: func() time.Time { return time.Unix(1_800_000_000, 0) }, metrics: &out}
	s := result.Summary{Checked: 12, NotUsable: 3, AuditErrs: 1, Incomplete: true}
	h.emitMetrics(&job.Outcome{RunID: "run-1", Report: &result.Report{Summary: s}, Published: 2, Unpublished: 1}, false)

	var line map[string]json.RawMessage
	if err := json.Unmarshal(out.Bytes(), &line); err != nil {
		t.Fatalf("metrics line %q: %v", &out, err)
	}
	var directive struct {
		Timestamp         int64 `json:"Timestamp"`
		CloudWatchMetrics []struct {
			Namespace  string     `json:"Namespace"`
			Dimensions [][]string `json:"Dimensions"`
			Metrics    []struct{ Name, Unit string }
		} `json:"CloudWatchMetrics"`
	}
	if err := json.Unmarshal(line["_aws"], &directive); err != nil || len(directive.CloudWatchMetrics) != 1 {
		t.Fatalf("_aws: got %s (%v); want one metric directive", line["_aws"], err)
	}
	d := directive.CloudWatchMetrics[0]
	if d.Namespace != config.MetricNamespace || directive.Timestamp != 1_800_000_000_000 {
		t.Errorf("directive: got namespace %q timestamp %d; want %q, 1800000000000", d.Namespace, directive.Timestamp, config.MetricNamespace)
	}
	var names []string
	for _, m := range d.Metrics {
		names = append(names, m.Name)
	}
	if !slices.Equal(names, config.Metrics) {
		t.Errorf("metrics: got %v; want %v", names, config.Metrics)
	}
	// One empty dimension set: the metrics have no dimensions, which the
	// dashboard and alarms read by namespace and name (ledger: CW-emf-no-dimensions).
	if len(d.Dimensions) != 1 || len(d.Dimensions[0]) != 0 || !bytes.Contains(line["_aws"], []byte(`"Dimensions":[[]]`)) {
		t.Errorf("dimensions: got %v in %s; want [[]]", d.Dimensions, line["_aws"])
	}
	for _, m := range d.Metrics {
		if m.Unit != "Count" {
			t.Errorf("%s: got unit %q; want Count", m.Name, m.Unit)
		}
	}
	want := map[string]int{config.MetricChecksDone: 12, config.MetricNotUsable: 3, config.MetricAuditErrors: 1,
		config.MetricRunsIncomplete: 1, config.MetricAlertsPublished: 2, config.MetricAlertsUnpublished: 1}
	for _, name := range config.Metrics {
		var v int
		if err := json.Unmarshal(line[name], &v); err != nil || v != want[name] {
			t.Errorf("%s: got %s; want %d", name, line[name], want[name])
		}
	}
}

func TestHeartbeatIntervalFromEnvironment(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		want    time.Duration
		wantErr bool
	}{
		{name: "unset: the product's interval", value: "", want: job.HeartbeatInterval},
		{name: "a test's short interval", value: "200ms", want: 200 * time.Millisecond},
		{name: "too short: a write storm", value: "1ms", wantErr: true},
		{name: "too long: a takeover waits minutes", value: "5m", wantErr: true},
		{name: "not a duration", value: "5", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(config.EnvHeartbeat, tt.value)
			got, err := heartbeatInterval()
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("heartbeatInterval(%q): got %s, %v; want %s (error %v)", tt.value, got, err, tt.want, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), config.EnvHeartbeat) {
				t.Errorf("error %q does not name %s", err, config.EnvHeartbeat)
			}
		})
	}
}

// With a remediation section the metrics line also carries Remediable, the
// backlog grantwatch fix would work through; without one it is left out, so
// a deployment without remediation has no such metric. Only the invocation
// that records the run carries it: an attempt at Finish that failed, and
// is retried, would count the same backlog twice.
func TestMetricsCarryRemediableWithRemediation(t *testing.T) {
	for _, tc := range []struct {
		name        string
		remediation bool
		stored      bool
		saved       bool
		want        bool
	}{
		{name: "with a remediation section", remediation: true, stored: true, saved: true, want: true},
		{name: "with a remediation section, run not recorded by this attempt", remediation: true, stored: true, saved: false, want: false},
		{name: "with a remediation section, no history table", remediation: true, stored: false, saved: false, want: true},
		{name: "without", remediation: false, stored: true, saved: true, want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			h := &Handler{now: time.Now, metrics: &out, remediation: tc.remediation, stored: tc.stored}
			h.emitMetrics(&job.Outcome{RunID: "run-1", Report: &result.Report{}, Remediable: 3, Saved: tc.saved}, false)
			var line map[string]any
			if err := json.Unmarshal(out.Bytes(), &line); err != nil {
				t.Fatal(err)
			}
			v, ok := line[config.MetricRemediable]
			if ok != tc.want || (ok && v != float64(3)) {
				t.Errorf("got %s = %v (present %v); want present %v with 3", config.MetricRemediable, v, ok, tc.want)
			}
			directive := fmt.Sprint(line["_aws"])
			if got := strings.Contains(directive, config.MetricRemediable); got != tc.want {
				t.Errorf("directive names %s: got %v; want %v (%s)", config.MetricRemediable, got, tc.want, directive)
			}
		})
	}
}
