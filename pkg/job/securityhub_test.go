package job

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	securityhubapi "github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/devtools/awssim"
	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/result"
	"github.com/grantwatch/grantwatch/pkg/securityhub"
	"github.com/grantwatch/grantwatch/pkg/securityhub/shsim"
)

// withHub gives the fixture's job a recording Security Hub, reached by the
// real SDK client.
func withHub(t *testing.T, f *fixture) *shsim.Hub {
	t.Helper()
	hub := shsim.New()
	srv := httptest.NewServer(hub)
	t.Cleanup(srv.Close)
	client := securityhubapi.New(securityhubapi.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIA", "secret", ""),
	})
	if f.job.cfg.Alerts.Severity == nil {
		f.job.cfg.Alerts.Severity = result.Severities{} // shared with the hub's source, so a test may change it
	}
	f.job.hub = &Hub{API: client, Source: securityhub.Source{Account: "999999999999", Region: "us-east-1", Partition: "aws", Severity: f.job.cfg.Alerts.Severity}}
	return hub
}

// carried names the API calls since call from that touched id: "import" (an
// active import), "archive" (an import with RecordState ARCHIVED), or the
// workflow status a BatchUpdateFindings set.
func carried(hub *shsim.Hub, from int, id string) []string {
	var ops []string
	for _, c := range hub.Calls()[from:] {
		for i, cid := range c.IDs {
			if cid != id {
				continue
			}
			switch {
			case c.Op == "BatchUpdateFindings":
				ops = append(ops, "update "+string(c.Workflow))
			case c.Findings[i].RecordState == types.RecordStateArchived:
				ops = append(ops, "archive")
			default:
				ops = append(ops, "import")
			}
		}
	}
	return ops
}

// checkImports fails on an import that updates what a provider may not:
// the Workflow, top-level Severity and Types of a finding that exists.
func checkImports(t *testing.T, hub *shsim.Hub, from int) {
	t.Helper()
	calls := hub.Calls()
	for n, c := range calls[from:] {
		for _, f := range c.Findings {
			h, ok := hub.Finding(aws.ToString(f.Id))
			if !ok || h.Created == from+n {
				continue // a creation sets what it will
			}
			if f.Workflow != nil {
				t.Errorf("call %d imports %s with Workflow %s; want workflow changes through BatchUpdateFindings", from+n, aws.ToString(f.Id), f.Workflow.Status)
			}
			if f.Severity != nil || f.Types != nil {
				t.Errorf("call %d updates %s with the top-level Severity or Types; want FindingProviderFields only", from+n, aws.ToString(f.Id))
			}
		}
	}
}

