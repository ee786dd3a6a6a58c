package job

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/devtools/awssim"
	"github.com/grantwatch/grantwatch/pkg/devtools/localenv"
	"github.com/grantwatch/grantwatch/pkg/devtools/testenv"
	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/remediate"
)

// withRemediation gives the fixture's job the remediation section and its
// step, publishing to the fixture's SNS.
func (f *fixture) withRemediation(t *testing.T, section string) {
	t.Helper()
	base, err := os.ReadFile("testdata/grantwatch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := config.Parse(append(base, []byte("remediation:\n"+section)...))
	if err != nil {
		t.Fatalf("remediation section: %v", err)
	}
	f.job.cfg.Remediation = parsed.Remediation
	simCfg, err := f.sim.ClientConfig(context.Background(), "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	r := NewRemediation(f.job.cfg, simCfg)
	r.Publisher = sns.NewFromConfig(testenv.AWSConfig(t, f.sns.Endpoint))
	WithRemediation(r)(f.job)
}

const cohereOnly = "  auto: %s\n  agreements: {models: [cohere.command-r-plus-v1:0]}\n"

// digestOf is the body of the run's digest among msgs ("" for none).
func digestOf(msgs []localenv.Notification) string {
	for _, m := range msgs {
		if m.MessageAttributes["account_id"].Value == "ALL" && strings.Contains(m.MessageAttributes["event_type"].Value, "DIGEST") {
			return m.Message
		}
	}
	return ""
}

func actionKeys(actions []remediate.Action) []string {
	var ks []string
	for _, a := range actions {
		ks = append(ks, strings.Join([]string{a.Account, a.Region, a.Model, a.Action, a.Outcome}, " "))
	}
	return ks
}

func TestScheduledRunAppliesThePlanWithAuto(t *testing.T) {
	f := setup(t)
	f.withRemediation(t, strings.Replace(cohereOnly, "%s", "true", 1))
	at := time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC)

	out := f.run(t, at)
	want := []string{"222222222222 us-east-1 cohere.command-r-plus-v1:0 CreateFoundationModelAgreement done"}
	if got := actionKeys(out.Remediation); !slices.Equal(got, want) {
		t.Fatalf("got actions %q; want %q (error %q)", got, want, out.RemediationError)
	}
	if out.RemediationError != "" {
		t.Errorf("got remediation error %q; want none", out.RemediationError)
	}
	if got := f.sim.Calls(awssim.OpCreateFoundationModelAgreement); got != 1 {
		t.Errorf("got %d CreateFoundationModelAgreement calls; want 1", got)
	}

	// The action is in the account's history, as fix --apply records it.
	entries, _, err := f.store.History(context.Background(), history.Query{Account: "222222222222"})
	if err != nil {
		t.Fatal(err)
	}
	var actions []history.Entry
	for _, e := range entries {
		if e.Status == history.ActionStatus(remediate.Done) {
			actions = append(actions, e)
		}
	}
	if len(actions) != 1 || actions[0].RunID != out.RunID || actions[0].Model != "cohere.command-r-plus-v1:0" || !strings.Contains(actions[0].Cause, "CreateFoundationModelAgreement") {
		t.Errorf("got history actions %+v; want one CreateFoundationModelAgreement of run %s", actions, out.RunID)
	}

	// One message for the account, among the run's alerts, and the
	// digest's line.
	msgs := f.receive(t, "all")
	if d, want := digestOf(msgs), "Remediation (remediation.auto): grantwatch created 1 agreement in 1 account."; !strings.Contains(d, want) {
		t.Errorf("digest: want %q in\n%s", want, d)
	}
	var remediation []string
	for _, m := range msgs {
		if strings.Contains(m.Subject, "remediation") {
			remediation = append(remediation, m.Subject)
		}
	}
	if want := []string{"[grantwatch] account 222222222222: remediation, 1 done, 0 failed"}; !slices.Equal(remediation, want) {
		t.Errorf("got remediation messages %q; want %q", remediation, want)
	}

	// The next run finds the agreement and does nothing.
	next := f.run(t, at.Add(time.Hour))
	if got := f.sim.Calls(awssim.OpCreateFoundationModelAgreement); got != 1 || len(next.Remediation) != 0 || next.Remediable != 0 {
		t.Errorf("second run: got %d create calls, actions %q, remediable %d; want 1, none, 0", got, actionKeys(next.Remediation), next.Remediable)
	}
}

func TestScheduledRunOnlyReportsWithoutAuto(t *testing.T) {
	f := setup(t)
	f.withRemediation(t, strings.Replace(cohereOnly, "%s", "false", 1))
	at := time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC)

	out := f.run(t, at)
	if got := f.sim.Calls(awssim.OpCreateFoundationModelAgreement) + f.sim.Calls(awssim.OpPutUseCaseForModelAccess); got != 0 {
		t.Errorf("got %d write calls; want 0 without remediation.auto", got)
	}
	want := []string{"222222222222 us-east-1 cohere.command-r-plus-v1:0 CreateFoundationModelAgreement planned"}
	if got := actionKeys(out.Remediation); !slices.Equal(got, want) || out.Remediable != 1 {
		t.Fatalf("got actions %q, remediable %d; want %q, 1 (error %q)", got, out.Remediable, want, out.RemediationError)
	}
	// The digest says it in one line; no other message is about it.
	msgs := f.receive(t, "all")
	want1 := "Remediation: grantwatch fix would create 1 agreement in 1 account (remediation.auto is off"
	if d := digestOf(msgs); !strings.Contains(d, want1) {
		t.Errorf("digest: want %q in\n%s", want1, d)
	}
	for _, m := range msgs {
		if strings.Contains(m.Subject, "remediation") || strings.Contains(m.Subject, "remediable") {
			t.Errorf("got message %q; want the plan in the digest only", m.Subject)
		}
	}
	entries, _, err := f.store.History(context.Background(), history.Query{Account: "222222222222"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(string(e.Status), "REMEDIATION_") {
			t.Errorf("got history action %+v; want none without remediation.auto", e)
		}
	}
}

func TestRunWithoutRemediationSectionPlansNothing(t *testing.T) {
	f := setup(t)
	out := f.run(t, time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC))
	if out.Remediation != nil || out.Remediable != 0 || f.sim.Calls(awssim.OpListFoundationModelAgreementOffers) != 0 {
		t.Errorf("got actions %q, remediable %d, %d offer reads; want none without a remediation section",
			actionKeys(out.Remediation), out.Remediable, f.sim.Calls(awssim.OpListFoundationModelAgreementOffers))
	}
}

func TestScheduledRemediationNotesTheFinding(t *testing.T) {
	f := setup(t)
	hub := withHub(t, f)
	f.withRemediation(t, strings.Replace(cohereOnly, "%s", "true", 1))
	out := f.run(t, time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC))
	if out.RemediationError != "" {
		t.Fatalf("got remediation error %q; want none", out.RemediationError)
	}
	id := "grantwatch/222222222222/us-east-1/cohere.command-r-plus-v1:0"
	fd, ok := hub.Finding(id)
	if !ok {
		t.Fatalf("finding %s: not imported", id)
	}
	if fd.Note == nil || !strings.Contains(aws.ToString(fd.Note.Text), "CreateFoundationModelAgreement cohere.command-r-plus-v1:0: done") ||
		aws.ToString(fd.Note.UpdatedBy) != "grantwatch" {
		t.Errorf("got note %+v; want grantwatch's note of the agreement it created", fd.Note)
	}
	if fd.Workflow == nil || fd.Workflow.Status == types.WorkflowStatusResolved {
		t.Errorf("got workflow %+v; want it left to the next run's import", fd.Workflow)
	}
}
