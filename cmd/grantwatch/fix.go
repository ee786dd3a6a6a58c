package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/job"
	"github.com/grantwatch/grantwatch/pkg/remediate"
	"github.com/grantwatch/grantwatch/pkg/result"
)

// fixFormats are the --output values of fix.
var fixFormats = []string{"table", "json"}

// Exit codes of fix: every action succeeded or nothing was needed; some
// failed; it could not run.
const (
	fixOK     = 0
	fixFailed = 1
	fixError  = 2
)

// fixRun is the "run" object of fix's JSON output: the audit it planned from.
type fixRun struct {
	ID          string `json:"id"`
	Mode        string `json:"mode"` // dry-run or apply
	Accounts    int    `json:"accounts"`
	Checks      int    `json:"checks"`
	AuditErrors int    `json:"audit_errors"`
	// Incomplete: the audit did not finish (a deadline, a failed
	// discovery), so fix may have missed what it should fix.
	Incomplete bool `json:"incomplete"`
}

type fixOutput struct {
	Run     fixRun             `json:"run"`
	Actions []remediate.Action `json:"actions"`
	// by is the principal fix ran as, at when it applied; report is the
	// audit it planned from.
	by     string
	at     time.Time
	report *result.Report
	// store keeps an apply's actions; nil without history.table.
	store *history.Store
}

// fixCmd audits, plans what the remediation section allows, and with
// --apply carries it out.
func fixCmd(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("fix", flag.ContinueOnError)
	path := fs.String("config", "", "configuration file with a remediation section (required)")
	apply := fs.Bool("apply", false, "carry out the plan; without it fix changes nothing and prints the plan (dry run)")
	output := outputFlag(fs, fixFormats)
	profile := fs.String("profile", "", "AWS shared config profile (default: the standard credential chain)")
	if err := parse(fs, args); err != nil {
		return fixError, err
	}
	if *path == "" {
		return fixError, usageError("fix needs --config FILE")
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return fixError, err
	}
	if cfg.Remediation == nil {
		return fixError, fmt.Errorf("config %s has no remediation section: fix accepts nothing on the organization's behalf without one (docs/remediation.md)", *path)
	}
	if f := cfg.Remediation.UseCaseForm; f != nil {
		if err := f.LoadForm(); err != nil {
			return fixError, fmt.Errorf("config %s: %w", *path, err)
		}
	}
	awsCfg, err := loadAWSConfig(ctx, *profile)
	if err != nil {
		return fixError, err
	}
	out, err := fix(ctx, cfg, awsCfg, *apply, progress(stderr))
	clearProgress(stderr)
	if err != nil {
		return fixError, err
	}
	if out.Run.AuditErrors > 0 || out.Run.Incomplete {
		fmt.Fprintf(stderr, "grantwatch: the audit could not check everything (%d audit errors); fix planned only from what it checked\n", out.Run.AuditErrors)
	}
	if err := writeFix(stdout, *output, out); err != nil {
		return fixError, fmt.Errorf("write plan: %w", err)
	}
	var pub remediate.Publisher
	if n := job.NewNotifier(cfg, awsCfg); n != nil {
		pub = n
	}
	if err := recordFix(ctx, stderr, out, out.store, pub); err != nil {
		// The actions happened; what failed is their record.
		fmt.Fprintf(stderr, "grantwatch: the actions were carried out but not all recorded: %v\n", err)
		return fixFailed, nil
	}
	switch {
	case remediate.Failures(out.Actions) > 0:
		return fixFailed, nil
	case out.Run.Incomplete:
		// Nothing failed, but the audit did not see everything: "nothing
		// needed" is not known.
		return fixError, nil
	}
	return fixOK, nil
}

