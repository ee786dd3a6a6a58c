package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/devtools/awssim"
	"github.com/grantwatch/grantwatch/pkg/devtools/localenv"
	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/job"
	"github.com/grantwatch/grantwatch/pkg/remediate"
	"github.com/grantwatch/grantwatch/pkg/result"
)

// demoRemediation is the remediation section the demo adds to its
// configuration: Claude Sonnet 4.5 agreements (its profiles stand for
// it), in prod-web only.
const demoRemediation = `
remediation:
  agreements:
    models: [anthropic.claude-sonnet-4-5-20250929-v1:0]
    accounts: ["111111111111"]
`

// demoAgreementDelay is how long the simulator keeps a new agreement
// PENDING in the demo; observed with AWS: about two minutes (ledger BR-agreement-pending).
const demoAgreementDelay = time.Second

// demoFix ends the demo: grantwatch fix plans the missing agreement of run
// 2, applies it, and run 3 finds the check usable.
func demoFix(ctx context.Context, stdout io.Writer, sim *awssim.Server, cfg *config.Config, awsCfg aws.Config, j *job.Job, at time.Time,
	store *history.Store, snsServer *localenv.SNS, pub remediate.Publisher) error {
	withFix, err := config.Parse(append(slices.Clone(demoConfig), demoRemediation...))
	if err != nil {
		return err
	}
	cfg.Remediation = withFix.Remediation
	if err := sim.Update(func(sc *awssim.Scenario) { sc.Agreements.Delay = awssim.Duration(demoAgreementDelay) }); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\n== Fixing it: the configuration gets a remediation section allowing Claude Sonnet 4.5 agreements in 111111111111:")
	fmt.Fprint(stdout, indent(demoRemediation[1:]))
	quiet := func(int, int) {}

	fmt.Fprintln(stdout, "\n-- `grantwatch fix --config demo.yaml` (a dry run):")
	before := sim.Calls(awssim.OpCreateFoundationModelAgreement) + sim.Calls(awssim.OpPutUseCaseForModelAccess)
	plan, err := fix(ctx, cfg, awsCfg, false, quiet)
	if err != nil {
		return err
	}
	if err := writeFix(stdout, "table", plan); err != nil {
		return err
	}
	after := sim.Calls(awssim.OpCreateFoundationModelAgreement) + sim.Calls(awssim.OpPutUseCaseForModelAccess)
	fmt.Fprintf(stdout, "The simulator received %d write calls during the dry run.\n", after-before)

	fmt.Fprintln(stdout, "\n-- `grantwatch fix --config demo.yaml --apply`:")
	applied, err := fix(ctx, cfg, awsCfg, true, quiet)
	if err != nil {
		return err
	}
	if err := writeFix(stdout, "table", applied); err != nil {
		return err
	}
	// The demo's runs are on a simulated clock; the action sits between run 2 and run 3.
	applied.at = at.Add(-30 * time.Minute)
	if err := recordFix(ctx, stdout, applied, store, pub); err != nil {
		return err
	}
	inbox, err := snsServer.Receive(ctx, "inbox")
	if err != nil {
		return err
	}
	for _, m := range inbox {
		fmt.Fprintf(stdout, "\n-- Subject: %s\n   Attributes: account_id=%s event_type=%s severity=%s\n\n%s", m.Subject,
			m.MessageAttributes["account_id"].Value, m.MessageAttributes["event_type"].Value, m.MessageAttributes["severity"].Value, indent(m.Message))
	}

	fmt.Fprintf(stdout, "\n== Run 3, once the agreement turned AVAILABLE (the simulator's agreements.delay is %s; observed with AWS: about 2 minutes):\n", demoAgreementDelay)
	select {
	case <-time.After(demoAgreementDelay):
	case <-ctx.Done():
		return ctx.Err()
	}
	third, err := j.Run(ctx, at)
	if err != nil {
		return err
	}
	// The checks the plan was made for: 111111111111's AGREEMENT_MISSING of Sonnet 4.5 in us-east-1.
	fixed := map[string]bool{}
	for _, r := range plan.report.Results {
		if r.Account == "111111111111" && r.Region == "us-east-1" && r.Principal == "" && config.AgreementModel(r.Model) == sonnet45 && r.Status == result.AgreementMissing {
			fixed[r.Model] = true
		}
	}
	for _, r := range third.Report.Results {
		if r.Account == "111111111111" && r.Region == "us-east-1" && r.Principal == "" && fixed[r.Model] {
			fmt.Fprintf(stdout, "   111111111111 us-east-1 %s: %s\n", r.Model, r.Status)
			if r.Status != result.Enabled {
				return fmt.Errorf("demo: after fix %s reads %s; want ENABLED", r.Model, r.Status)
			}
		}
	}
	fmt.Fprintf(stdout, "   Run 3 (%s) recorded %d status changes in history.\n", third.RunID, third.Events)
	fmt.Fprintln(stdout, "\n== The latest history of account 111111111111: the action next to the status changes it caused:")
	entries, _, err := store.History(ctx, history.Query{Account: "111111111111", Since: applied.at, Limit: 20})
	if err != nil {
		return err
	}
	return writeEntries(stdout, "table", entries, false, viewFor(stdout, false))
}
