package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RunStateMachine executes an Amazon States Language definition with the
// aws-local-stepfunctions interpreter (pkg/devtools/testenv/stepfunctions.mjs, on
// Node), an implementation of the language independent of grantwatch. Its
// Lambda Task states are answered by invoke: the request's body is the
// state's input, the query's "state" its name, and the answer is read as
// the Lambda Invoke API's (a body with the header X-Amz-Function-Error is
// the function's error). It returns the execution's output, or its error.
func RunStateMachine(ctx context.Context, t testing.TB, definition []byte, input, executionID string, invoke http.Handler) (json.RawMessage, error) {
	t.Helper()
	tool(t, filepath.Join("node_modules", "aws-local-stepfunctions", "package.json"))
	node, err := exec.LookPath("node")
	if err != nil {
		SkipUnlessInstalled(t, err)
	}
	dir := t.TempDir()
	defFile, inputFile := filepath.Join(dir, "definition.json"), filepath.Join(dir, "input.json")
	if err := os.WriteFile(defFile, definition, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inputFile, []byte(input), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(invoke)
	defer srv.Close()
	cmd := exec.CommandContext(ctx, node, filepath.Join(checkoutRoot(t), "pkg", "devtools", "testenv", "stepfunctions.mjs"), defFile, inputFile)
	cmd.Env = append(os.Environ(), "INVOKE_URL="+srv.URL, "EXECUTION_ID="+executionID, "RETRY_MS=10")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("state machine: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return json.RawMessage(bytes.TrimSpace(stdout.Bytes())), nil
}

// LambdaPool is a Lambda Invoke endpoint for RunStateMachine that hands each
// invocation to a free function of the pool, as Lambda hands concurrent
// invocations to separate execution environments.
type LambdaPool struct {
	free chan *Function
	// Fault, when set, runs before each invocation: a non-empty errorType
	// answers the invocation with that function error. after says whether
	// the fault comes after the real invocation (a function that did its
	// work and then timed out) instead of replacing it.
	Fault func(state string, payload []byte) (errorType string, after bool)
}

// NewLambdaPool pools fns.
func NewLambdaPool(fns []*Function) *LambdaPool {
	p := &LambdaPool{free: make(chan *Function, len(fns))}
	for _, f := range fns {
		p.free <- f
	}
	return p
}

func (p *LambdaPool) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	payload, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	state := r.URL.Query().Get("state")
	var fault string
	var after bool
	if p.Fault != nil {
		fault, after = p.Fault(state, payload)
	}
	if fault != "" && !after {
		functionError(w, fault, "injected before the invocation")
		return
	}
	fn := <-p.free
	body, err := fn.Invoke(r.Context(), string(payload))
	p.free <- fn
	switch {
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadGateway)
	case fault != "":
		functionError(w, fault, "injected after the invocation did its work")
	default:
		// The emulator answers a function's error as a body with errorType
		// and errorMessage; Lambda's Invoke API adds X-Amz-Function-Error
		// (Lambda API reference, Invoke, response syntax).
		var e struct {
			Type *string `json:"errorType"`
		}
		if json.Unmarshal(body, &e) == nil && e.Type != nil {
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
		}
		w.Write(body)
	}
}

func functionError(w http.ResponseWriter, errorType, message string) {
	w.Header().Set("X-Amz-Function-Error", "Unhandled")
	json.NewEncoder(w).Encode(map[string]string{"errorType": errorType, "errorMessage": message})
}
