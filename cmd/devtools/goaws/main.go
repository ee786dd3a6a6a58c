// Command goaws runs the goaws SNS/SQS emulator (github.com/Admiral-Piett/goaws,
// a Go module) on the loopback address only. goaws's own command listens on
// every interface (a hard-coded 0.0.0.0); this one serves the same router on
// 127.0.0.1. `make tools` builds it into bin/goaws for the tests and the demo;
// it is never part of grantwatch itself.
//
//	goaws -config goaws.yaml [Local]
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/Admiral-Piett/goaws/app/conf"
	"github.com/Admiral-Piett/goaws/app/gosqs"
	"github.com/Admiral-Piett/goaws/app/router"
	log "github.com/sirupsen/logrus"
)

func main() {
	config := flag.String("config", "", "goaws configuration file")
	flag.Parse()
	env := "Local"
	if flag.NArg() > 0 {
		env = flag.Arg(0)
	}
	log.SetFormatter(&log.JSONFormatter{})
	log.SetOutput(os.Stdout)
	ports := conf.LoadYamlConfig(*config, env)
	if len(ports) != 1 {
		fmt.Fprintf(os.Stderr, "goaws: want exactly one port in %s, got %v\n", *config, ports)
		os.Exit(2)
	}
	go gosqs.PeriodicTasks(time.Second, make(chan struct{}))
	addr := net.JoinHostPort("127.0.0.1", ports[0])
	log.Warnf("GoAws listening on: %s", addr)
	// Longer than the SDK's 90 s pooled-connection idle timeout: a server
	// that closes a connection the client still pools first (Go times a
	// new connection's first request from its accept) makes a request sent
	// on it just then fail (see connTimeout in pkg/devtools/awssim).
	server := &http.Server{Addr: addr, Handler: router.New(), ReadHeaderTimeout: 3 * time.Minute, IdleTimeout: 3 * time.Minute}
	if err := server.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, "goaws:", err)
		os.Exit(1)
	}
}
