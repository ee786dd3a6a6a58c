package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// history --url against a server that never answers ends at --timeout with
// an error that names it, instead of waiting for ever.
func TestHistoryURLEndsAtItsTimeout(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "ASIAOWNER")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "token")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hanging.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // the test's own bound
	defer cancel()
	var out, errOut bytes.Buffer
	start := time.Now()
	code := run(ctx, []string{"history", "--url", hanging.URL, "--timeout", "300ms"}, &out, &errOut)
	if code != exitError {
		t.Errorf("exit: got %d; want %d", code, exitError)
	}
	if !strings.Contains(errOut.String(), "--timeout 300ms") {
		t.Errorf("stderr: got %q; want the timeout named", &errOut)
	}
	if ctx.Err() != nil {
		t.Errorf("history ran for %s, until the test's own bound", time.Since(start))
	}
}

func TestHistoryRefusesABadTimeout(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"history", "--url", "https://x.lambda-url.eu-west-1.on.aws/", "--timeout", "0s"}, &out, &errOut); code != exitError {
		t.Errorf("exit: got %d; want %d", code, exitError)
	}
	if !strings.Contains(errOut.String(), "--timeout 0s: want more than 0") {
		t.Errorf("stderr: got %q; want the flag named", &errOut)
	}
}
