package testenv

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grantwatch/grantwatch/pkg/devtools/awssim"
	"github.com/grantwatch/grantwatch/pkg/devtools/localenv"
)

// Function is a function's real binary running under the AWS Lambda runtime
// interface emulator.
type Function struct {
	*localenv.Server
}

// Lambda builds the function in the package folder dir as the stack does
// (a static bootstrap binary with the lambda.norpc tag), and runs it under
// the emulator for one test with exactly the environment env (plus PATH).
func Lambda(t testing.TB, dir string, env []string) *Function {
	t.Helper()
	return Lambdas(t, dir, env, 1)[0]
}

// Lambdas is Lambda n times from one build: the emulator runs one
// invocation at a time, as one Lambda execution environment does, so
// concurrent invocations need as many.
func Lambdas(t testing.TB, dir string, env []string, n int) []*Function {
	t.Helper()
	rie := tool(t, filepath.Join("bin", "aws-lambda-rie"))
	bootstrap := filepath.Join(t.TempDir(), "bootstrap")
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bootstrap, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the function in %s: %v\n%s", dir, err, out)
	}
	fns := make([]*Function, n)
	for i := range fns {
		port, err := localenv.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		apiPort, err := localenv.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		s, err := localenv.StartProcess(context.Background(), "aws-lambda-rie", port,
			[]string{rie, "--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", port),
				"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort), bootstrap},
			append([]string{"PATH=" + os.Getenv("PATH")}, env...))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Stop)
		fns[i] = &Function{Server: s}
	}
	return fns
}

// Invoke sends payload to the function and returns its answer.
func (f *Function) Invoke(ctx context.Context, payload string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.Endpoint+"/2015-03-31/functions/function/invocations", strings.NewReader(payload))
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("invoke: status %d: %s", resp.StatusCode, body)
	}
	return body, nil
}

// AuditorEnv is the AWS part of the auditor function's environment under
// the emulator: the simulator's auditor credentials, and the stand-ins'
// endpoints in the SDK's own settings, as the deployed function has none.
func AuditorEnv(sim *awssim.Server, dynamoDB, sns string) []string {
	return []string{
		"AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=" + sim.Auditor().AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + sim.Auditor().SecretAccessKey,
		"AWS_ENDPOINT_URL=" + sim.URL(),
		"AWS_ENDPOINT_URL_DYNAMODB=" + dynamoDB,
		"AWS_ENDPOINT_URL_SNS=" + sns,
		"AWS_LAMBDA_LOG_FORMAT=JSON",
		"AWS_EC2_METADATA_DISABLED=true",
	}
}
