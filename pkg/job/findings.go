package job

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/grantwatch/grantwatch/pkg/changes"
	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/result"
	"github.com/grantwatch/grantwatch/pkg/securityhub"
)

// Why a finding is archived: its description once archived, and the note of
// its RESOLVED workflow.
const (
	whyUsable  = "grantwatch: the check is usable again."
	whyIgnored = "grantwatch no longer reports this check: its status is configured to be ignored (alerts.severity), or it repeats its account's own problem, which the account's finding reports."
	whyDropped = "grantwatch no longer checks this: the model, region or principal is no longer configured, or the account is no longer audited."
)

// findingSync is what one run (or part of one) does to Security Hub: the
// findings it creates or updates, those it archives, and the workflow
// changes, worked out from the findings grantwatch keeps in the history
// table (known).
type findingSync struct {
	src   securityhub.Source
	at    time.Time
	known map[history.AccountRegion]*history.Findings
	// active are imports of findings the run produces, archived those of
	// findings it no longer does; both keyed by finding id.
	active, archived map[string]pending
}

// pending is one finding to import and what to remember of it once done.
type pending struct {
	ar       history.AccountRegion
	finding  types.AwsSecurityFinding
	entry    history.Finding
	workflow types.WorkflowStatus // the status to set, when it differs from entry.Workflow
}

func (fs *findingSync) entry(ar history.AccountRegion, id string) (history.Finding, bool) {
	if set := fs.known[ar]; set != nil {
		e, ok := set.ByID[id]
		return e, ok
	}
	return history.Finding{}, false
}

// produce adds the finding of r, a check the run reports as a problem: a
// creation (Workflow only when suppressed already; else Security Hub starts
// it NEW) or an update that keeps its first sighting as CreatedAt; a later
// change of its workflow (suppressed, no longer suppressed) goes through
// BatchUpdateFindings.
func (fs *findingSync) produce(r result.Result, since time.Time) {
	ar := history.AccountRegion{Account: r.Account, Region: r.Region}
	id := securityhub.ID(r)
	prev, known := fs.entry(ar, id)
	entry := history.Finding{Model: r.Model, Principal: r.Principal, Status: r.Status, CreatedAt: since.UTC(), Workflow: string(types.WorkflowStatusNew)}
	if known {
		entry.CreatedAt = prev.CreatedAt // ledger: SH-created-at
	}
	f := fs.src.Finding(r, entry.CreatedAt, fs.at)
	// creation: Security Hub has no such finding, or may have deleted it
	// (archived longer ago than it keeps one: ledger SH-finding-retention).
	creation := !known
	if known {
		if prev.Open() {
			entry.Workflow = prev.Workflow
		} // else reopened: Security Hub sets RESOLVED back to NEW (ledger: SH-workflow-reset)
		if prev.Open() || fs.at.Sub(prev.ArchivedAt) < securityhub.ArchivedRetention {
			f = securityhub.Update(f)
		} else {
			creation = true // the import creates it again, in full
		}
	}
	p := pending{ar: ar, finding: f, entry: entry}
	switch w := securityhub.Workflow(r); {
	case !known && since.Before(fs.at):
		// Failing since before this run, yet nothing kept of its finding:
		// Security Hub may have it already (imported before grantwatch kept
		// its findings, or its entry lost after the import), and an import
		// cannot change its workflow (ledger: SH-import-no-workflow). Set it
		// with BatchUpdateFindings, whatever it is; the import sets it too,
		// for the case it creates the finding.
		if w != types.WorkflowStatusNew {
			p.finding.Workflow = &types.Workflow{Status: w}
		}
		p.entry.Workflow, p.workflow = "", w // unknown until set
	case creation && w != types.WorkflowStatusNew:
		// A creation may set Workflow (ledger: SH-import-no-workflow):
		// no BatchUpdateFindings on a finding Security Hub may still be
		// processing.
		p.finding.Workflow = &types.Workflow{Status: w}
		p.entry.Workflow = string(w)
	case string(w) != entry.Workflow:
		p.workflow = w
	}
	fs.active[id] = p
}

