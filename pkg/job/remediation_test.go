package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	shsdk "github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/devtools/awssim"
	"github.com/grantwatch/grantwatch/pkg/devtools/localenv"
	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/remediate"
	"github.com/grantwatch/grantwatch/pkg/securityhub"
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
	WithRemediation(NewRemediation(f.job.cfg, simCfg))(f.job) // publishing through the job's notifier
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

// failFinishOnce refuses the first write that finishes a run, as a
// throttled table would: Finish fails after its remediation step, and the
// state machine retries it.
type failFinishOnce struct {
	history.API
	failed atomic.Bool
}

func (f *failFinishOnce) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if strings.HasPrefix(aws.ToString(in.UpdateExpression), "SET #state = :state, finished_at") && f.failed.CompareAndSwap(false, true) {
		return nil, errors.New("simulated: throttled")
	}
	return f.API.UpdateItem(ctx, in, o...)
}

// A sharded run remediates as the whole run does: Finish plans from what
// the batches found, applies (auto) or reports (not), and the digest says it.
func TestShardedRunRemediatesAsTheWholeRun(t *testing.T) {
	tests := []struct {
		auto        string
		wantActions []string
		wantCreates int64
		wantLine    string
		wantMessage bool
	}{
		{auto: "true", wantActions: []string{"222222222222 us-east-1 cohere.command-r-plus-v1:0 CreateFoundationModelAgreement done"},
			wantCreates: 1, wantLine: "Remediation (remediation.auto): grantwatch created 1 agreement in 1 account.", wantMessage: true},
		{auto: "false", wantActions: []string{"222222222222 us-east-1 cohere.command-r-plus-v1:0 CreateFoundationModelAgreement planned"},
			wantLine: "Remediation: grantwatch fix would create 1 agreement in 1 account (remediation.auto is off"},
	}
	for _, tt := range tests {
		t.Run("auto "+tt.auto, func(t *testing.T) {
			f := setup(t)
			f.job.now = func() time.Time { return t0 }
			f.withRemediation(t, strings.Replace(cohereOnly, "%s", tt.auto, 1))
			_, out := f.shard(t, "execution-1", 1)
			if got := actionKeys(out.Remediation); !slices.Equal(got, tt.wantActions) || out.RemediationError != "" {
				t.Fatalf("got actions %q (error %q); want %q", got, out.RemediationError, tt.wantActions)
			}
			if got := f.sim.Calls(awssim.OpCreateFoundationModelAgreement); got != tt.wantCreates {
				t.Errorf("got %d CreateFoundationModelAgreement calls; want %d", got, tt.wantCreates)
			}
			if out.Remediable != 1 {
				t.Errorf("got remediable %d; want 1 (what was planned)", out.Remediable)
			}
			msgs := f.receive(t, "all")
			if d := digestOf(msgs); !strings.Contains(d, tt.wantLine) {
				t.Errorf("digest: want %q in\n%s", tt.wantLine, d)
			}
			n := 0
			for _, m := range msgs {
				if strings.Contains(m.Subject, "account 222222222222: remediation, 1 done") {
					n++
				}
			}
			if got := n == 1; got != tt.wantMessage || n > 1 {
				t.Errorf("got %d remediation messages for the account; want one: %v", n, tt.wantMessage)
			}
		})
	}
}

// An agreement is the account's in every region (ledger
// BR-agreement-account-wide): a sharded run whose batch found it missing in
// two regions creates it once, in the first, and its Finish re-reads it in
// the other, as the whole run and grantwatch fix do.
func TestShardedRunMakesOneAgreementPerAccountAndModel(t *testing.T) {
	f := setupWith(t, func(sc *awssim.Scenario) {
		for i, a := range sc.Accounts {
			if a.ID == "222222222222" {
				sc.Accounts[i].Regions["us-west-2"].Models["cohere.command-r-plus-v1:0"] = awssim.ModelState{Agreement: "NOT_AVAILABLE"}
			}
		}
	})
	f.job.now = func() time.Time { return t0 }
	f.withRemediation(t, strings.Replace(cohereOnly, "%s", "true", 1))
	_, out := f.shard(t, "execution-1", 1)
	want := []string{"222222222222 us-east-1 cohere.command-r-plus-v1:0 CreateFoundationModelAgreement done"}
	if got := actionKeys(out.Remediation); !slices.Equal(got, want) || out.RemediationError != "" {
		t.Fatalf("got actions %q (error %q); want %q", got, out.RemediationError, want)
	}
	if got := f.sim.Calls(awssim.OpCreateFoundationModelAgreement); got != 1 {
		t.Errorf("got %d CreateFoundationModelAgreement calls; want 1 for the account and model", got)
	}
	a := out.Remediation[0]
	if got := a.Regions(); !slices.Equal(got, []string{"us-east-1", "us-west-2"}) {
		t.Errorf("the agreement covers %q; want us-east-1 and us-west-2", got)
	}
	if !strings.Contains(a.Reason, "us-west-2 reads") {
		t.Errorf("reason %q; want what us-west-2 reads after the create", a.Reason)
	}
}

