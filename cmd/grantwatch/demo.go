package main

import (
	"bytes"
	"context"
	_ "embed"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/devtools/awssim"
	"github.com/grantwatch/grantwatch/pkg/devtools/localenv"
	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/job"
	"github.com/grantwatch/grantwatch/pkg/notify"
	"github.com/grantwatch/grantwatch/pkg/result"
	"github.com/grantwatch/grantwatch/pkg/securityhub"
)

const sonnet45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"

// demoConfig audits the demo organization (awssim.Demo).
//
//go:embed demo.yaml
var demoConfig []byte

// demoCmd audits the bundled organization. In table output it then tells the
// whole story: results stored in a local DynamoDB (dynalite), the
// organization changes, a second run alerts through a local SNS (goaws), and
// one account's history is read back.
func demoCmd(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	output := outputFlag(fs, formats)
	all := allFlag(fs)
	if err := parse(fs, args); err != nil {
		return exitError, err
	}
	sc, err := awssim.Demo()
	if err != nil {
		return exitError, err
	}
	sim, err := awssim.New(sc)
	if err != nil {
		return exitError, err
	}
	url, err := sim.Start("127.0.0.1:0")
	if err != nil {
		return exitError, err
	}
	defer sim.Close()
	cfg, err := config.Parse(demoConfig)
	if err != nil {
		return exitError, err
	}
	awsCfg, err := sim.ClientConfig(ctx, "us-east-1")
	if err != nil {
		return exitError, err
	}
	runAt := time.Now().UTC().Truncate(time.Hour).Add(-24 * time.Hour)
	withProgress := func(o *job.BuildOptions) { o.Progress = progress(stderr) }
	parts, err := job.Build(ctx, cfg, awsCfg, withProgress)
	if err != nil {
		return exitError, err
	}
	audit := func() *result.Report { return parts.Checker.Check(ctx, parts.Planner.Plan(ctx, job.RunID(runAt))) }

	if *output != "table" {
		rep := audit()
		clearProgress(stderr)
		hub := job.Source(cfg, awsCfg, sim.Auditor().Account)
		return exitUsable, writeReport(stdout, *output, rep, hub)
	}

	// Every line of the story fits the terminal, as the tables do.
	out := &wrapWriter{w: stdout, width: viewFor(stdout, false).width}
	defer out.Flush()
	stdout = out
	fmt.Fprintf(stdout, "Auditing the simulated organization at %s (5 accounts, 2 OUs, 3 regions)...\n\n", url)
	ddb, snsServer, cleanup, err := demoStandIns(ctx)
	defer cleanup()
	if err != nil {
		// The audit needs nothing but the simulator; history and alerts
		// need the local stand-ins.
		rep := audit()
		clearProgress(stderr)
		view := viewFor(stdout, *all)
		if err := writeReportView(stdout, "table", rep, securityhub.Source{}, view); err != nil {
			return exitError, err
		}
		var b bytes.Buffer
		writeWrapped(&b, fmt.Sprintf("(History and alerts are not shown: %v.)", err), "", "", view.width)
		_, err := fmt.Fprintf(stdout, "\n%s", &b)
		return exitUsable, err
	}

	// The same job the Lambda runs, with a local table and topic.
	ddbCfg, err := localenv.AWSConfig(ctx, ddb.Endpoint)
	if err != nil {
		return exitError, err
	}
	snsCfg, err := localenv.AWSConfig(ctx, snsServer.Endpoint)
	if err != nil {
		return exitError, err
	}
	cfg.History.Table = "grantwatch-demo"
	cfg.Notify.TopicARN = snsServer.TopicARN("grantwatch-alerts")
	ddbClient := dynamodb.NewFromConfig(ddbCfg)
	if err := history.CreateTable(ctx, ddbClient, cfg.History.Table); err != nil {
		return exitError, err
	}
	store := history.New(ddbClient, cfg.History.Table, cfg.History.Retention.Std())
	notifier := notify.New(sns.NewFromConfig(snsCfg), cfg.Notify.TopicARN, cfg.Notify.ReminderInterval.Std())
	clock := runAt
	parts, err = job.Build(ctx, cfg, awsCfg, withProgress, func(o *job.BuildOptions) {
		o.Store, o.Notifier = store, notifier
		o.Job = append(o.Job, job.WithClock(func() time.Time { return clock }))
	})
	if err != nil {
		return exitError, err
	}
	j := parts.Job

	first, err := j.Run(ctx, runAt)
	clearProgress(stderr)
	if err != nil {
		return exitError, err
	}
	if err := writeReportView(stdout, "table", first.Report, securityhub.Source{}, viewFor(stdout, *all)); err != nil {
		return exitError, err
	}
	inbox, err := snsServer.Receive(ctx, "inbox")
	if err != nil {
		return exitError, err
	}
	fmt.Fprintf(stdout, "\n`grantwatch run` would exit %d here.\n", exitCode(first.Report, cfg.Alerts.Severity))
	fmt.Fprintf(stdout, "\n== Run 1 stored %d history events in DynamoDB (%s) and sent %d alert messages to SNS:\n", first.Events, ddb.Endpoint, len(inbox))
	for _, m := range inbox {
		fmt.Fprintf(stdout, "   %s\n", m.Subject)
	}

	fmt.Fprintln(stdout, "\n== Between the runs, the organization changes:")
	fmt.Fprintln(stdout, "   - account 333333333333 submits the Anthropic use-case form;")
	fmt.Fprintln(stdout, "   - account 111111111111 loses its Marketplace subscription for Claude Sonnet 4.5 in us-east-1.")
	if err := sim.Update(func(sc *awssim.Scenario) {
		sc.UseCaseForms = append(sc.UseCaseForms, "333333333333")
		sc.Account("111111111111").SetState("us-east-1", sonnet45, awssim.ModelState{Agreement: "NOT_AVAILABLE"})
	}); err != nil {
		return exitError, err
	}
	clock = runAt.Add(time.Hour)
	second, err := j.Run(ctx, clock)
	clearProgress(stderr)
	if err != nil {
		return exitError, err
	}
	inbox, err = snsServer.Receive(ctx, "inbox")
	if err != nil {
		return exitError, err
	}
	fmt.Fprintf(stdout, "\n== Run 2 (%s) recorded %d status changes and sent %d messages, read back from an SQS queue subscribed to the topic.\n", second.RunID, second.Events, len(inbox))
	fmt.Fprintln(stdout, "   Problems already alerted are not alerted again; the PENDING subscription is alerted now that it outlasted its grace period.")
	for _, m := range inbox {
		text, _, _ := strings.Cut(m.Message, "--- structured data (JSON) ---")
		fmt.Fprintf(stdout, "\n-- Subject: %s\n   Attributes: account_id=%s severity=%s event_type=%s\n\n%s", m.Subject,
			m.MessageAttributes["account_id"].Value, m.MessageAttributes["severity"].Value, m.MessageAttributes["event_type"].Value, indent(text))
	}

	fmt.Fprintln(stdout, "\n== History of account 333333333333, as `grantwatch history --account 333333333333` shows it:")
	entries, _, err := store.History(ctx, history.Query{Account: "333333333333", Limit: 100})
	if err != nil {
		return exitError, err
	}
	if err := writeEntries(stdout, "table", entries, false, viewFor(stdout, false)); err != nil {
		return exitError, err
	}
	clock = runAt.Add(2 * time.Hour)
	if err := demoFix(ctx, stdout, sim, cfg, awsCfg, j, clock, store, snsServer, notifier); err != nil {
		return exitError, err
	}
	fmt.Fprintf(stdout, "\nThe simulator answered %d AWS calls.\n", sim.TotalCalls())
	return exitUsable, nil
}

// demoStandIns starts dynalite and goaws for the demo.
func demoStandIns(ctx context.Context) (*localenv.Server, *localenv.SNS, func(), error) {
	var stops []func()
	cleanup := func() {
		for _, stop := range stops {
			stop()
		}
	}
	tools, err := localenv.FindTools()
	if err != nil {
		return nil, nil, cleanup, err
	}
	ddb, err := tools.DynamoDB(ctx)
	if err != nil {
		return nil, nil, cleanup, err
	}
	stops = append(stops, ddb.Stop)
	dir, err := os.MkdirTemp("", "grantwatch-demo")
	if err != nil {
		return nil, nil, cleanup, err
	}
	stops = append(stops, func() { os.RemoveAll(dir) })
	snsServer, err := tools.SNS(ctx, dir, localenv.Topic{Name: "grantwatch-alerts", Subscriptions: []localenv.Subscription{{Queue: "inbox"}}})
	if err != nil {
		return nil, nil, cleanup, err
	}
	stops = append(stops, snsServer.Stop)
	return ddb, snsServer, cleanup, nil
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "   " + l
	}
	return strings.Join(lines, "\n") + "\n"
}
