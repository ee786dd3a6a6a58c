// Package testenv is what grantwatch's tests share: the local stand-ins
// (dynalite, goaws) started for one test, the AWS simulator serving a test's
// own scenario, a fault-injecting proxy, and the Lambda runtime interface
// emulator running a function's real binary.
//
// Only tests import it: `go list -deps ./cmd/grantwatch` shows neither this
// package nor "testing" in the product. The stand-ins come from the
// checkout's `make tools` (node_modules/, bin/).
package testenv

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/grantwatch/grantwatch/pkg/devtools/awssim"
	"github.com/grantwatch/grantwatch/pkg/devtools/localenv"
)

// EnvRequireLocal set to 1 makes a missing stand-in fail a test instead of
// skipping it. `make test` and CI set it, so they can never pass by
// skipping; a quick `go test` without `make tools` skips.
const EnvRequireLocal = "GRANTWATCH_REQUIRE_LOCAL"

// SkipUnlessInstalled skips the test when err says a stand-in is missing and
// EnvRequireLocal is not set; any other error, or any error under
// EnvRequireLocal, fails it. It is the one place that decides to skip.
func SkipUnlessInstalled(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if errors.Is(err, localenv.ErrNotInstalled) && os.Getenv(EnvRequireLocal) != "1" {
		t.Skip(err)
	}
	t.Fatal(err)
}

var (
	rootOnce sync.Once
	root     string
	rootErr  error
)

// checkoutRoot is the checkout's root: the folder with go.mod above the test's
// working directory (go test runs a test in its package's folder).
func checkoutRoot(t testing.TB) string {
	t.Helper()
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		for err == nil {
			if _, statErr := os.Stat(filepath.Join(dir, "go.mod")); statErr == nil {
				root = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				err = errors.New("no go.mod above the working directory")
			}
			dir = parent
		}
		rootErr = err
	})
	if rootErr != nil {
		t.Fatal(rootErr)
	}
	return root
}

// tool is the path of a program `make tools` installs into the checkout.
func tool(t testing.TB, rel string) string {
	t.Helper()
	path := filepath.Join(checkoutRoot(t), rel)
	if _, err := os.Stat(path); err != nil {
		SkipUnlessInstalled(t, errors.Join(localenv.ErrNotInstalled, errors.New(rel+" is missing; run `make tools`")))
	}
	return path
}

// Tools are the checkout's stand-ins.
func Tools(t testing.TB) localenv.Tools {
	t.Helper()
	return localenv.Tools{
		Dynalite: tool(t, filepath.Join("node_modules", "dynalite", "cli.js")),
		Goaws:    tool(t, filepath.Join("bin", "goaws")),
	}
}

// DynamoDB starts dynalite for one test.
func DynamoDB(t testing.TB) *localenv.Server {
	t.Helper()
	s, err := Tools(t).DynamoDB(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// SNS starts goaws with topics for one test.
func SNS(t testing.TB, topics ...localenv.Topic) *localenv.SNS {
	t.Helper()
	s, err := Tools(t).SNS(context.Background(), t.TempDir(), topics...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// AWSConfig is an SDK configuration for a stand-in or proxy at endpoint.
func AWSConfig(t testing.TB, endpoint string) aws.Config {
	t.Helper()
	cfg, err := localenv.AWSConfig(context.Background(), endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Simulator serves the scenario file (a test's own, in its testdata) for one
// test, without latency unless edit sets one; edit may change the scenario
// first.
func Simulator(t testing.TB, scenario string, edit func(*awssim.Scenario)) *awssim.Server {
	t.Helper()
	sc, err := awssim.LoadScenario(scenario)
	if err != nil {
		t.Fatal(err)
	}
	sc.Latency = awssim.Latency{}
	if edit != nil {
		edit(sc)
	}
	sim, err := awssim.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

// ToolsOnPath puts the checkout's stand-ins on PATH for one test, as
// `make demo` does, so that localenv.FindTools finds them.
func ToolsOnPath(t *testing.T) {
	t.Helper()
	tools := Tools(t)
	bin := t.TempDir()
	for name, target := range map[string]string{"dynalite": tools.Dynalite, "goaws": tools.Goaws} {
		if err := os.Symlink(target, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
}