// archive adds the archiving update of a known open finding: from r when
// the run checked it, else from what was kept of it.
func (fs *findingSync) archive(ar history.AccountRegion, id string, e history.Finding, r *result.Result, why string) {
	if r == nil {
		r = &result.Result{Account: ar.Account, Region: ar.Region, Model: e.Model, Principal: e.Principal, Status: e.Status}
	}
	rr := *r
	rr.Remediation = "None: " + why
	entry := e
	entry.ArchivedAt, entry.Workflow = fs.at, string(types.WorkflowStatusResolved)
	fs.archived[id] = pending{ar: ar, finding: fs.src.Archived(rr, e.CreatedAt, fs.at, why), entry: entry, workflow: types.WorkflowStatusResolved}
}

// sendFindings brings Security Hub in line with the report of a run or of a
// part of one: a finding for every check that is not usable (or could not
// be checked) and alerts; the known open findings the report no longer
// produces are archived and resolved, when the report says why: the check
// is usable again or ignored, or (a complete report only) it was not
// checked at all in an account-region the report reached without an audit
// error. An incomplete report archives nothing it did not check. A failure
// is reported in the outcome; what was not done is done by the next run.
func (j *Job) sendFindings(ctx context.Context, out *Outcome, updates []changes.Update, at time.Time, sc scope) {
	rep := out.Report
	complete := !rep.Summary.Incomplete && !rep.Summary.Failed()
	var accounts []string
	checked := map[string]result.Result{}
	auditError := map[history.AccountRegion]bool{}
	for _, r := range rep.Results {
		if len(accounts) == 0 || accounts[len(accounts)-1] != r.Account { // results are sorted
			accounts = append(accounts, r.Account)
		}
		checked[securityhub.ID(r)] = r
		if r.Status == result.AuditError {
			auditError[history.AccountRegion{Account: r.Account, Region: r.Region}] = true
		}
	}
	var known map[history.AccountRegion]*history.Findings
	var err error
	if sc == wholeRun && complete {
		known, err = j.store.AllFindings(ctx) // accounts no longer audited included
	} else {
		known, err = j.store.FindingsOf(ctx, accounts)
	}
	if err != nil {
		j.findingsFailed(ctx, out, err)
		return
	}
	since := make(map[changes.Key]time.Time, len(updates))
	for _, u := range updates {
		since[u.Key] = u.Next.Since
	}
	fs := &findingSync{src: j.hub.Source, at: at, known: known, active: map[string]pending{}, archived: map[string]pending{}}
	for _, r := range rep.Results {
		if r.Status.Usable() || !fs.src.Severity.For(r).Alerts() {
			continue
		}
		first := since[changes.KeyOf(r)]
		if first.IsZero() {
			first = at
		}
		fs.produce(r, first)
	}
	for ar, set := range known {
		for id, e := range set.ByID {
			if !e.Open() {
				continue
			}
			if _, ok := fs.active[id]; ok {
				continue
			}
			switch r, ok := checked[id]; {
			case ok && r.Status.Usable():
				fs.archive(ar, id, e, &r, whyUsable)
			case ok && !fs.src.Severity.For(r).Alerts():
				fs.archive(ar, id, e, &r, whyIgnored)
			case !ok && complete && !auditError[ar]:
				fs.archive(ar, id, e, nil, whyDropped)
			}
		}
	}
	j.applyFindings(ctx, out, fs)
}

// archiveDropped archives the known open findings of the accounts a
// complete sharded run no longer audits (none of its batches had them);
// its batches took care of their own accounts.
func (j *Job) archiveDropped(ctx context.Context, out *Outcome, audited map[string]bool, at time.Time) {
	known, err := j.store.AllFindings(ctx)
	if err != nil {
		j.findingsFailed(ctx, out, err)
		return
	}
	fs := &findingSync{src: j.hub.Source, at: at, known: known, active: map[string]pending{}, archived: map[string]pending{}}
	for ar, set := range known {
		if audited[ar.Account] {
			continue
		}
		for id, e := range set.ByID {
			if e.Open() {
				fs.archive(ar, id, e, nil, whyDropped)
			}
		}
	}
	j.applyFindings(ctx, out, fs)
}

