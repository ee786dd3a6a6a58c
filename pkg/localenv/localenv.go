// Package localenv starts the real local stand-ins grantwatch's tests and demo
// use: dynalite (a DynamoDB-compatible server, from npm) and goaws (an SNS and
// SQS emulator, a Go program), each on a free port of 127.0.0.1. `make tools`
// installs both into the project (node_modules/, bin/goaws).
package localenv

import (
	"bufio"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// ErrNotInstalled means a stand-in is missing: run `make tools`.
var ErrNotInstalled = errors.New("local stand-in not installed; run `make tools`")

// Root finds the project root (the folder with go.mod) from the working directory up.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Installed reports ErrNotInstalled when dynalite or goaws is missing.
func Installed() error {
	root, err := Root()
	if err != nil {
		return err
	}
	for _, f := range []string{filepath.Join("node_modules", "dynalite", "cli.js"), filepath.Join("bin", "goaws"), filepath.Join("bin", "aws-lambda-rie")} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			return fmt.Errorf("%s: %w", f, ErrNotInstalled)
		}
	}
	return nil
}

// Server is a running stand-in process.
type Server struct {
	Endpoint string
	name     string
	cmd      *exec.Cmd
	args     []string
	env      []string
	port     int
	logs     *tail
	mu       sync.Mutex
}

// start runs name with args until its port accepts connections.
func start(ctx context.Context, name string, port int, argv []string) (*Server, error) {
	s := &Server{name: name, args: argv, port: port, Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port)}
	return s, s.Start(ctx)
}

// StartLambda runs a function's bootstrap binary under the Lambda runtime
// interface emulator with exactly the environment env (plus PATH). Invoke it
// with Invoke.
func StartLambda(ctx context.Context, bootstrap string, env []string) (*Server, error) {
	root, err := Root()
	if err != nil {
		return nil, err
	}
	rie := filepath.Join(root, "bin", "aws-lambda-rie")
	if _, err := os.Stat(rie); err != nil {
		return nil, fmt.Errorf("aws-lambda-rie (%s): %w", rie, ErrNotInstalled)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	apiPort, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{name: "aws-lambda-rie", port: port, Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port),
		args: []string{rie, "--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", port),
			"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort), bootstrap},
		env: append([]string{"PATH=" + os.Getenv("PATH")}, env...)}
	return s, s.Start(ctx)
}

// Invoke sends payload to a function started by StartLambda and returns its answer.
func (s *Server) Invoke(ctx context.Context, payload string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Endpoint+"/2015-03-31/functions/function/invocations", strings.NewReader(payload))
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

// Output is what the process printed lately, for test failures.
func (s *Server) Output() string { return s.logs.String() }