// A real run of the job, against dynalite and a recording Security Hub,
// through the finding's whole life: created NEW, suppressed after creation
// (BatchUpdateFindings SUPPRESSED), the suppression ends (NEW), the model is
// dropped (archived, RESOLVED); CreatedAt never changes.
func TestFindingLifecycleThroughTheJob(t *testing.T) {
	f := setup(t)
	hub := withHub(t, f)
	const typo = "anthropic.claude-3-opus-20240229-v9:0" // 333's model with no such version
	id := "grantwatch/333333333333/us-east-1/" + typo
	claude := "grantwatch/333333333333/us-east-1/" + claude35

	steps := []struct {
		name   string
		change func(cfg *config.Config)
		// want is what carried the transition of id (and of claude, for the suppression).
		want       string
		workflow   types.WorkflowStatus
		record     types.RecordState
		claudeWant string
	}{
		{name: "first sighting", change: func(*config.Config) {}, want: "import", workflow: types.WorkflowStatusNew, record: types.RecordStateActive, claudeWant: "import"},
		{name: "suppressed after creation", change: func(cfg *config.Config) {
			cfg.Suppressions = []config.Suppression{{Account: "333333333333", Reason: "evaluation", Owner: "ml@example.com", Until: "2099-12-31"}}
		}, want: "import,update SUPPRESSED", workflow: types.WorkflowStatusSuppressed, record: types.RecordStateActive, claudeWant: "import,update SUPPRESSED"},
		{name: "still suppressed", change: func(*config.Config) {}, want: "import", workflow: types.WorkflowStatusSuppressed, record: types.RecordStateActive, claudeWant: "import"},
		{name: "suppression ends", change: func(cfg *config.Config) { cfg.Suppressions = nil },
			want: "import,update NEW", workflow: types.WorkflowStatusNew, record: types.RecordStateActive, claudeWant: "import,update NEW"},
		{name: "model dropped", change: func(cfg *config.Config) {
			cfg.Models.ByAccount["333333333333"] = slices.DeleteFunc(slices.Clone(cfg.Models.ByAccount["333333333333"]), func(m string) bool { return m == typo })
		}, want: "archive,update RESOLVED", workflow: types.WorkflowStatusResolved, record: types.RecordStateArchived, claudeWant: "import"},
		{name: "archived stays archived", change: func(*config.Config) {}, want: "", workflow: types.WorkflowStatusResolved, record: types.RecordStateArchived, claudeWant: "import"},
	}
	var created string
	for i, st := range steps {
		st.change(f.job.cfg)
		from := len(hub.Calls())
		out := f.run(t, t0.Add(time.Duration(i)*time.Hour))
		if out.SecurityHubError != "" {
			t.Fatalf("%s: %s", st.name, out.SecurityHubError)
		}
		checkImports(t, hub, from)
		if got := strings.Join(carried(hub, from, id), ","); got != st.want {
			t.Errorf("%s: %s carried by %q; want %q", st.name, id, got, st.want)
		}
		if got := strings.Join(carried(hub, from, claude), ","); got != st.claudeWant {
			t.Errorf("%s: %s carried by %q; want %q", st.name, claude, got, st.claudeWant)
		}
		got, ok := hub.Finding(id)
		if !ok {
			t.Fatalf("%s: %s not in Security Hub", st.name, id)
		}
		if got.Workflow.Status != st.workflow || got.RecordState != st.record {
			t.Errorf("%s: workflow %s, record %s; want %s, %s", st.name, got.Workflow.Status, got.RecordState, st.workflow, st.record)
		}
		if created == "" {
			created = aws.ToString(got.CreatedAt)
		}
		if aws.ToString(got.CreatedAt) != created {
			t.Errorf("%s: CreatedAt %s; want the first sighting, %s, throughout", st.name, aws.ToString(got.CreatedAt), created)
		}
	}
}