// fix runs the audit as grantwatch run does, plans, and applies when asked.
func fix(ctx context.Context, cfg *config.Config, awsCfg aws.Config, apply bool, prog func(done, total int)) (*fixOutput, error) {
	// Who fix runs as: recorded with each action.
	parts, err := job.Build(ctx, cfg, awsCfg, func(o *job.BuildOptions) {
		o.Progress = prog
		o.Caller = true
	})
	if err != nil {
		return nil, err
	}
	now := time.Now()
	plan := parts.Planner.Plan(ctx, job.RunID(now))
	rep := parts.Checker.Check(ctx, plan)
	rem := remediate.New(cfg, awsCfg).ForRun(plan.RunID)
	actions := rem.Plan(ctx, rep, plan.Units)
	mode := "dry-run"
	if apply {
		mode = "apply"
		actions = rem.Apply(ctx, actions)
	}
	if actions == nil {
		actions = []remediate.Action{}
	}
	s := rep.Summary
	return &fixOutput{
		Run:     fixRun{ID: plan.RunID, Mode: mode, Accounts: s.Accounts, Checks: s.Checked, AuditErrors: s.AuditErrs + len(s.Errors), Incomplete: s.Incomplete || len(s.Errors) > 0},
		Actions: actions,
		by:      parts.Caller.ARN,
		store:   parts.Store,
		at:      time.Now().UTC(),
		report:  rep,
	}, nil
}

// recordFix keeps what an apply did: one history entry per action carried
// out, next to the status changes, and one SNS message per account. Either
// destination may be nil. It reports what it did on w.
func recordFix(ctx context.Context, w io.Writer, out *fixOutput, store *history.Store, pub remediate.Publisher) error {
	if out.Run.Mode != "apply" {
		return nil
	}
	records := remediate.Records(out.Run.ID, out.by, out.at, out.Actions)
	var errs []error
	if store != nil && len(records) > 0 {
		if err := store.PutActions(ctx, records); err != nil {
			errs = append(errs, err)
		} else {
			fmt.Fprintf(w, "history: %d remediation actions stored in table %s\n", len(records), store.Table())
		}
	}
	if pub != nil {
		msgs := remediate.Messages(out.Run.ID, out.by, out.Actions)
		sent, err := remediate.Publish(ctx, pub, msgs)
		if err != nil {
			errs = append(errs, err)
		}
		if len(msgs) > 0 {
			fmt.Fprintf(w, "alerts: %d of %d remediation messages published\n", sent, len(msgs))
		}
	}
	return errors.Join(errs...)
}

func writeFix(w io.Writer, format string, out *fixOutput) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	n := map[string]int{}
	for _, a := range out.Actions {
		n[a.Outcome]++
	}
	if out.Run.Mode == "dry-run" {
		fmt.Fprintf(w, "Plan from audit %s (dry run: nothing was changed; run with --apply to carry it out)\n", out.Run.ID)
	} else {
		fmt.Fprintf(w, "Applied the plan from audit %s\n", out.Run.ID)
	}
	if n[remediate.Planned]+n[remediate.Done]+n[remediate.Failed]+n[remediate.NotPlanned]+n[remediate.Unknown] == 0 {
		fmt.Fprintf(w, "Nothing to do: no missing agreement or form that the remediation section allows fixing (%d skipped).\n", n[remediate.Skipped])
	}
	account := ""
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, a := range out.Actions {
		if a.Account != account {
			account = a.Account
			fmt.Fprintf(tw, "\nAccount %s\n", account)
		}
		model := cmp.Or(a.Model, "(use-case form)")
		offer := ""
		if a.Offer != "" {
			offer = "offer " + a.Offer
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", a.Region, model, a.Action, a.Outcome, offer, oneLine(a.Reason))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d planned, %d done, %d failed, %d skipped", n[remediate.Planned], n[remediate.Done], n[remediate.Failed], n[remediate.Skipped])
	for _, o := range []string{remediate.NotPlanned, remediate.Unknown} {
		if n[o] > 0 {
			fmt.Fprintf(w, ", %d %s", n[o], strings.ReplaceAll(o, "_", " "))
		}
	}
	fmt.Fprintln(w)
	return nil
}

// oneLine keeps a reason whole, on one line: a failure's AWS message is
// what the reader acts on.
func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
