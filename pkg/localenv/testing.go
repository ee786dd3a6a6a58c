package localenv

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/grantwatch/grantwatch/pkg/awssim"
	"github.com/grantwatch/grantwatch/pkg/demo"
)

// required reports whether a missing stand-in fails the test rather than
// skipping it. `make test` and CI set GRANTWATCH_REQUIRE_LOCAL=1, so they can
// never pass by skipping; a quick `go test` without `make tools` skips.
func required() bool { return os.Getenv("GRANTWATCH_REQUIRE_LOCAL") == "1" }

func missing(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, ErrNotInstalled) && !required() {
		t.Skip(err)
	}
	t.Fatal(err)
}

// DynamoDBForTest starts dynalite for one test and stops it when the test ends.
func DynamoDBForTest(t testing.TB) *Server {
	t.Helper()
	s, err := DynamoDB(context.Background())
	if err != nil {
		missing(t, err)
	}
	t.Cleanup(s.Stop)
	return s
}

// SNSForTest starts goaws for one test and stops it when the test ends.
func SNSForTest(t testing.TB, topics ...Topic) *SNS {
	t.Helper()
	s, err := StartSNS(context.Background(), t.TempDir(), topics...)
	if err != nil {
		missing(t, err)
	}
	t.Cleanup(s.Stop)
	return s
}

// LambdaForTest runs a function binary under the runtime interface emulator
// for one test.
func LambdaForTest(t testing.TB, bootstrap string, env []string) *Server {
	t.Helper()
	s, err := StartLambda(context.Background(), bootstrap, env)
	if err != nil {
		missing(t, err)
	}
	t.Cleanup(s.Stop)
	return s
}

// DemoSimulator serves the demo organization for one test, without its
// latency, optionally changed by edit first.
func DemoSimulator(t testing.TB, edit func(*awssim.Scenario)) *awssim.Server {
	t.Helper()
	sc, err := demo.Scenario()
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

// ProxyForTest puts a fault-injecting proxy in front of endpoint for one test.
func ProxyForTest(t testing.TB, endpoint string) *Proxy {
	t.Helper()
	p, err := StartProxy(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}