// A check usable again, or whose status is configured ignore, archives its
// finding even in an incomplete run; an incomplete run archives nothing it
// did not check; a finding that comes back is reactivated with its first
// CreatedAt, and Security Hub sets it back to NEW.
func TestFindingsArchivedForEveryReason(t *testing.T) {
	f := setup(t)
	hub := withHub(t, f)
	f.run(t, t0)
	claude := "grantwatch/333333333333/us-east-1/" + claude35
	first, _ := hub.Finding(claude)
	titan := "grantwatch/333333333333/us-east-1/amazon.titan-text-express-v1"
	titanFinding, ok := hub.Finding(titan)
	if !ok {
		t.Fatalf("run 1: no finding %s", titan)
	}
	legacy := result.Status(titanFinding.ProductFields["grantwatch/Status"])

	// 333 submits the Anthropic form: its Claude checks are usable again.
	// The titan's status is now ignored.
	if err := f.sim.Update(func(sc *awssim.Scenario) { sc.UseCaseForms = append(sc.UseCaseForms, "333333333333") }); err != nil {
		t.Fatal(err)
	}
	f.job.cfg.Alerts.Severity[legacy] = result.Ignore
	from := len(hub.Calls())
	out := f.run(t, t0.Add(time.Hour))
	if out.SecurityHubError != "" {
		t.Fatal(out.SecurityHubError)
	}
	checkImports(t, hub, from)
	for _, id := range []string{claude, titan} {
		if got := strings.Join(carried(hub, from, id), ","); got != "archive,update RESOLVED" {
			t.Errorf("%s: carried by %q; want archive,update RESOLVED", id, got)
		}
	}
	if h, _ := hub.Finding(claude); h.Compliance.Status != types.ComplianceStatusPassed || !strings.Contains(aws.ToString(h.Description), "usable again") {
		t.Errorf("usable again: compliance %s, description %q", h.Compliance.Status, aws.ToString(h.Description))
	}
	if h, _ := hub.Finding(titan); h.Compliance.Status != types.ComplianceStatusNotAvailable || !strings.Contains(aws.ToString(h.Description), "ignored") {
		t.Errorf("ignored: compliance %s, description %q", h.Compliance.Status, aws.ToString(h.Description))
	}

	// The form is withdrawn and the status alerted again: both come back,
	// reactivated, NEW again by Security Hub's own rule, first CreatedAt.
	if err := f.sim.Update(func(sc *awssim.Scenario) { sc.UseCaseForms = sc.UseCaseForms[:len(sc.UseCaseForms)-1] }); err != nil {
		t.Fatal(err)
	}
	delete(f.job.cfg.Alerts.Severity, legacy)
	from = len(hub.Calls())
	f.run(t, t0.Add(2*time.Hour))
	checkImports(t, hub, from)
	h, _ := hub.Finding(claude)
	if got := strings.Join(carried(hub, from, claude), ","); got != "import" || h.RecordState != types.RecordStateActive ||
		h.Workflow.Status != types.WorkflowStatusNew || aws.ToString(h.CreatedAt) != aws.ToString(first.CreatedAt) {
		t.Errorf("reactivated: carried by %q, record %s, workflow %s, created %s; want import, ACTIVE, NEW, %s", got, h.RecordState, h.Workflow.Status,
			aws.ToString(h.CreatedAt), aws.ToString(first.CreatedAt))
	}

	// An incomplete run that reaches little (every region answers slowly,
	// the audit gets half a second) archives nothing it did not check,
	// though 333's own models are no longer configured.
	if err := f.sim.Update(func(sc *awssim.Scenario) {
		slow := awssim.Latency{Fixed: awssim.Duration(time.Second)}
		sc.Latency = awssim.Latency{ByRegion: map[string]awssim.Latency{"us-east-1": slow, "us-west-2": slow, "eu-central-1": slow}}
	}); err != nil {
		t.Fatal(err)
	}
	f.job.cfg.Models.ByAccount["333333333333"] = nil
	f.job.saveBudget = func(int) time.Duration { return 5 * time.Second }
	from = len(hub.Calls())
	ctx, cancel := context.WithTimeout(context.Background(), 5500*time.Millisecond)
	defer cancel()
	f.job.now = func() time.Time { return t0.Add(3 * time.Hour) }
	out, err := f.job.Run(ctx, t0.Add(3*time.Hour))
	if err != nil || out.Report == nil || !out.Report.Summary.Incomplete {
		t.Fatalf("run cut by its deadline: got err %v, report %v; want an incomplete run that was stored", err, out.Report != nil)
	}
	for _, c := range hub.Calls()[from:] {
		for i, id := range c.IDs {
			if c.Op == "BatchUpdateFindings" || c.Findings[i].RecordState == types.RecordStateArchived {
				t.Errorf("incomplete run: %s %s; want nothing archived", c.Op, id)
			}
		}
	}
}