// applyFindings imports, sets workflows, then records what Security Hub
// accepted: a finding is remembered as archived only once both its archive
// import and its RESOLVED workflow went through, so that a failure is
// retried by the next run.
func (j *Job) applyFindings(ctx context.Context, out *Outcome, fs *findingSync) {
	var findings []types.AwsSecurityFinding
	for _, id := range slices.Sorted(maps.Keys(fs.active)) {
		findings = append(findings, fs.active[id].finding)
	}
	for _, id := range slices.Sorted(maps.Keys(fs.archived)) {
		findings = append(findings, fs.archived[id].finding)
	}
	var errs []error
	imported, err := securityhub.Import(ctx, j.hub.API, findings)
	out.FindingsImported += len(imported)
	if err != nil {
		errs = append(errs, err)
	}
	// ids by the workflow status to set, among those imported.
	byStatus := map[types.WorkflowStatus][]string{}
	for _, group := range []map[string]pending{fs.active, fs.archived} {
		for _, id := range slices.Sorted(maps.Keys(group)) {
			if p := group[id]; imported[id] && p.workflow != "" {
				byStatus[p.workflow] = append(byStatus[p.workflow], id)
			}
		}
	}
	notes := map[types.WorkflowStatus]string{
		types.WorkflowStatusSuppressed: "grantwatch: a suppression in grantwatch's configuration covers this check.",
		types.WorkflowStatusNew:        "grantwatch: no suppression in grantwatch's configuration covers this check (any longer).",
		types.WorkflowStatusResolved:   "grantwatch: archived; see the finding's description for why.",
	}
	workflowSet := map[string]bool{}
	for _, status := range slices.Sorted(maps.Keys(byStatus)) {
		done, err := securityhub.SetWorkflow(ctx, j.hub.API, fs.src.ProductARN(), byStatus[status], status, notes[status])
		if err != nil {
			errs = append(errs, err)
		}
		for id := range done {
			workflowSet[id] = true
		}
	}

	changed := map[history.AccountRegion]*history.Findings{}
	set := func(ar history.AccountRegion) *history.Findings {
		if s := changed[ar]; s != nil {
			return s
		}
		s := &history.Findings{AccountRegion: ar, ByID: map[string]history.Finding{}}
		if k := fs.known[ar]; k != nil {
			s = k // updated in place: it is this run's
		}
		changed[ar] = s
		return s
	}
	for id, p := range fs.active {
		if !imported[id] {
			continue
		}
		e := p.entry
		if p.workflow != "" && workflowSet[id] {
			e.Workflow = string(p.workflow)
		}
		if prev, ok := fs.entry(p.ar, id); !ok || prev != e {
			set(p.ar).ByID[id] = e
		}
	}
	for id, p := range fs.archived {
		if imported[id] && workflowSet[id] {
			set(p.ar).ByID[id] = p.entry
		}
	}
	for ar, k := range fs.known {
		if j.store.StaleFindings(k, fs.at) {
			set(ar)
		}
	}
	if len(changed) > 0 {
		if err := j.store.SaveFindings(ctx, slices.Collect(maps.Values(changed)), fs.at); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		j.findingsFailed(ctx, out, errors.Join(errs...))
	}
}

func (j *Job) findingsFailed(ctx context.Context, out *Outcome, err error) {
	if out.SecurityHubError != "" {
		out.SecurityHubError += "; "
	}
	out.SecurityHubError += err.Error()
	j.logger.ErrorContext(ctx, "security hub findings not all sent; the next run sends them again", "run_id", out.RunID, "error", err)
}
