package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/awssim"
	"github.com/grantwatch/grantwatch/pkg/demo"
	"github.com/grantwatch/grantwatch/pkg/result"
)

// useSimulator starts the demo organization and points the standard SDK
// settings at it, as a user would with `grantwatch sim`.
func useSimulator(t *testing.T) *awssim.Server {
	t.Helper()
	sc, err := demo.Scenario()
	if err != nil {
		t.Fatal(err)
	}
	sc.Latency = awssim.Latency{}
	sim, err := awssim.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	url, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	dir := t.TempDir()
	t.Setenv("AWS_ENDPOINT_URL", url)
	t.Setenv("AWS_ACCESS_KEY_ID", sim.Auditor().AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", sim.Auditor().SecretAccessKey)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_PROFILE", "")
	return sim
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "grantwatch.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const roleAndLimits = `
role: {name: GrantwatchAudit, external_id: grantwatch-demo}
limits: {max_attempts: 2, max_backoff: 10ms}
`

func TestRunExitCodes(t *testing.T) {
	sim := useSimulator(t)
	tests := []struct {
		name     string
		config   string
		wantCode int
		wantOut  string
	}{
		{"every model usable", `accounts: {static: ["111111111111"]}
regions: [us-east-1]
models: {required: [amazon.nova-pro-v1:0]}` + roleAndLimits, exitUsable, "ENABLED=1"},
		{"a model not usable", `accounts: {static: ["333333333333"]}
regions: [us-east-1]
models: {required: [amazon.nova-pro-v1:0, meta.llama3-1-70b-instruct-v1:0]}` + roleAndLimits, exitNotUsable, "NOT_ENTITLED=1"},
		{"audit error outranks findings", `accounts: {static: ["333333333333", "444444444444"]}
regions: [us-east-1]
models: {required: [meta.llama3-1-70b-instruct-v1:0]}` + roleAndLimits, exitError, "AUDIT_ERROR=1"},
		{"discovery through Organizations", `accounts: {organizations: {enabled: true, ous: [ou-demo-prod0001]}}
regions: [us-west-2]
models: {required: [amazon.nova-pro-v1:0]}` + roleAndLimits, exitUsable, "2 accounts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"run", "--config", writeConfig(t, tt.config)}, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit code: got %d; want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, &stdout, &stderr)
			}
			if !strings.Contains(stdout.String(), tt.wantOut) {
				t.Errorf("stdout: got\n%s\nwant it to contain %q", &stdout, tt.wantOut)
			}
		})
	}
	if sim.Calls(awssim.OpAssumeRole) == 0 {
		t.Error("the simulator saw no AssumeRole: AWS_ENDPOINT_URL was not used")
	}
}

func TestRunRejectsBadUsage(t *testing.T) {
	useSimulator(t)
	good := writeConfig(t, "accounts: {static: [\"111111111111\"]}\nregions: [us-east-1]\nmodels: {required: [m]}\n")
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no command", nil, "Usage:"},
		{"unknown command", []string{"audit"}, `unknown command "audit"`},
		{"missing config", []string{"run"}, "run needs --config FILE"},
		{"unreadable config", []string{"run", "--config", "/nonexistent.yaml"}, "read config"},
		{"invalid config", []string{"run", "--config", writeConfig(t, "regions: [mars-1]\n")}, `regions[0]: unknown region "mars-1"`},
		{"bad output", []string{"run", "--config", good, "--output", "xml"}, `--output "xml"`},
		{"bad flag", []string{"demo", "--verbose"}, "flag provided but not defined: -verbose"},
		{"stray argument", []string{"demo", "extra"}, `unexpected argument "extra"`},
		{"bad log level", []string{"run", "--config", good, "--log-level", "loud"}, `--log-level "loud"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), tt.args, &stdout, &stderr); code != exitError {
				t.Errorf("exit code: got %d; want %d", code, exitError)
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr: got %q; want it to contain %q", &stderr, tt.wantErr)
			}
		})
	}
}

func TestDemoShowsEveryStatus(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"demo", "--output", "json"}, &stdout, &stderr); code != exitUsable {
		t.Fatalf("exit code: got %d; want 0; stderr: %s", code, &stderr)
	}
	var rep struct {
		Run     result.Summary  `json:"run"`
		Results []result.Result `json:"results"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("demo JSON: %v", err)
	}
	for _, s := range result.Statuses {
		if rep.Run.Counts[s] == 0 {
			t.Errorf("status %s: got 0 results; want at least one", s)
		}
	}
	for _, r := range rep.Results {
		if r.Account == "" || r.Region == "" || r.Model == "" || r.Cause == "" || r.Remediation == "" {
			t.Errorf("result with an empty field: %+v", r)
		}
	}
}

func TestSimServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var stdout bytes.Buffer
	done := make(chan int)
	go func() { done <- run(ctx, []string{"sim", "--addr", "127.0.0.1:0"}, &stdout, &bytes.Buffer{}) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	if code := <-done; code != exitUsable {
		t.Errorf("exit code: got %d; want 0", code)
	}
	if !strings.Contains(stdout.String(), "export AWS_ENDPOINT_URL=http://127.0.0.1:") {
		t.Errorf("stdout: got %q; want the endpoint to export", &stdout)
	}
}