// An account that leaves the organization: the complete sharded run that
// no longer has it archives its findings in its last step (no batch has
// the account); the findings of the accounts it audits stay active.
func TestShardedRunArchivesTheFindingsOfAccountsNoLongerAudited(t *testing.T) {
	f := setup(t)
	hub := withHub(t, f)
	f.run(t, t0)
	claude := "grantwatch/333333333333/us-east-1/" + claude35
	if _, ok := hub.Finding(claude); !ok {
		t.Fatalf("run 1: no finding %s", claude)
	}
	if err := f.sim.Update(func(sc *awssim.Scenario) {
		sc.Accounts = slices.DeleteFunc(sc.Accounts, func(a awssim.Account) bool { return a.ID == "333333333333" })
	}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	at := t0.Add(time.Hour)
	f.job.now = func() time.Time { return at }
	from := len(hub.Calls())
	st, err := f.job.Start(ctx, at, "execution-2", 1)
	if err != nil || !st.Proceed {
		t.Fatalf("start: %+v, %v", st, err)
	}
	for _, i := range st.Batches {
		if _, err := f.job.RunBatch(ctx, st.RunID, at, i); err != nil {
			t.Fatal(err)
		}
	}
	out, err := f.job.Finish(ctx, st.RunID, at, "execution-2", st.Planning)
	if err != nil || out.SecurityHubError != "" {
		t.Fatalf("finish: %v, %q", err, out.SecurityHubError)
	}
	checkImports(t, hub, from)
	if got := strings.Join(carried(hub, from, claude), ","); got != "archive,update RESOLVED" {
		t.Errorf("%s: carried by %q; want archive,update RESOLVED", claude, got)
	}
	if h, _ := hub.Finding(claude); h.RecordState != types.RecordStateArchived || h.Workflow.Status != types.WorkflowStatusResolved {
		t.Errorf("%s: record %s, workflow %s; want ARCHIVED, RESOLVED", claude, h.RecordState, h.Workflow.Status)
	}
	active := 0
	for _, c := range hub.Calls()[from:] {
		for i, id := range c.IDs {
			if c.Op == "BatchImportFindings" && c.Findings[i].RecordState == types.RecordStateActive {
				active++
			}
			if strings.Contains(id, "/222222222222/") && c.Op == "BatchUpdateFindings" {
				t.Errorf("%s: workflow %s; want the findings of an audited account left alone", id, c.Workflow)
			}
		}
	}
	if active == 0 {
		t.Error("the batches imported no active finding; want those of the accounts still audited")
	}
}

// A finding archived long ago may be gone from Security Hub: its return is
// imported in full, as a creation; one archived lately, as an update. Both
// keep the first CreatedAt.
func TestReturningFindingImportedInFullAfterRetention(t *testing.T) {
	at := t0.Add(200 * 24 * time.Hour)
	r := result.Result{Account: "111111111111", Region: "us-east-1", Model: claude35, Status: result.NotAuthorized, Cause: "c", Remediation: "r"}
	ar := history.AccountRegion{Account: r.Account, Region: r.Region}
	for _, tt := range []struct {
		name     string
		archived time.Time
		full     bool
	}{
		{"archived yesterday", at.Add(-24 * time.Hour), false},
		{"archived 29 days ago", at.Add(-29 * 24 * time.Hour), false},
		{"archived 31 days ago: past the 30 days Security Hub keeps an archived finding", at.Add(-31 * 24 * time.Hour), true},
		{"archived past the retention", at.Add(-securityhub.ArchivedRetention - time.Hour), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			known := map[history.AccountRegion]*history.Findings{ar: {AccountRegion: ar, ByID: map[string]history.Finding{
				securityhub.ID(r): {Model: r.Model, Status: r.Status, CreatedAt: t0, Workflow: "RESOLVED", ArchivedAt: tt.archived},
			}}}
			fs := &findingSync{src: securityhub.Source{Account: "999999999999", Region: "us-east-1", Partition: "aws"}, at: at, known: known,
				active: map[string]pending{}, archived: map[string]pending{}}
			fs.produce(r, at)
			p := fs.active[securityhub.ID(r)]
			if full := p.finding.Severity != nil && p.finding.Types != nil; full != tt.full {
				t.Errorf("top-level Severity and Types sent: %v; want %v", full, tt.full)
			}
			if aws.ToString(p.finding.CreatedAt) != "2026-11-02T06:00:00.000Z" || p.entry.Workflow != "NEW" || p.workflow != "" {
				t.Errorf("created %s, workflow %q then %q; want the first sighting, NEW by Security Hub, no workflow call", aws.ToString(p.finding.CreatedAt), p.entry.Workflow, p.workflow)
			}
		})
	}
}

// A suppressed check whose finding was archived past Security Hub's
// retention: the import creates it again, so it sets SUPPRESSED itself, as
// for a first sighting, with no BatchUpdateFindings on a finding Security
// Hub may still be creating. One archived lately still exists: its import
// reactivates it (Security Hub sets RESOLVED back to NEW) and
// BatchUpdateFindings suppresses it.
func TestReturningSuppressedFindingCreatedSuppressed(t *testing.T) {
	at := t0.Add(200 * 24 * time.Hour)
	r := result.Result{Account: "111111111111", Region: "us-east-1", Model: claude35, Status: result.NotAuthorized, Cause: "c", Remediation: "r",
		Marks: &result.Marks{Suppressed: &result.Suppressed{Reason: "evaluation", Owner: "ml@example.com", Until: "2099-12-31"}}}
	ar := history.AccountRegion{Account: r.Account, Region: r.Region}
	for _, tt := range []struct {
		name     string
		archived time.Time
		// inImport is the Workflow the import sets, call the status a
		// BatchUpdateFindings sets after it.
		inImport, call types.WorkflowStatus
	}{
		{"archived yesterday", at.Add(-24 * time.Hour), "", types.WorkflowStatusSuppressed},
		{"archived past the retention", at.Add(-securityhub.ArchivedRetention - time.Hour), types.WorkflowStatusSuppressed, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			known := map[history.AccountRegion]*history.Findings{ar: {AccountRegion: ar, ByID: map[string]history.Finding{
				securityhub.ID(r): {Model: r.Model, Status: r.Status, CreatedAt: t0, Workflow: "RESOLVED", ArchivedAt: tt.archived},
			}}}
			fs := &findingSync{src: securityhub.Source{Account: "999999999999", Region: "us-east-1", Partition: "aws"}, at: at, known: known,
				active: map[string]pending{}, archived: map[string]pending{}}
			fs.produce(r, at)
			p := fs.active[securityhub.ID(r)]
			var inImport types.WorkflowStatus
			if p.finding.Workflow != nil {
				inImport = p.finding.Workflow.Status
			}
			if inImport != tt.inImport || p.workflow != tt.call {
				t.Errorf("import's Workflow %q, then BatchUpdateFindings %q; want %q, then %q", inImport, p.workflow, tt.inImport, tt.call)
			}
			if p.entry.Workflow != "SUPPRESSED" && tt.call == "" {
				t.Errorf("remembered workflow %q; want SUPPRESSED", p.entry.Workflow)
			}
		})
	}
}

