package localenv_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/grantwatch/grantwatch/pkg/devtools/localenv"
	"github.com/grantwatch/grantwatch/pkg/devtools/testenv"
)

// listeners returns the local addresses of the TCP sockets listening on
// port, as /proc/net/tcp and tcp6 show them (hex, network byte order for
// IPv4): no packet is sent to find out.
func listeners(t *testing.T, port int) []string {
	t.Helper()
	var out []string
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 4 || f[3] != "0A" { // 0A: LISTEN
				continue
			}
			if strings.HasSuffix(f[1], fmt.Sprintf(":%04X", port)) {
				out = append(out, f[1])
			}
		}
	}
	return out
}

// Every local stand-in listens on the loopback address only.
func TestStandInsListenOnLoopbackOnly(t *testing.T) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("no /proc/net/tcp on this system")
	}
	ddb := testenv.DynamoDB(t)
	sns := testenv.SNS(t, localenv.Topic{Name: "t"})
	for name, s := range map[string]*localenv.Server{"dynalite": ddb, "goaws": sns.Server} {
		t.Run(name, func(t *testing.T) {
			u, err := url.Parse(s.Endpoint)
			if err != nil {
				t.Fatal(err)
			}
			port, err := strconv.Atoi(u.Port())
			if err != nil {
				t.Fatal(err)
			}
			got := listeners(t, port)
			if len(got) == 0 {
				t.Fatalf("no listening socket on port %d", port)
			}
			for _, addr := range got {
				if !strings.HasPrefix(addr, "0100007F:") { // 127.0.0.1
					t.Errorf("listening on %s; want 127.0.0.1 only", addr)
				}
			}
		})
	}
	// And it still serves there.
	if _, err := sns.Receive(context.Background(), "t"); err != nil && strings.Contains(err.Error(), "connection refused") {
		t.Errorf("goaws on 127.0.0.1: %v", err)
	}
}

// FindTools finds the stand-ins on PATH, from any directory, and says how to
// get them when they are not there.
func TestFindTools(t *testing.T) {
	installed := testenv.Tools(t)
	t.Chdir(t.TempDir())

	t.Setenv("PATH", t.TempDir())
	if _, err := localenv.FindTools(); err == nil || !strings.Contains(err.Error(), "dynalite and goaws not found on PATH") || !strings.Contains(err.Error(), "make tools") {
		t.Errorf("empty PATH: got %v; want both named and how to get them", err)
	}

	bin := t.TempDir()
	for name, target := range map[string]string{"dynalite": installed.Dynalite, "goaws": installed.Goaws} {
		if err := os.Symlink(target, bin+"/"+name); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	tools, err := localenv.FindTools()
	if err != nil || tools.Dynalite != bin+"/dynalite" || tools.Goaws != bin+"/goaws" {
		t.Errorf("tools on PATH: got %+v, %v; want both from %s", tools, err, bin)
	}
}
