package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"golang.org/x/term"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/devtools/awssim"
	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/job"
	"github.com/grantwatch/grantwatch/pkg/result"
	"github.com/grantwatch/grantwatch/pkg/securityhub"
)

// Exit codes.
const (
	exitUsable    = 0 // every required model is usable
	exitNotUsable = 1 // some required model is not usable
	exitError     = 2 // audit errors, bad usage or bad configuration
)

// synopses are the usage line of each subcommand, in the order the help
// shows them; the --output values come from the lists the commands check.
var synopses = []struct{ command, text string }{
	{"run", `grantwatch run     --config FILE [--output ` + strings.Join(formats, "|") + `] [--all] [--profile NAME]
                     [--timeout D] [--log-level debug|info|warn|error]`},
	{"history", `grantwatch history (--config FILE | --table NAME) --account ID [--region R] [--model M]
                     [--since 7d|2026-11-01] [--until DATE] [--limit N] [--latest [--all]]
                     [--output ` + strings.Join(historyFormats, "|") + `] [--profile NAME] [--timeout 60s]
  grantwatch history --url HISTORY_URL [--account ID] [same filters] [--profile NAME]
                     (signed with your own AWS credentials; the account defaults to yours)`},
	{"fix", `grantwatch fix     --config FILE [--apply] [--output ` + strings.Join(fixFormats, "|") + `] [--profile NAME]
                     (a dry run unless --apply; exit 0 all done or nothing needed, 1 some failed, 2 could not run)`},
	{"demo", `grantwatch demo    [--output ` + strings.Join(formats, "|") + `] [--all]`},
	{"sim", `grantwatch sim     [--scenario FILE] [--addr 127.0.0.1:PORT]`},
}

var usage = func() string {
	var b strings.Builder
	b.WriteString("grantwatch audits Amazon Bedrock model access across accounts and regions.\n\nUsage:\n")
	for _, s := range synopses {
		fmt.Fprintf(&b, "  %s\n", s.text)
	}
	b.WriteString(`
run stores results in history.table and alerts notify.topic_arn when the
configuration names them. "grantwatch COMMAND --help" lists a command's flags.

Exit status of run: 0 every required model usable (or not usable only with
a status whose alerts.severity is info or ignore), 1 some not usable,
2 audit errors (grantwatch could not check) or bad usage.
`)
	return b.String()
}()

// helpRequested is what parse returns for --help: the subcommand's flags,
// which run prints on stdout with exit status 0.
type helpRequested struct{ fs *flag.FlagSet }

func (h helpRequested) Error() string { return h.fs.Name() + " --help" }

// text is the subcommand's synopsis and every flag it registered, with the
// values it accepts and its default.
func (h helpRequested) text() string {
	var b strings.Builder
	b.WriteString("Usage:\n")
	for _, s := range synopses {
		if s.command == h.fs.Name() {
			fmt.Fprintf(&b, "  %s\n", s.text)
		}
	}
	b.WriteString("\nFlags:\n")
	h.fs.VisitAll(func(f *flag.Flag) {
		name, help := flag.UnquoteUsage(f)
		fmt.Fprintf(&b, "  --%s", f.Name)
		if name != "" {
			fmt.Fprintf(&b, " %s", name)
		}
		fmt.Fprintf(&b, "\n        %s", help)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
			fmt.Fprintf(&b, " (default %s)", f.DefValue)
		}
		b.WriteString("\n")
	})
	return b.String()
}

// run is the whole command line, separated from main so that tests can call it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError
	}
	var err error
	code := exitUsable
	switch args[0] {
	case "run":
		code, err = runCmd(ctx, args[1:], stdout, stderr)
	case "fix":
		code, err = fixCmd(ctx, args[1:], stdout, stderr)
	case "demo":
		code, err = demoCmd(ctx, args[1:], stdout, stderr)
	case "history":
		err = historyCmd(ctx, args[1:], stdout)
	case "sim":
		err = simCmd(ctx, args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		err = usageError(fmt.Sprintf("unknown command %q", args[0]))
	}
	var help helpRequested
	if errors.As(err, &help) {
		fmt.Fprint(stdout, help.text())
		return exitUsable
	}
	if err != nil {
		fmt.Fprintf(stderr, "grantwatch: %v\n", err)
		return exitError
	}
	return code
}

type usageError string

func (e usageError) Error() string { return string(e) + "\n\n" + usage }

// outputFlag registers --output with the formats the command accepts; the
// flag itself refuses any other value, and --help lists them from the same
// list.
func outputFlag(fs *flag.FlagSet, accepted []string) *string {
	v := &outputValue{format: "table", accepted: accepted}
	fs.Var(v, "output", "output `format`: one of "+strings.Join(accepted, ", "))
	return &v.format
}

// allFlag registers --all: the table prints every check, not only the
// problems.
func allFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("all", false, "table output: print every check, usable ones included, not only the summary and the problems")
}

// outputValue is an --output flag: one of its accepted formats.
type outputValue struct {
	format   string
	accepted []string
}

func (v *outputValue) String() string { return v.format }

func (v *outputValue) Set(s string) error {
	if !slices.Contains(v.accepted, s) {
		return fmt.Errorf("want one of %s", strings.Join(v.accepted, ", "))
	}
	v.format = s
	return nil
}

func parse(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return helpRequested{fs}
		}
		return usageError(err.Error())
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	return nil
}

