package remediate

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/bedrock"

	"github.com/grantwatch/grantwatch/pkg/check"
	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/devtools/awssim"
	"github.com/grantwatch/grantwatch/pkg/devtools/testenv"
	"github.com/grantwatch/grantwatch/pkg/result"
	"github.com/grantwatch/grantwatch/pkg/targets"
)

const (
	cohere = "cohere.command-r-plus-v1:0"
	claude = "anthropic.claude-3-5-sonnet-20240620-v1:0"
	jamba  = "ai21.jamba-1-5-large-v1:0"
)

const baseConfig = `
accounts: {static: ["111111111111", "222222222222", "333333333333", "444444444444"]}
regions: [us-east-1, us-west-2]
models: {required: [cohere.command-r-plus-v1:0, anthropic.claude-3-5-sonnet-20240620-v1:0, ai21.jamba-1-5-large-v1:0]}
role: {name: GrantwatchAudit, external_id: grantwatch-fix}
limits: {max_attempts: 2, max_backoff: 10ms}
`

type fixture struct {
	sim *awssim.Server
	cfg *config.Config
	rem *Remediator
}

func newFixture(t *testing.T, remediation string, edit func(*awssim.Scenario)) *fixture {
	t.Helper()
	sim := testenv.Simulator(t, "testdata/org.yaml", edit)
	cfg, err := config.Parse([]byte(baseConfig + remediation))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	if f := cfg.Remediation.UseCaseForm; f != nil {
		if err := f.LoadForm(); err != nil {
			t.Fatal(err)
		}
	}
	awsCfg, err := sim.ClientConfig(context.Background(), "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{sim: sim, cfg: cfg, rem: New(cfg, awsCfg)}
}

// plan audits the organization as grantwatch run does, then plans.
func (f *fixture) plan(t *testing.T) []Action {
	t.Helper()
	ctx := context.Background()
	awsCfg, err := f.sim.ClientConfig(ctx, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	p := targets.New(f.cfg, awsCfg).Plan(ctx, "run-test")
	rep := check.New(f.cfg, awsCfg).Check(ctx, p)
	return f.rem.Plan(ctx, rep, p.Units)
}

func (f *fixture) writes() int64 {
	return f.sim.Calls(awssim.OpCreateFoundationModelAgreement) + f.sim.Calls(awssim.OpPutUseCaseForModelAccess) + f.sim.Calls(awssim.OpDeleteFoundationModelAgreement)
}

// key is an action in one line, for comparing plans.
func key(a Action) string {
	return strings.Join([]string{a.Account, a.Region, a.Model, a.Action, a.Outcome}, " ")
}

func keys(actions []Action, outcome string) []string {
	var out []string
	for _, a := range actions {
		if outcome == "" || a.Outcome == outcome {
			out = append(out, key(a))
		}
	}
	return out
}

const narrow = `
remediation:
  agreements:
    models: [cohere.command-r-plus-v1:0, anthropic.claude-3-5-sonnet-20240620-v1:0]
    accounts: ["111111111111", "222222222222", "333333333333"]
    regions: [us-east-1]
`

func TestDryRunWritesNothing(t *testing.T) {
	f := newFixture(t, narrow, nil)
	actions := f.plan(t)
	if got := f.writes(); got != 0 {
		t.Fatalf("write calls in a dry run: got %d; want 0", got)
	}
	wantPlanned := []string{
		"111111111111 us-east-1 " + claude + " CreateFoundationModelAgreement planned",
		"111111111111 us-east-1 " + cohere + " CreateFoundationModelAgreement planned",
		"222222222222 us-east-1 " + claude + " CreateFoundationModelAgreement planned",
		"222222222222 us-east-1 " + cohere + " CreateFoundationModelAgreement planned",
	}
	if got := keys(actions, Planned); !slices.Equal(got, wantPlanned) {
		t.Errorf("planned:\ngot  %q\nwant %q", got, wantPlanned)
	}
	for _, a := range actions {
		if a.Outcome == Planned && (a.Offer == "" || a.token == "") {
			t.Errorf("%s: got no offer; want the offer it would accept", key(a))
		}
	}
	// The account without the remediation role cannot be planned; it is
	// reported, not fatal, and is no failed action: nothing was written.
	if got := keys(actions, NotPlanned); len(got) != 2 || !strings.HasPrefix(got[0], "333333333333 us-east-1") {
		t.Errorf("not planned: got %q; want the two actions of 333333333333", got)
	}
	if got := keys(actions, Failed); len(got) != 0 {
		t.Errorf("failed: got %q; want none in a dry run", got)
	}
	if got := Records("run-1", "arn:test", time.Now(), actions); len(got) != 0 {
		t.Errorf("records of a plan that could not be completed: got %+v; want none (nothing was done)", got)
	}
	if got := Messages("run-1", "arn:test", actions); len(got) != 0 {
		t.Errorf("messages of a plan that could not be completed: got %+v; want none", got)
	}
	skipped := map[string]string{}
	for _, a := range actions {
		if a.Outcome == Skipped {
			skipped[a.Account+" "+a.Region+" "+a.Model] = a.Reason
		}
	}
	for k, want := range map[string]string{
		"111111111111 us-east-1 " + jamba:  "remediation.agreements.models does not list " + jamba,
		"444444444444 us-east-1 " + cohere: "remediation.agreements.accounts does not list account 444444444444",
	} {
		if got := skipped[k]; got != want {
			t.Errorf("skipped %s: got reason %q; want %q", k, got, want)
		}
	}
	// us-west-2 is not in regions, but the agreement created in us-east-1
	// is the account's in every region: the one action covers it.
	for _, a := range actions {
		if a.Account == "111111111111" && a.Model == cohere {
			if a.Region != "us-east-1" || !slices.Equal(a.Regions(), []string{"us-east-1", "us-west-2"}) || !strings.Contains(a.Reason, "AGREEMENT_MISSING in us-east-1, us-west-2") {
				t.Errorf("%s covers %q (%q); want the one action in us-east-1 covering us-east-1 and us-west-2", key(a), a.Regions(), a.Reason)
			}
		}
	}
}

func TestApplyCreatesExactlyTheAllowedAgreements(t *testing.T) {
	f := newFixture(t, narrow, nil)
	ctx := context.Background()
	done := f.rem.Apply(ctx, f.plan(t))
	if got := f.sim.Calls(awssim.OpCreateFoundationModelAgreement); got != 4 {
		t.Errorf("CreateFoundationModelAgreement calls: got %d; want 4 (two accounts x two models in us-east-1)", got)
	}
	wantDone := []string{
		"111111111111 us-east-1 " + claude + " CreateFoundationModelAgreement done",
		"111111111111 us-east-1 " + cohere + " CreateFoundationModelAgreement done",
	}
	if got := keys(done, Done); !slices.Equal(got, wantDone) {
		t.Errorf("done:\ngot  %q\nwant %q", got, wantDone)
	}
	for _, a := range done {
		switch {
		case a.Outcome == Done && a.After != "AVAILABLE":
			t.Errorf("%s: re-read got %q; want AVAILABLE (the scenario's delay is 0)", key(a), a.After)
		case a.Account == "222222222222" && a.Region == "us-east-1" && a.Model != jamba && (a.Outcome != Failed || !strings.Contains(a.Reason, "AccessDeniedException") || !strings.Contains(a.Reason, "aws-marketplace:Subscribe")):
			t.Errorf("%s: got %s %q; want failed with the Marketplace AccessDeniedException", key(a), a.Outcome, a.Reason)
		}
	}
	if got := Failures(done); got != 4 {
		t.Errorf("failures: got %d; want 4 (222222222222's two denied, 333333333333's two without a role)", got)
	}

	// Nothing outside the section changed: the next audit still finds
	// those agreements missing, and 111111111111's allowed ones enabled.
	again := f.plan(t)
	for _, a := range again {
		if a.Account == "111111111111" && a.Region == "us-east-1" && a.Model != jamba {
			t.Errorf("after apply, got %s; want no action for an enabled check", key(a))
		}
	}
	if n := len(keys(again, Skipped)); n != len(keys(done, Skipped)) {
		t.Errorf("skipped after apply: got %d; want the same %d as before", n, len(keys(done, Skipped)))
	}
}

func TestSecondApplyDoesNothing(t *testing.T) {
	f := newFixture(t, `
remediation:
  agreements: {models: [cohere.command-r-plus-v1:0], accounts: ["111111111111", "444444444444"]}
`, nil)
	ctx := context.Background()
	first := f.rem.Apply(ctx, f.plan(t))
	if got := len(keys(first, Done)); got != 2 {
		t.Fatalf("first apply: got %d done; want 2 (one per account, covering both regions): %q", got, keys(first, ""))
	}
	for _, a := range first {
		if a.Outcome == Done && !strings.Contains(a.Reason, "us-west-2 reads AVAILABLE") {
			t.Errorf("%s: got %q; want the re-read of us-west-2 too", key(a), a.Reason)
		}
	}
	calls := f.sim.Calls(awssim.OpCreateFoundationModelAgreement)
	second := f.rem.Apply(ctx, f.plan(t))
	if got := keys(second, Planned); len(got) > 0 {
		t.Errorf("second plan: got %q; want nothing planned", got)
	}
	if got := keys(second, Done); len(got) > 0 {
		t.Errorf("second apply: got %q done; want nothing", got)
	}
	if got := f.sim.Calls(awssim.OpCreateFoundationModelAgreement); got != calls {
		t.Errorf("second apply: CreateFoundationModelAgreement calls went from %d to %d; want none", calls, got)
	}
}

func TestUseCaseForm(t *testing.T) {
	form := filepath.Join(t.TempDir(), "form.json")
	if err := os.WriteFile(form, []byte(`{"companyName":"Example Corp","companyWebsite":"https://www.example.com","intendedUsers":"0","industryOption":"Energy","otherIndustryOption":"","useCases":"Internal assistants"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, "\nremediation:\n  use_case_form: {file: "+form+", accounts: [\"999999999999\"]}\n", func(sc *awssim.Scenario) {
		sc.UseCaseForms = []string{} // nobody, the management account included
	})
	ctx := context.Background()
	plan := f.plan(t)
	want := []string{"999999999999 us-east-1  PutUseCaseForModelAccess planned"}
	if got := keys(plan, ""); !slices.Equal(got, want) {
		t.Fatalf("plan: got %q; want %q (the management account, in the first audited region)", got, want)
	}
	if got := f.writes(); got != 0 {
		t.Fatalf("write calls in a dry run: got %d; want 0", got)
	}
	done := f.rem.Apply(ctx, plan)
	if len(done) != 1 || done[0].Outcome != Done || done[0].After != "FOUND" {
		t.Fatalf("apply: got %+v; want the form submitted and found on re-read", done)
	}
	// The management account's form covers every member: the next audit
	// finds no NOT_AUTHORIZED, and the next plan nothing to do.
	awsCfg, _ := f.sim.ClientConfig(ctx, "us-east-1")
	p := targets.New(f.cfg, awsCfg).Plan(ctx, "run-after")
	for _, r := range check.New(f.cfg, awsCfg).Check(ctx, p).Results {
		if r.Status == result.NotAuthorized {
			t.Errorf("after the form: %s %s %s is NOT_AUTHORIZED; want the form inherited", r.Account, r.Region, r.Model)
		}
	}
	if got := keys(f.plan(t), ""); len(got) != 0 {
		t.Errorf("second plan: got %q; want nothing", got)
	}
}

func TestAgreementThatEndsInErrorFails(t *testing.T) {
	const noPayment = "No valid payment method for AWS Marketplace purchases."
	f := newFixture(t, `
remediation:
  agreements: {models: [cohere.command-r-plus-v1:0], accounts: ["444444444444"], regions: [us-east-1]}
`, func(sc *awssim.Scenario) {
		for i := range sc.Accounts {
			if sc.Accounts[i].ID == "444444444444" {
				sc.Accounts[i].AgreementFails = noPayment
			}
		}
	})
	done := f.rem.Apply(context.Background(), f.plan(t))
	want := []string{"444444444444 us-east-1 " + cohere + " CreateFoundationModelAgreement failed"}
	if got := keys(done, Failed); !slices.Equal(got, want) {
		t.Fatalf("apply: got %q; want %q", got, want)
	}
	if a := done[slices.IndexFunc(done, func(a Action) bool { return a.Outcome == Failed })]; a.After != "ERROR" || !strings.Contains(a.Reason, noPayment) {
		t.Errorf("reason: got %s %q; want ERROR with AWS's errorMessage", a.After, a.Reason)
	}
}

func TestAgreementStillPendingIsDone(t *testing.T) {
	f := newFixture(t, `
remediation:
  agreements: {models: [cohere.command-r-plus-v1:0], accounts: ["444444444444"], regions: [us-east-1]}
`, func(sc *awssim.Scenario) { sc.Agreements.Delay = awssim.Duration(time.Hour) })
	done := slices.DeleteFunc(f.rem.Apply(context.Background(), f.plan(t)), func(a Action) bool { return a.Outcome == Skipped })
	if len(done) != 1 || done[0].Outcome != Done || done[0].After != "PENDING" || !strings.Contains(done[0].Reason, "still being set up") {
		t.Fatalf("apply: got %+v; want done, reading PENDING", done)
	}
}

// The providers the configuration refuses an agreement for are AWS's list
// of providers not sold through Marketplace, as the product-id data has it
// (ledger MP-not-sold-providers, MP-agreement-models).
func TestNotSoldProvidersAreAWSsList(t *testing.T) {
	b, err := os.ReadFile("../check/data/marketplace.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		NotSold struct {
			Providers []string `json:"providers"`
		} `json:"not_sold_through_marketplace"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(slices.Values(d.NotSold.Providers))
	if got := config.NotSoldProviders(); !slices.Equal(got, want) {
		t.Errorf("config.NotSoldProviders: got %q; want marketplace.json's %q", got, want)
	}
}

// A create whose answer is lost succeeded on the server: the SDK's retry
// gets ConflictException, and the agreement this run made is done, not
// skipped (ledger BR-agreement-retry).
func TestRetriedCreateThatSucceededIsDone(t *testing.T) {
	f := newFixture(t, `
remediation:
  agreements: {models: [cohere.command-r-plus-v1:0], accounts: ["444444444444"], regions: [us-east-1]}
`, func(sc *awssim.Scenario) {
		sc.Faults = append(sc.Faults, awssim.Rule{Operation: awssim.OpCreateFoundationModelAgreement, Account: "444444444444", Count: 1, Status: 500, AfterWrite: true})
	})
	done := slices.DeleteFunc(f.rem.Apply(context.Background(), f.plan(t)), func(a Action) bool { return a.Outcome == Skipped })
	if got := f.sim.Calls(awssim.OpCreateFoundationModelAgreement); got != 2 {
		t.Errorf("CreateFoundationModelAgreement calls: got %d; want 2 (the lost answer and the retry)", got)
	}
	if len(done) != 1 || done[0].Outcome != Done || done[0].After != "AVAILABLE" || !strings.Contains(done[0].Reason, "ConflictException") {
		t.Fatalf("apply: got %+v; want done, reading AVAILABLE, saying the create answered ConflictException", done)
	}
}

// Of several offers fix picks none by itself; the configured offer id is
// the one planned and applied, also when apply gets the action without
// its token (ledger BR-agreement-offers).
func TestOfferSelection(t *testing.T) {
	private := func(sc *awssim.Scenario) {
		sc.Agreements.PrivateOffers = map[string][]string{cohere: {"offer-private-1"}}
	}
	only := func(actions []Action) Action {
		t.Helper()
		i := slices.IndexFunc(actions, func(a Action) bool {
			return a.Account == "444444444444" && a.Model == cohere && a.Region == "us-east-1"
		})
		if i < 0 {
			t.Fatalf("no action for 444444444444 us-east-1 %s in %q", cohere, keys(actions, ""))
		}
		return actions[i]
	}
	t.Run("several offers and none named: skipped, listing them", func(t *testing.T) {
		f := newFixture(t, `
remediation:
  agreements: {models: [cohere.command-r-plus-v1:0], accounts: ["444444444444"], regions: [us-east-1], offer_type: ALL}
`, private)
		a := only(f.plan(t))
		if a.Outcome != Skipped || !strings.Contains(a.Reason, "offer-private-1") || !strings.Contains(a.Reason, "remediation.agreements.offers") {
			t.Errorf("got %s %q; want skipped, naming the offers and the setting", a.Outcome, a.Reason)
		}
	})
	t.Run("the named offer is planned and applied, by its id", func(t *testing.T) {
		f := newFixture(t, `
remediation:
  agreements: {models: [cohere.command-r-plus-v1:0], accounts: ["444444444444"], regions: [us-east-1], offer_type: ALL, offers: {"cohere.command-r-plus-v1:0": offer-private-1}}
`, private)
		plan := f.plan(t)
		if a := only(plan); a.Outcome != Planned || a.Offer != "offer-private-1" {
			t.Fatalf("plan: got %s offer %q; want planned with offer-private-1", a.Outcome, a.Offer)
		}
		for i := range plan {
			plan[i].token = "" // as read back from the dry run's JSON
		}
		if a := only(f.rem.Apply(context.Background(), plan)); a.Outcome != Done || a.Offer != "offer-private-1" {
			t.Errorf("apply: got %s %q offer %q; want done with offer-private-1", a.Outcome, a.Reason, a.Offer)
		}
	})
	t.Run("a named offer that is not listed is not planned", func(t *testing.T) {
		f := newFixture(t, `
remediation:
  agreements: {models: [cohere.command-r-plus-v1:0], accounts: ["444444444444"], regions: [us-east-1], offers: {"cohere.command-r-plus-v1:0": offer-gone}}
`, nil)
		if a := only(f.plan(t)); a.Outcome != NotPlanned || !strings.Contains(a.Reason, "offer-gone") {
			t.Errorf("got %s %q; want not_planned naming offer-gone", a.Outcome, a.Reason)
		}
	})
}

// A plan applied twice (a retried Step Functions Finish, a Lambda retry of
// a run that applied before it crashed) creates each agreement once: the
// second Apply reads the agreement first and leaves it alone.
func TestStalePlanAppliedAgainCreatesNothing(t *testing.T) {
	f := newFixture(t, `
remediation:
  agreements: {models: [cohere.command-r-plus-v1:0], accounts: ["111111111111"], regions: [us-east-1]}
`, nil)
	ctx := context.Background()
	plan := f.plan(t)
	if got := keys(plan, Planned); len(got) != 1 {
		t.Fatalf("plan: got %q planned; want one agreement", got)
	}
	first := f.rem.Apply(ctx, plan)
	if got := keys(first, Done); len(got) != 1 {
		t.Fatalf("first apply: got %q; want one done", keys(first, ""))
	}
	again := f.rem.Apply(ctx, plan)
	if got := f.sim.Calls(awssim.OpCreateFoundationModelAgreement); got != 1 {
		t.Errorf("got %d CreateFoundationModelAgreement calls; want 1", got)
	}
	for i, a := range again {
		if plan[i].Outcome == Planned && (a.Outcome != Skipped || !strings.Contains(a.Reason, "exists already")) {
			t.Errorf("second apply of the same plan: got %+v; want skipped, the agreement exists already", a)
		}
	}
}

// Actions the time for remediation does not reach are skipped, marked
// NotAttempted, and nothing is sent for them.
func TestApplyAfterTheDeadlineSendsNothing(t *testing.T) {
	f := newFixture(t, `
remediation:
  agreements: {models: [cohere.command-r-plus-v1:0]}
`, nil)
	plan := f.plan(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := f.rem.Apply(ctx, plan)
	if got := f.writes(); got != 0 {
		t.Errorf("got %d write calls; want none once the time ran out", got)
	}
	n := 0
	for _, a := range out {
		if a.NotAttempted {
			n++
			if a.Outcome != Skipped || !strings.Contains(a.Reason, "next run plans it again") {
				t.Errorf("got %+v; want skipped, saying the next run plans it again", a)
			}
		}
	}
	if n != len(keys(plan, Planned)) || n == 0 {
		t.Errorf("got %d actions not attempted; want all %d planned", n, len(keys(plan, Planned)))
	}
}

const oneAgreement = `
remediation:
  agreements: {models: [cohere.command-r-plus-v1:0], accounts: ["444444444444"], regions: [us-east-1]}
`

// theAgreement is the one CreateFoundationModelAgreement action of out.
func theAgreement(t *testing.T, out []Action) Action {
	t.Helper()
	i := slices.IndexFunc(out, func(a Action) bool { return a.Action == CreateAgreement && a.Outcome != Skipped })
	if i < 0 {
		t.Fatalf("no agreement action carried out in %q", keys(out, ""))
	}
	return out[i]
}

// The step's deadline decides only whether an action starts: a create
// still in flight when it passes finishes, and what AWS made is recorded
// as done, never as failed (ledger BR-agreement-pending, BR-agreement-retry).
func TestStartedCreateOutlivesTheDeadline(t *testing.T) {
	tests := []struct {
		name        string
		answerDelay time.Duration
		callTimeout time.Duration
		wantReason  string
	}{
		{name: "the answer comes after the step's deadline", answerDelay: 400 * time.Millisecond, callTimeout: 10 * time.Second, wantReason: "agreement requested"},
		{name: "the answer never comes within the call timeout", answerDelay: 5 * time.Second, callTimeout: 500 * time.Millisecond, wantReason: "answer was lost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, oneAgreement, func(sc *awssim.Scenario) {
				sc.Faults = append(sc.Faults, awssim.Rule{Operation: awssim.OpCreateFoundationModelAgreement, Account: "444444444444", Count: 1,
					AfterWrite: true, AnswerDelay: config.Duration(tt.answerDelay)})
			})
			f.cfg.Limits.CallTimeout = config.Duration(tt.callTimeout)
			plan := f.plan(t)
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			a := theAgreement(t, f.rem.Apply(ctx, plan))
			if ctx.Err() == nil {
				t.Fatal("the step's deadline had not passed when Apply returned; the test proves nothing")
			}
			if a.Outcome != Done || (a.After != "PENDING" && a.After != "AVAILABLE") || !strings.Contains(a.Reason, tt.wantReason) {
				t.Errorf("got %s after %q: %q; want done, reading PENDING or AVAILABLE, saying %q", a.Outcome, a.After, a.Reason, tt.wantReason)
			}
			if got := f.sim.Calls(awssim.OpCreateFoundationModelAgreement); got != 1 {
				t.Errorf("CreateFoundationModelAgreement calls: got %d; want 1", got)
			}
		})
	}
}

// failingReads makes every GetFoundationModelAvailability after the
// first n fail, as a connection lost for good would.
type failingReads struct {
	Bedrock
	n     *atomic.Int32
	after int32
}

func (b failingReads) GetFoundationModelAvailability(ctx context.Context, in *bedrock.GetFoundationModelAvailabilityInput, optFns ...func(*bedrock.Options)) (*bedrock.GetFoundationModelAvailabilityOutput, error) {
	if b.n.Add(1) > b.after {
		return nil, errors.New("dial tcp: connection refused")
	}
	return b.Bedrock.GetFoundationModelAvailability(ctx, in, optFns...)
}

// A create whose answer is lost and whose agreement cannot be read back
// is unknown: recorded and announced as such, never as failed.
func TestLostCreateThatCannotBeReadIsUnknown(t *testing.T) {
	f := newFixture(t, oneAgreement, func(sc *awssim.Scenario) {
		sc.Faults = append(sc.Faults, awssim.Rule{Operation: awssim.OpCreateFoundationModelAgreement, Account: "444444444444", Count: 1,
			AfterWrite: true, AnswerDelay: config.Duration(5 * time.Second)})
	})
	f.cfg.Limits.CallTimeout = config.Duration(300 * time.Millisecond)
	plan := f.plan(t)
	sim, reads := f.rem.newBedrock, &atomic.Int32{}
	f.rem.newBedrock = func(account, region string) Bedrock {
		return failingReads{Bedrock: sim(account, region), n: reads, after: 1}
	}
	out := f.rem.Apply(context.Background(), plan)
	a := theAgreement(t, out)
	if a.Outcome != Unknown || !strings.Contains(a.Reason, "may have been created") {
		t.Errorf("got %s: %q; want unknown, saying it may have been created", a.Outcome, a.Reason)
	}
	if recs := Records("run-1", "arn:test", time.Now(), out); len(recs) != 1 || recs[0].Outcome != Unknown {
		t.Errorf("records: got %+v; want one, unknown", recs)
	}
	if msgs := Messages("run-1", "arn:test", out); len(msgs) != 1 || !strings.Contains(msgs[0].Subject, "0 failed, 1 unknown") {
		t.Errorf("messages: got %+v; want one saying 0 failed, 1 unknown", msgs)
	}
}

// Without the read before the create, a create could accept terms twice:
// a failed read fails the action and creates nothing.
func TestUnreadableAgreementIsNotCreated(t *testing.T) {
	f := newFixture(t, oneAgreement, nil)
	plan := f.plan(t)
	if err := f.sim.Update(func(sc *awssim.Scenario) {
		sc.Faults = append(sc.Faults, awssim.Rule{Operation: awssim.OpGetFoundationModelAvailability, Account: "444444444444", Rate: 1, Status: 500})
	}); err != nil {
		t.Fatal(err)
	}
	a := theAgreement(t, f.rem.Apply(context.Background(), plan))
	if a.Outcome != Failed || !strings.Contains(a.Reason, "could not read the agreement before creating it") {
		t.Errorf("got %s: %q; want failed, could not read the agreement before creating it", a.Outcome, a.Reason)
	}
	if got := f.writes(); got != 0 {
		t.Errorf("got %d write calls; want none", got)
	}
}

// The remediation role's session is named after the run, within
// RoleSessionName's 64 characters of [\w+=,.@-] (ledger STS-session-name),
// and an applied action records that session as who made it.
func TestActionsRecordTheRunsRemediationSession(t *testing.T) {
	for _, tt := range []struct{ base, runID, want string }{
		{base: "grantwatch", runID: "run-20261130T050000Z", want: "grantwatch-run-20261130T050000Z"},
		{base: strings.Repeat("g", 64), runID: "run-20261130T050000Z", want: strings.Repeat("g", 43) + "-run-20261130T050000Z"},
		{base: "grantwatch", runID: "", want: "grantwatch"},
	} {
		if got := SessionName(tt.base, tt.runID); got != tt.want || len(got) > 64 {
			t.Errorf("SessionName(%q, %q): got %q; want %q", tt.base, tt.runID, got, tt.want)
		}
	}
	f := newFixture(t, oneAgreement, nil)
	rem := f.rem.ForRun("run-20261130T050000Z")
	a := theAgreement(t, rem.Apply(context.Background(), f.plan(t)))
	want := "arn:aws:sts::444444444444:assumed-role/" + f.cfg.Remediation.RoleName + "/grantwatch-run-20261130T050000Z"
	if a.Outcome != Done || a.By != want {
		t.Fatalf("got %s by %q; want done by %q", a.Outcome, a.By, want)
	}
	if recs := Records("run-20261130T050000Z", "arn:aws:sts::999999999999:assumed-role/GrantwatchAuditor/x", time.Now(), []Action{a}); len(recs) != 1 || recs[0].By != want {
		t.Errorf("records: got %+v; want one by %q", recs, want)
	}
}
