package localenv

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
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
	ddb := DynamoDBForTest(t)
	sns := SNSForTest(t, Topic{Name: "t"})
	for _, s := range []*Server{ddb, sns.Server} {
		t.Run(s.name, func(t *testing.T) {
			got := listeners(t, s.port)
			if len(got) == 0 {
				t.Fatalf("no listening socket on port %d", s.port)
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