// Step Functions retries a Finish that failed after it applied: the retry
// plans again, finds the agreement made, and neither creates it again nor
// records or announces it twice.
func TestRetriedFinishAppliesOnce(t *testing.T) {
	f := setup(t)
	f.job.now = func() time.Time { return t0 }
	f.withRemediation(t, strings.Replace(cohereOnly, "%s", "true", 1))
	good := f.job.store
	f.job.store = history.New(&failFinishOnce{API: f.ddb}, good.Table(), time.Hour)
	ctx := context.Background()
	st, err := f.job.Start(ctx, t0, "execution-1", 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range st.Batches {
		if _, err := f.job.RunBatch(ctx, st.RunID, t0, i); err != nil {
			t.Fatal(err)
		}
	}
	first, err := f.job.Finish(ctx, st.RunID, t0, "execution-1", st.Planning)
	if err == nil || !strings.Contains(err.Error(), "throttled") {
		t.Fatalf("first finish: got %v; want the failed write", err)
	}
	if got := actionKeys(first.Remediation); len(got) != 1 || !strings.HasSuffix(got[0], " done") {
		t.Fatalf("first finish: got actions %q; want the agreement done", got)
	}
	second, err := f.job.Finish(ctx, st.RunID, t0, "execution-1", st.Planning)
	if err != nil {
		t.Fatalf("retried finish: %v", err)
	}
	if got := f.sim.Calls(awssim.OpCreateFoundationModelAgreement); got != 1 {
		t.Errorf("got %d CreateFoundationModelAgreement calls over two Finish attempts; want 1", got)
	}
	if got := actionKeys(second.Remediation); len(got) != 1 || !strings.HasSuffix(got[0], " skipped") {
		t.Errorf("retried finish: got actions %q; want the agreement skipped (it exists)", got)
	}
	entries, _, err := good.History(ctx, history.Query{Account: "222222222222"})
	if err != nil {
		t.Fatal(err)
	}
	done := 0
	for _, e := range entries {
		if e.Status == history.ActionStatus(remediate.Done) {
			done++
		}
	}
	if done != 1 {
		t.Errorf("got %d recorded actions; want 1", done)
	}
	n := 0
	for _, m := range f.receive(t, "all") {
		if strings.Contains(m.Subject, "remediation,") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("got %d remediation messages; want 1", n)
	}
	if run, err := good.GetRun(ctx, st.RunID); err != nil || run.State == history.Running {
		t.Errorf("run record: got %+v, %v; want it finished", run, err)
	}
}

// A remediation step whose time runs out sends nothing it did not start,
// and the digest says how many were not attempted; the run is stored as
// usual and the next run plans them again.
func TestRemediationOutOfTimeSaysSo(t *testing.T) {
	f := setup(t)
	f.withRemediation(t, strings.Replace(cohereOnly, "%s", "true", 1))
	identity := f.job.remediation.Identity
	f.job.remediation.Identity = func(ctx context.Context) (string, string, error) {
		<-ctx.Done() // a slow step: the time is gone once it knows who it is
		return identity(context.WithoutCancel(ctx))
	}
	f.job.saveBudget = func(int) time.Duration { return 4 * time.Second }
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f.job.now = func() time.Time { return t0 }
	out, err := f.job.Run(ctx, t0)
	if err != nil || !out.Saved {
		t.Fatalf("run: got saved %v, %v; want the run stored", out.Saved, err)
	}
	if got := f.sim.Calls(awssim.OpCreateFoundationModelAgreement); got != 0 {
		t.Errorf("got %d CreateFoundationModelAgreement calls; want none after the time ran out", got)
	}
	if len(out.Remediation) != 1 || !out.Remediation[0].NotAttempted {
		t.Errorf("got actions %+v; want the one agreement not attempted", out.Remediation)
	}
	if out.Remediable != 1 {
		t.Errorf("got remediable %d; want 1 (the agreement not attempted is still to fix)", out.Remediable)
	}
	if d, want := digestOf(f.receive(t, "all")), "1 not attempted before the run's time ran out (the next run plans them again)"; !strings.Contains(d, want) {
		t.Errorf("digest: want %q in\n%s", want, d)
	}
}

// Remediable is the backlog still to fix: the missing agreements a batch
// record had no room for count too (the next runs plan them), most when
// the backlog is largest.
func TestRemediableCountsWhatBatchesCut(t *testing.T) {
	f := setup(t)
	f.withRemediation(t, strings.Replace(cohereOnly, "%s", "false", 1))
	f.job.now = func() time.Time { return t0 }
	candidates := []remediate.Action{{Account: "222222222222", Region: "us-east-1", Model: "cohere.command-r-plus-v1:0",
		Action: remediate.CreateAgreement, Outcome: remediate.Planned, Checks: []string{"cohere.command-r-plus-v1:0"}}}
	out := &Outcome{RunID: "run-cut"}
	f.job.remediate(context.Background(), out, candidates, leftOut{cut: 4}, 0)
	if out.Remediable != 5 {
		t.Errorf("got remediable %d (error %q); want 5: 1 planned and 4 cut", out.Remediable, out.RemediationError)
	}
}

// A missing agreement with several offers and none named in
// remediation.agreements.offers is no remediation-section refusal: the
// digest counts it apart and says to name the offer (ledger
// BR-agreement-offers).
func TestSeveralOffersAreCountedApartFromNotAllowed(t *testing.T) {
	f := setupWith(t, func(sc *awssim.Scenario) {
		sc.Agreements.PrivateOffers = map[string][]string{"cohere.command-r-plus-v1:0": {"offer-private-1"}}
	})
	f.withRemediation(t, "  auto: false\n  agreements: {models: [cohere.command-r-plus-v1:0], offer_type: ALL}\n")
	out := f.run(t, time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC))
	note := out.digestNote
	if note == nil || note.NoOffer != 1 || note.Agreements != 0 {
		t.Fatalf("digest note: got %+v; want 1 without one offer, none planned", note)
	}
	if out.Remediable != 0 {
		t.Errorf("got remediable %d; want 0 (nothing fix --apply would do)", out.Remediable)
	}
	want := "1 missing agreement without one offer to accept (none listed, or several: name the one in remediation.agreements.offers)"
	d := digestOf(f.receive(t, "all"))
	if !strings.Contains(d, want) {
		t.Errorf("digest: want %q in\n%s", want, d)
	}
	if n := strings.Count(d, "outside what the remediation section allows"); n > 0 && note.NotAllowed == 0 {
		t.Errorf("digest says %d outside the section with none counted so:\n%s", n, d)
	}
}