// A finding Security Hub has but grantwatch kept no entry of (imported by a
// version that kept none, or its entry lost after the import): its check
// has been failing since before this run, so its import may be an update,
// which cannot change Workflow. The workflow is set with
// BatchUpdateFindings, either way the suppression went while nothing was
// kept.
func TestUnknownExistingFindingGetsItsWorkflowSet(t *testing.T) {
	suppression := []config.Suppression{{Account: "333333333333", Reason: "evaluation", Owner: "ml@example.com", Until: "2099-12-31"}}
	for _, tt := range []struct {
		name          string
		before, after []config.Suppression
		want          types.WorkflowStatus
	}{
		{"suppressed while nothing was kept", nil, suppression, types.WorkflowStatusSuppressed},
		{"unsuppressed while nothing was kept", suppression, nil, types.WorkflowStatusNew},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t)
			hub := withHub(t, f)
			claude := "grantwatch/333333333333/us-east-1/" + claude35
			f.job.cfg.Suppressions = tt.before
			f.run(t, t0)
			// Forget every finding kept of the account.
			kept, err := f.store.FindingsOf(context.Background(), []string{"333333333333"})
			if err != nil || len(kept) == 0 {
				t.Fatalf("findings kept after the first run: %v, %v", kept, err)
			}
			var empty []*history.Findings
			for ar := range kept {
				empty = append(empty, &history.Findings{AccountRegion: ar, ByID: map[string]history.Finding{}})
			}
			if err := f.store.SaveFindings(context.Background(), empty, t0); err != nil {
				t.Fatal(err)
			}
			f.job.cfg.Suppressions = tt.after
			from := len(hub.Calls())
			f.run(t, t0.Add(time.Hour))
			h, _ := hub.Finding(claude)
			if h.Workflow.Status != tt.want || !slices.Contains(carried(hub, from, claude), "update "+string(tt.want)) {
				t.Errorf("%s: workflow %s, carried by %q; want %s through BatchUpdateFindings", claude, h.Workflow.Status, carried(hub, from, claude), tt.want)
			}
			// Known again: the next run needs no workflow call.
			from = len(hub.Calls())
			f.run(t, t0.Add(2*time.Hour))
			if got := strings.Join(carried(hub, from, claude), ","); got != "import" {
				t.Errorf("%s, the run after: carried by %q; want one import", claude, got)
			}
		})
	}
}

// A check suppressed from its first sighting: the import that creates its
// finding sets SUPPRESSED itself (a creation may), with no workflow call.
func TestFindingSuppressedFromTheStart(t *testing.T) {
	f := setup(t)
	hub := withHub(t, f)
	f.job.cfg.Suppressions = []config.Suppression{{Account: "333333333333", Reason: "evaluation", Owner: "ml@example.com", Until: "2099-12-31"}}
	f.run(t, t0)
	claude := "grantwatch/333333333333/us-east-1/" + claude35
	h, ok := hub.Finding(claude)
	if got := strings.Join(carried(hub, 0, claude), ","); !ok || got != "import" || h.Workflow.Status != types.WorkflowStatusSuppressed {
		t.Errorf("%s: carried by %q, workflow %v; want one import that creates it SUPPRESSED", claude, got, h.Workflow)
	}
	// The next run leaves it so: the update carries no Workflow.
	f.run(t, t0.Add(time.Hour))
	checkImports(t, hub, 0)
	if got := strings.Join(carried(hub, 0, claude), ","); got != "import,import" {
		t.Errorf("%s: carried by %q; want two imports, no workflow call", claude, got)
	}
}