// Start (re)starts a stopped server on its port.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd := exec.Command(s.args[0], s.args[1:]...)
	cmd.Env = s.env
	s.logs = &tail{}
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.name, err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.stopLocked()
			return fmt.Errorf("%s did not listen on port %d: %v; output: %s", s.name, s.port, err, s.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop ends the server (its whole process group) and waits for it.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

func (s *Server) stopLocked() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	// The runtime interface emulator starts the function in a process group
	// of its own: kill those groups too, as Lambda ends a crashed or
	// timed-out invocation's whole sandbox.
	for _, pid := range descendants(s.cmd.Process.Pid) {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	_ = s.cmd.Wait()
	s.cmd = nil
	// Wait until the port is free again, so that a restart can bind it.
	for range 100 {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), 50*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
}

// descendants lists the processes below pid, read from /proc (Linux).
func descendants(pid int) []int {
	parents := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(fields[1]); err == nil {
			parents[ppid] = append(parents[ppid], child)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range parents[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// DynamoDB starts dynalite in memory.
func DynamoDB(ctx context.Context) (*Server, error) {
	root, err := Root()
	if err != nil {
		return nil, err
	}
	cli := filepath.Join(root, "node_modules", "dynalite", "cli.js")
	if _, err := os.Stat(cli); err != nil {
		return nil, fmt.Errorf("dynalite (%s): %w", cli, ErrNotInstalled)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	return start(ctx, "dynalite", port, []string{"node", cli, "--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"})
}

// Topic is an SNS topic goaws creates at start, with its SQS subscriptions.
type Topic struct {
	Name          string
	Subscriptions []Subscription
}

// Subscription is an SQS queue subscribed to a topic, optionally with a filter policy.
type Subscription struct {
	Queue        string
	FilterPolicy string // JSON, as in an SNS subscription
}

// SNS is a running goaws.
type SNS struct {
	*Server
	Account string
}

// StartSNS starts goaws with the topics (account 123456789012, us-east-1).
func StartSNS(ctx context.Context, dir string, topics ...Topic) (*SNS, error) {
	root, err := Root()
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(root, "bin", "goaws")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("goaws (%s): %w", bin, ErrNotInstalled)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Local:\n  Host: 127.0.0.1\n  Port: %d\n  Region: us-east-1\n  AccountId: \"123456789012\"\n  LogToFile: false\n  Topics:\n", port)
	for _, t := range topics {
		fmt.Fprintf(&b, "    - Name: %s\n      Subscriptions:\n", t.Name)
		for _, s := range t.Subscriptions {
			fmt.Fprintf(&b, "        - QueueName: %s\n          Raw: false\n", s.Queue)
			if s.FilterPolicy != "" {
				fmt.Fprintf(&b, "          FilterPolicy: %s\n", strconv.Quote(s.FilterPolicy))
			}
		}
	}
	conf := filepath.Join(dir, fmt.Sprintf("goaws-%d.yaml", port))
	if err := os.WriteFile(conf, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	s, err := start(ctx, "goaws", port, []string{bin, "-config", conf, "Local"})
	if err != nil {
		return nil, err
	}
	return &SNS{Server: s, Account: "123456789012"}, nil
}

// TopicARN is the ARN of a topic goaws created.
func (s *SNS) TopicARN(name string) string {
	return "arn:aws:sns:us-east-1:" + s.Account + ":" + name
}

// Notification is an SNS message as delivered to an SQS queue (not raw).
type Notification struct {
	Type              string
	MessageId         string
	TopicArn          string
	Subject           string
	Message           string
	MessageAttributes map[string]struct{ Type, Value string }
}

// Receive reads every message waiting in queue. goaws speaks only the old
// form-encoded SQS API, which today's SDK client does not, so this is plain HTTP.
func (s *SNS) Receive(ctx context.Context, queue string) ([]Notification, error) {
	var all []Notification
	for {
		form := url.Values{"Action": {"ReceiveMessage"}, "MaxNumberOfMessages": {"10"},
			"QueueUrl": {s.Endpoint + "/" + s.Account + "/" + queue}}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Endpoint+"/", strings.NewReader(form.Encode()))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("receive from %s: %w", queue, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		var out struct {
			Messages []struct{ Body string } `xml:"ReceiveMessageResult>Message"`
		}
		if err := xml.Unmarshal(body, &out); err != nil {
			return nil, fmt.Errorf("receive from %s: %w: %s", queue, err, body)
		}
		if len(out.Messages) == 0 {
			return all, nil
		}
		for _, m := range out.Messages {
			var n Notification
			if err := json.Unmarshal([]byte(m.Body), &n); err != nil {
				return nil, fmt.Errorf("message in %s is not an SNS notification: %w", queue, err)
			}
			all = append(all, n)
		}
	}
}

// tail keeps the last 4 KB a process printed, for error messages.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 4096 {
		t.buf = t.buf[len(t.buf)-4096:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(string(t.buf)))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return strings.Join(lines, " | ")
}

// AWSConfig is an SDK configuration for a stand-in at endpoint, with dummy
// static credentials (the stand-ins accept any).
func AWSConfig(ctx context.Context, endpoint string) (aws.Config, error) {
	return config.LoadDefaultConfig(ctx,
		config.WithRegion("us-east-1"),
		config.WithBaseEndpoint(endpoint),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local", "")),
		config.WithSharedConfigFiles([]string{}), config.WithSharedCredentialsFiles([]string{}),
	)
}
