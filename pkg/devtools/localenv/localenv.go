// Package localenv starts the real local stand-ins that `grantwatch demo`
// and the tests use: dynalite (a DynamoDB-compatible server, from npm) and
// goaws (an SNS and SQS emulator, a Go program), each on a free port of
// 127.0.0.1. `make tools` installs both into a checkout (node_modules/,
// bin/goaws); FindTools finds them on PATH, so the demo works from any
// directory once they are there.
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
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// ErrNotInstalled means a stand-in is missing.
var ErrNotInstalled = errors.New("local stand-in not installed")

// Tools are the stand-ins' programs.
type Tools struct {
	// Dynalite is dynalite's command (its cli.js, run with node).
	Dynalite string
	// Goaws is grantwatch's goaws command, which listens on 127.0.0.1 only
	// (built from cmd/devtools/goaws).
	Goaws string
}

// FindTools looks for dynalite and goaws on PATH. The error, wrapping
// ErrNotInstalled, names what is missing and how to get it.
func FindTools() (Tools, error) {
	var t Tools
	var missing []string
	for name, dst := range map[string]*string{"dynalite": &t.Dynalite, "goaws": &t.Goaws} {
		path, err := exec.LookPath(name)
		if err != nil {
			missing = append(missing, name)
			continue
		}
		*dst = path
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return t, fmt.Errorf("%s not found on PATH: %w; in a grantwatch checkout `make tools` installs them into node_modules/.bin and bin, and `make demo` puts those on PATH",
			strings.Join(missing, " and "), ErrNotInstalled)
	}
	return t, nil
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

// StartProcess runs argv with exactly the environment env until port on
// 127.0.0.1 accepts connections; Endpoint is its HTTP address there.
func StartProcess(ctx context.Context, name string, port int, argv, env []string) (*Server, error) {
	s := &Server{name: name, args: argv, env: env, port: port, Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port)}
	return s, s.Start(ctx)
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

// FreePort returns a port of 127.0.0.1 that no one listens on.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// DynamoDB starts dynalite in memory.
func (t Tools) DynamoDB(ctx context.Context) (*Server, error) {
	if t.Dynalite == "" {
		return nil, fmt.Errorf("dynalite: %w", ErrNotInstalled)
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	return StartProcess(ctx, "dynalite", port, []string{"node", t.Dynalite, "--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"}, os.Environ())
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

// SNS starts goaws with the topics (account 123456789012, us-east-1),
// writing its configuration into dir.
func (t Tools) SNS(ctx context.Context, dir string, topics ...Topic) (*SNS, error) {
	if t.Goaws == "" {
		return nil, fmt.Errorf("goaws: %w", ErrNotInstalled)
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Local:\n  Host: 127.0.0.1\n  Port: %d\n  Region: us-east-1\n  AccountId: \"123456789012\"\n  LogToFile: false\n  Topics:\n", port)
	for _, topic := range topics {
		fmt.Fprintf(&b, "    - Name: %s\n      Subscriptions:\n", topic.Name)
		for _, s := range topic.Subscriptions {
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
	s, err := StartProcess(ctx, "goaws", port, []string{t.Goaws, "-config", conf, "Local"}, os.Environ())
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