// countingHub answers BatchUpdateFindings as Security Hub does for known
// findings, and counts the calls and the findings each names.
type countingHub struct {
	securityhub.API
	sizes []int
}

func (h *countingHub) BatchUpdateFindings(ctx context.Context, in *shsdk.BatchUpdateFindingsInput, _ ...func(*shsdk.Options)) (*shsdk.BatchUpdateFindingsOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h.sizes = append(h.sizes, len(in.FindingIdentifiers))
	return &shsdk.BatchUpdateFindingsOutput{ProcessedFindings: in.FindingIdentifiers}, nil
}

// The notes of a large remediation share their BatchUpdateFindings calls,
// up to 100 findings each (ledger: SH-update-workflow), and stop in time
// for what comes after them.
func TestRemediationNotesAreBatched(t *testing.T) {
	var actions []remediate.Action
	for i := range 240 {
		actions = append(actions, remediate.Action{Account: fmt.Sprintf("%012d", 100000000000+i), Region: "us-east-1", Model: "cohere.command-r-plus-v1:0",
			Action: remediate.CreateAgreement, Outcome: remediate.Done, Reason: fmt.Sprintf("created (offer o-%d)", i), Checks: []string{"cohere.command-r-plus-v1:0"},
			Covers: []remediate.Cover{{Region: "eu-west-1", Checks: []string{"eu.cohere.command-r-plus-v1:0"}}}})
	}
	actions = append(actions, remediate.Action{Account: "222222222222", Region: "us-east-1", Model: "cohere.command-r-plus-v1:0",
		Action: remediate.CreateAgreement, Outcome: remediate.Failed, Reason: "AccessDeniedException", Checks: []string{"cohere.command-r-plus-v1:0"}})
	tests := []struct {
		name      string
		deadline  time.Duration
		wantSizes []int
		wantError string
	}{
		{name: "time enough", deadline: time.Minute, wantSizes: []int{100, 100, 100, 100, 80, 1}},
		{name: "the time kept is already reached", deadline: 20 * time.Second, wantError: "findings not noted: the run's time ran out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub := &countingHub{}
			j := &Job{hub: &Hub{API: hub, Source: securityhub.Source{Account: "999999999999", Region: "us-east-1", Partition: "aws"}}, logger: slog.New(slog.DiscardHandler)}
			out := &Outcome{RunID: "run-1", remediatedBy: "arn:aws:sts::999999999999:assumed-role/auditor/run", Remediation: actions}
			ctx, cancel := context.WithTimeout(context.Background(), tt.deadline)
			defer cancel()
			j.noteFindings(ctx, out, 30*time.Second)
			if !slices.Equal(hub.sizes, tt.wantSizes) {
				t.Errorf("BatchUpdateFindings calls of: got %v findings; want %v", hub.sizes, tt.wantSizes)
			}
			if !strings.Contains(out.RemediationError, tt.wantError) || (tt.wantError == "") != (out.RemediationError == "") {
				t.Errorf("remediation error: got %q; want %q", out.RemediationError, tt.wantError)
			}
		})
	}
}