// loadAWSConfig loads the AWS configuration once for a command, from the
// shared config profile when one is named, else the standard credential chain.
func loadAWSConfig(ctx context.Context, profile string) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(profile))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	return cfg, nil
}

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	path := fs.String("config", "", "configuration file (required)")
	output := outputFlag(fs, formats)
	all := allFlag(fs)
	profile := fs.String("profile", "", "AWS shared config profile (default: the standard credential chain)")
	timeout := fs.Duration("timeout", 0, "stop after this long and report what was checked (0: no limit)")
	logLevel := fs.String("log-level", "error", "JSON log level on stderr: one of debug, info, warn, error")
	if err := parse(fs, args); err != nil {
		return exitError, err
	}
	if *path == "" {
		return exitError, usageError("run needs --config FILE")
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return exitError, err
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return exitError, err
	}
	awsCfg, err := loadAWSConfig(ctx, *profile)
	if err != nil {
		return exitError, err
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	// One GetCallerIdentity serves both Security Hub and the asff output.
	parts, err := job.Build(ctx, cfg, awsCfg, func(o *job.BuildOptions) {
		o.Logger = logger
		o.Progress = progress(stderr)
		o.Caller = *output == "asff"
	})
	if err != nil {
		return exitError, err
	}
	store := parts.Store
	out, err := parts.Job.Run(ctx, time.Now())
	clearProgress(stderr)
	if out.Report == nil {
		if err != nil {
			return exitError, err
		}
		fmt.Fprintf(stdout, "run %s was already %s (%s); nothing to do\n", out.RunID, out.Claim, out.Stored.State)
		return exitUsable, nil
	}
	var hub securityhub.Source
	if parts.Caller != nil {
		hub = job.Source(cfg, awsCfg, parts.Caller.Account)
	}
	if werr := writeReportView(stdout, *output, out.Report, hub, viewFor(stdout, *all)); werr != nil {
		return exitError, fmt.Errorf("write report: %w", werr)
	}
	if store != nil {
		fmt.Fprintln(stderr, historyLine(store.Table(), out, err))
	}
	if out.NotifyError != "" {
		fmt.Fprintf(stderr, "grantwatch: some alerts were not published (the next run sends them): %s\n", out.NotifyError)
	}
	if out.FindingsImported > 0 || out.SecurityHubError != "" {
		fmt.Fprintf(stderr, "security hub: %d findings imported", out.FindingsImported)
		if out.SecurityHubError != "" {
			fmt.Fprintf(stderr, "; %s", out.SecurityHubError)
		}
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return exitError, err
	}
	return exitCode(out.Report, cfg.Alerts.Severity), nil
}

// historyLine says what the run stored: everything, part of it (a save
// that failed half way has written its first items, and the alerts before
// it were published), or nothing.
func historyLine(table string, out *job.Outcome, err error) string {
	var partial *history.PartialSaveError
	switch {
	case out.Saved:
		return fmt.Sprintf("history: %d changes stored in table %s; alerts: %d found, %d messages published, %d alerts held for the next run",
			out.Events, table, len(out.Alerts), out.Published, out.Unpublished)
	case errors.As(err, &partial) && partial.Written > 0:
		return fmt.Sprintf("history: partly stored in table %s: %d of %d items written (the %d changes first, then the latest states) before the save failed; alerts: %d found, %d messages published; the run is left for a retry to resume",
			table, partial.Written, partial.Total, out.Events, len(out.Alerts), out.Published)
	}
	return fmt.Sprintf("history: nothing stored in table %s (%d changes found); alerts: %d messages published; the run is left for a retry to resume", table, out.Events, out.Published)
}

// exitCode: audit errors outrank findings, since they mean the answer is not
// known. A finding makes exit 1 only when its status's severity is warning or
// critical: what is configured info or ignore is reported, not failed on.
func exitCode(rep *result.Report, severity result.Severities) int {
	s := rep.Summary
	if s.AllAuditErrs() > 0 || len(s.Errors) > 0 || s.Incomplete {
		return exitError
	}
	for _, r := range rep.Results {
		if !r.Status.Usable() && r.SuppressedBy() == nil && severity.For(r).Fails() {
			return exitNotUsable
		}
	}
	return exitUsable
}

func simCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	path := fs.String("scenario", "", "scenario file (default: the demo organization)")
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	if err := parse(fs, args); err != nil {
		return err
	}
	sc, err := awssim.Demo()
	if *path != "" {
		sc, err = awssim.LoadScenario(*path)
	}
	if err != nil {
		return err
	}
	sim, err := awssim.New(sc)
	if err != nil {
		return err
	}
	url, err := sim.Start(*addr)
	if err != nil {
		return err
	}
	defer sim.Close()
	a := sim.Auditor()
	fmt.Fprintf(stdout, "grantwatch simulator (STS, Organizations, Bedrock) listening on %s\n", url)
	fmt.Fprintf(stdout, "export AWS_ENDPOINT_URL=%s AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_REGION=us-east-1\n", url, a.AccessKeyID, a.SecretAccessKey)
	<-ctx.Done()
	fmt.Fprintf(stdout, "simulator stopped after %d calls\n", sim.TotalCalls())
	return nil
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError(fmt.Sprintf("--log-level %q: want debug, info, warn or error", level))
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// progress returns a callback that redraws "checked N of M" on stderr at most
// ten times a second, or nil when stderr is not a terminal.
func progress(w io.Writer) func(done, total int) {
	if !isTerminal(w) {
		return nil
	}
	var mu sync.Mutex
	var last time.Time
	return func(done, total int) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(last) < 100*time.Millisecond && done < total {
			return
		}
		last = time.Now()
		fmt.Fprintf(w, "\rchecked %d of %d", done, total)
	}
}

func clearProgress(w io.Writer) {
	if isTerminal(w) {
		fmt.Fprint(w, "\r\033[K")
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
