// Package remediate fixes what an audit found and grantwatch may fix on
// the organization's behalf: a missing Marketplace agreement
// (CreateFoundationModelAgreement) and a missing Anthropic use-case form
// (PutUseCaseForModelAccess). It plans from an audit report, changes
// nothing until Apply, and then acts only within the configuration's
// remediation section, through the opt-in member role GrantwatchRemediate.
// It never touches IAM, SCPs or Support cases.
package remediate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/result"
	"github.com/grantwatch/grantwatch/pkg/targets"
)

// Bedrock is the part of *bedrock.Client remediation uses: the writes and
// the reads that plan and confirm them.
type Bedrock interface {
	ListFoundationModelAgreementOffers(ctx context.Context, in *bedrock.ListFoundationModelAgreementOffersInput, optFns ...func(*bedrock.Options)) (*bedrock.ListFoundationModelAgreementOffersOutput, error)
	CreateFoundationModelAgreement(ctx context.Context, in *bedrock.CreateFoundationModelAgreementInput, optFns ...func(*bedrock.Options)) (*bedrock.CreateFoundationModelAgreementOutput, error)
	GetFoundationModelAvailability(ctx context.Context, in *bedrock.GetFoundationModelAvailabilityInput, optFns ...func(*bedrock.Options)) (*bedrock.GetFoundationModelAvailabilityOutput, error)
	GetUseCaseForModelAccess(ctx context.Context, in *bedrock.GetUseCaseForModelAccessInput, optFns ...func(*bedrock.Options)) (*bedrock.GetUseCaseForModelAccessOutput, error)
	PutUseCaseForModelAccess(ctx context.Context, in *bedrock.PutUseCaseForModelAccessInput, optFns ...func(*bedrock.Options)) (*bedrock.PutUseCaseForModelAccessOutput, error)
}

var _ Bedrock = (*bedrock.Client)(nil)

// Factory returns a Bedrock client signing as the remediation role of
// account, in region.
type Factory func(account, region string) Bedrock

// The actions, named after the call that carries them out.
const (
	CreateAgreement = "CreateFoundationModelAgreement"
	PutUseCaseForm  = "PutUseCaseForModelAccess"
)

// The outcomes of an action.
const (
	Planned = "planned" // dry run: what --apply would do
	Done    = "done"
	Failed  = "failed"
	Skipped = "skipped" // found, but outside what the configuration allows, or nothing to do
	// Unknown is a write whose answer was lost (a transport error, the
	// per-call timeout, a server fault after the SDK's last retry) and
	// whose effect could not be read back: it may have been made.
	Unknown = "unknown"
	// NotPlanned is an action planning could not complete (reading the
	// offers or the form failed: a missing remediation role, an SCP):
	// nothing was written, so it is no action event and has no message;
	// the output, the digest and the metric count it.
	NotPlanned = "not_planned"
)

// Action is one thing fix does, or would do, in one account and region.
type Action struct {
	Account string `json:"account"`
	Region  string `json:"region"`
	Model   string `json:"model"`
	Action  string `json:"action"`
	Outcome string `json:"outcome"`
	Reason  string `json:"reason"`
	// Offer is the Marketplace offer id an agreement accepts.
	Offer string `json:"offer"`
	// After is what the check reads once the action was carried out:
	// an agreement status, or FOUND for the form.
	After string `json:"-"`
	// Checks are the model ids of the AGREEMENT_MISSING checks an agreement
	// fixes in Region (the model's own, or a geography's profile of it).
	Checks []string `json:"-"`
	// Covers are the other regions an agreement covers that the audit
	// found it missing in, with their checks: the agreement is the
	// account's, in every region (ledger BR-agreement-account-wide).
	Covers []Cover `json:"-"`
	// NotAttempted says the action was skipped because the time for
	// remediation ran out before it started: it is still to do.
	NotAttempted bool `json:"-"`
	// By is the session that carried the action out: the remediation
	// role's assumed-role ARN in the member account, with the run's
	// session name, as the account's CloudTrail shows it.
	By    string `json:"-"`
	token string
}

// Remediator plans and carries out remediation actions.
type Remediator struct {
	cfg        *config.Config
	newBedrock Factory
	logger     *slog.Logger
	// session is the RoleSessionName of the remediation role's sessions;
	// assume builds the Factory that uses it (nil with WithBedrock).
	session string
	assume  func(session string) Factory
}

// Option changes how New builds a Remediator.
type Option func(*Remediator)

// WithBedrock replaces how the remediation role's Bedrock clients are made.
func WithBedrock(f Factory) Option { return func(r *Remediator) { r.newBedrock, r.assume = f, nil } }

// WithLogger sets the logger; by default nothing is logged.
func WithLogger(l *slog.Logger) Option { return func(r *Remediator) { r.logger = l } }

// New builds a Remediator. awsCfg is the auditor's own configuration: it
// assumes cfg.Remediation.RoleName in each account with the audit role's
// ExternalId, session name and duration (same trust rules).
func New(cfg *config.Config, awsCfg aws.Config, opts ...Option) *Remediator {
	if awsCfg.Region == "" {
		awsCfg.Region = cfg.Regions[0]
	}
	stsClient := sts.NewFromConfig(awsCfg)
	r := &Remediator{cfg: cfg, logger: slog.New(slog.DiscardHandler), session: cfg.Role.SessionName}
	r.assume = func(session string) Factory {
		var mu sync.Mutex
		creds := map[string]aws.CredentialsProvider{}
		return func(account, region string) Bedrock {
			mu.Lock()
			p, ok := creds[account]
			if !ok {
				arn := config.RoleARN(cfg.Partition(), account, cfg.Remediation.RoleName)
				p = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, arn, func(o *stscreds.AssumeRoleOptions) {
					if cfg.Role.ExternalID != "" {
						o.ExternalID = aws.String(cfg.Role.ExternalID)
					}
					o.RoleSessionName = session
					o.Duration = cfg.Role.SessionDuration.Std()
				}))
				creds[account] = p
			}
			mu.Unlock()
			return bedrock.NewFromConfig(awsCfg, func(o *bedrock.Options) {
				o.Region = region
				o.Credentials = p
			})
		}
	}
	r.newBedrock = r.assume(r.session)
	for _, opt := range opts {
		opt(r)
	}
	return r
}

// ForRun is r acting for run runID: the remediation role's sessions are
// named role.session_name-runID, so the member account's CloudTrail ties
// each write to the run (RoleSessionName: 2-64 of [\w+=,.@-]; the
// configured name is cut to make room, never the run id).
// ledger: STS-session-name
func (r *Remediator) ForRun(runID string) *Remediator {
	c := *r
	c.session = SessionName(r.cfg.Role.SessionName, runID)
	if c.assume != nil {
		c.newBedrock = c.assume(c.session)
	}
	return &c
}

// SessionName is base-runID within RoleSessionName's 64 characters.
func SessionName(base, runID string) string {
	if runID == "" {
		return base
	}
	return base[:min(len(base), max(0, 64-len(runID)-1))] + "-" + runID
}

// by is the assumed-role ARN the remediation role's session has in
// account (ledger STS-assume-role).
func (r *Remediator) by(account string) string {
	return fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", r.cfg.Partition(), account, r.cfg.Remediation.RoleName, r.session)
}

// Plan lists what the configuration allows fixing in rep: one
// CreateFoundationModelAgreement per (account, model) found
// AGREEMENT_MISSING (the agreement is the account's in every region), with the offer it would accept, and one
// PutUseCaseForModelAccess per form target without a form. Missing
// agreements the configuration does not allow are listed as skipped, with
// why. Plan only reads: offers, and whether each form target has a form.
func (r *Remediator) Plan(ctx context.Context, rep *result.Report, units []targets.Unit) []Action {
	return r.Resolve(ctx, r.Candidates(rep, units))
}

// Candidates is the part of Plan that needs no AWS call: one agreement
// action per (account, model) found AGREEMENT_MISSING, in the first
// audited region the configuration allows and covering the others
// (oneAgreementPerModel), planned when the configuration allows it,
// skipped (with why) when not. A sharded run's batch keeps them for the
// run's Finish, which resolves them.
func (r *Remediator) Candidates(rep *result.Report, units []targets.Unit) []Action {
	rc := r.cfg.Remediation
	if rc == nil || rc.Agreements == nil {
		return nil
	}
	ous := map[string][]string{}
	for _, u := range units {
		ous[u.Account] = u.OUs
	}
	var actions []Action
	seen := map[[3]string]int{}
	for _, res := range rep.Results {
		if res.Principal != "" || res.Status != result.AgreementMissing {
			continue
		}
		base := config.AgreementModel(res.Model)
		if strings.HasPrefix(res.Model, "arn:") {
			continue // an application profile's model is checked under its own id too
		}
		key := [3]string{res.Account, res.Region, base}
		if i, ok := seen[key]; ok {
			actions[i].Checks = append(actions[i].Checks, res.Model)
			continue
		}
		seen[key] = len(actions)
		a := Action{Account: res.Account, Region: res.Region, Model: base, Action: CreateAgreement, Outcome: Planned,
			Reason: "AGREEMENT_MISSING: " + res.Cause, Checks: []string{res.Model}}
		if why := r.excluded(res, base, ous[res.Account]); why != "" {
			a.Outcome, a.Reason = Skipped, why
		}
		actions = append(actions, a)
	}
	return r.oneAgreementPerModel(actions)
}

// Resolve completes candidate agreement actions into a plan: it adds the
// use-case form's actions, finds each planned agreement's offer and whether
// each form target has a form (only reads), and sorts the plan.
func (r *Remediator) Resolve(ctx context.Context, candidates []Action) []Action {
	rc := r.cfg.Remediation
	if rc == nil {
		return nil
	}
	actions := slices.Clone(candidates)
	if f := rc.UseCaseForm; f != nil {
		// The accounts are required: the configuration does not know the
		// organization's management account, and the caller's account is
		// not it when grantwatch runs from an audit account.
		accounts, regions := f.Accounts, f.Regions
		if len(regions) == 0 {
			regions = r.cfg.Regions[:1]
		}
		for _, acc := range accounts {
			for _, reg := range regions {
				actions = append(actions, Action{Account: acc, Region: reg, Action: PutUseCaseForm, Outcome: Planned})
			}
		}
	}
	r.each(ctx, actions, func(ctx context.Context, a *Action) {
		if a.Outcome != Planned {
			return
		}
		if ctx.Err() != nil {
			a.Outcome, a.Reason, a.NotAttempted = Skipped, notAttempted("planned", ctx), true
			return
		}
		switch a.Action {
		case CreateAgreement:
			r.findOffer(ctx, a)
		case PutUseCaseForm:
			r.checkForm(ctx, a)
		}
	})
	// A form on file needs nothing: leave it out of the plan.
	actions = slices.DeleteFunc(actions, func(a Action) bool { return a.Action == PutUseCaseForm && a.Outcome == Skipped && !a.NotAttempted })
	slices.SortStableFunc(actions, func(a, b Action) int {
		return cmp.Or(strings.Compare(a.Account, b.Account), strings.Compare(a.Region, b.Region),
			strings.Compare(a.Action, b.Action), strings.Compare(a.Model, b.Model))
	})
	return actions
}

// oneAgreementPerModel folds the agreements of one account and model into
// one create, in the first audited region where the configuration allows
// it: a Marketplace subscription made in one region is the account's in
// every region (ledger BR-agreement-account-wide). The regions it covers
// are those the action was planned in, and those skipped only because
// remediation.agreements.regions does not list them (the agreement covers
// them all the same); a suppressed region keeps its skipped action, with a
// note.
func (r *Remediator) oneAgreementPerModel(actions []Action) []Action {
	order := func(region string) int {
		if i := slices.Index(r.cfg.Regions, region); i >= 0 {
			return i
		}
		return len(r.cfg.Regions)
	}
	slices.SortStableFunc(actions, func(a, b Action) int {
		return cmp.Or(strings.Compare(a.Account, b.Account), strings.Compare(a.Model, b.Model), cmp.Compare(order(a.Region), order(b.Region)))
	})
	primary := map[[2]string]int{} // (account, model) -> index in out
	var out []Action
	for _, a := range actions {
		if a.Action == CreateAgreement && a.Outcome == Planned {
			k := [2]string{a.Account, a.Model}
			if i, ok := primary[k]; ok {
				out[i].Covers = append(out[i].Covers, Cover{Region: a.Region, Checks: a.Checks})
				continue
			}
			primary[k] = len(out)
		}
		out = append(out, a)
	}
	folded := make([]bool, len(out))
	for j := range out {
		a := &out[j]
		i, ok := primary[[2]string{a.Account, a.Model}]
		if !ok || a.Outcome != Skipped || a.Action != CreateAgreement {
			continue
		}
		if strings.HasPrefix(a.Reason, "remediation.agreements.regions does not list") {
			out[i].Covers = append(out[i].Covers, Cover{Region: a.Region, Checks: a.Checks})
			folded[j] = true
			continue
		}
		a.Reason += fmt.Sprintf(" (the agreement planned in %s covers this region too)", out[i].Region)
	}
	var kept []Action
	for j, a := range out {
		if folded[j] {
			continue
		}
		if len(a.Covers) > 0 {
			a.Reason = fmt.Sprintf("AGREEMENT_MISSING in %s (one agreement covers the account in every region); %s",
				strings.Join(a.Regions(), ", "), a.Reason)
		}
		kept = append(kept, a)
	}
	return kept
}

// Cover is a region an agreement made in another region covers, and the
// ids of the AGREEMENT_MISSING checks it fixes there.
type Cover struct {
	Region string
	Checks []string
}

// Regions are the regions an agreement covers that the audit found it
// missing in: its own first, then those of its Covers.
func (a Action) Regions() []string {
	regions := []string{a.Region}
	for _, c := range a.Covers {
		regions = append(regions, c.Region)
	}
	return regions
}

// notAttempted is the reason of an action left undone because ctx ended
// (the run's time for remediation ran out): nothing was sent to AWS.
func notAttempted(what string, ctx context.Context) string {
	return fmt.Sprintf("not %s: the time for remediation ran out first (%v); nothing was sent, and the next run plans it again", what, context.Cause(ctx))
}

// excluded says why the configuration does not allow an agreement for a
// result, or "" when it does.
func (r *Remediator) excluded(res result.Result, base string, ous []string) string {
	p := r.cfg.Remediation.Agreements
	switch {
	case !slices.ContainsFunc(p.Models, func(m string) bool { return config.AgreementModel(m) == base }):
		return fmt.Sprintf("remediation.agreements.models does not list %s", base)
	case len(p.Accounts) > 0 && !slices.Contains(p.Accounts, res.Account):
		return fmt.Sprintf("remediation.agreements.accounts does not list account %s", res.Account)
	case len(p.OUs) > 0 && !slices.ContainsFunc(ous, func(ou string) bool { return slices.Contains(p.OUs, ou) }):
		return fmt.Sprintf("account %s is below none of remediation.agreements.ous", res.Account)
	case len(p.Regions) > 0 && !slices.Contains(p.Regions, res.Region):
		return fmt.Sprintf("remediation.agreements.regions does not list %s", res.Region)
	case res.SuppressedBy() != nil:
		s := res.SuppressedBy()
		return fmt.Sprintf("suppressed until %s by %s: %s", s.Until, s.Owner, s.Reason)
	}
	return ""
}

// findOffer reads the model's offers and picks the one the agreement
// would accept: the offer remediation.agreements.offers names, else the
// only one listed. AWS documents no order of the offers, so of several it
// picks none and says which there are (ledger BR-agreement-offers).
func (r *Remediator) findOffer(ctx context.Context, a *Action) {
	p := r.cfg.Remediation.Agreements
	out, err := r.client(a.Account, a.Region).ListFoundationModelAgreementOffers(ctx, &bedrock.ListFoundationModelAgreementOffersInput{
		ModelId: aws.String(a.Model), OfferType: types.OfferType(p.OfferType),
	})
	if err != nil {
		a.Outcome, a.Reason = NotPlanned, "could not list the model's offers: "+describe(err)
		return
	}
	want := p.OfferFor(a.Model)
	o, why := selectOffer(out.Offers, want)
	switch {
	case len(out.Offers) == 0:
		a.Outcome, a.Reason = Skipped, fmt.Sprintf("ListFoundationModelAgreementOffers lists no %s offer for %s in %s", p.OfferType, a.Model, a.Region)
	case o == nil && want != "":
		a.Outcome, a.Reason = NotPlanned, why
	case o == nil:
		a.Outcome, a.Reason = Skipped, why
	default:
		a.Offer, a.token = aws.ToString(o.OfferId), aws.ToString(o.OfferToken)
		if o.TermDetails != nil && o.TermDetails.LegalTerm != nil {
			a.Reason += "; terms: " + aws.ToString(o.TermDetails.LegalTerm.Url)
		}
	}
}

// selectOffer picks the offer with id want, or the only offer when want is
// empty; otherwise it says why it picked none.
func selectOffer(offers []types.Offer, want string) (*types.Offer, string) {
	var ids []string
	for i, o := range offers {
		id := aws.ToString(o.OfferId)
		if want != "" && id == want {
			return &offers[i], ""
		}
		ids = append(ids, cmp.Or(id, "(no offerId)"))
	}
	switch {
	case want != "":
		return nil, fmt.Sprintf("remediation.agreements.offers names offer %s, which ListFoundationModelAgreementOffers does not list (it lists %s)", want, strings.Join(ids, ", "))
	case len(offers) == 1:
		return &offers[0], ""
	}
	return nil, fmt.Sprintf("%d offers listed (%s) and AWS documents no order: name the one to accept in remediation.agreements.offers", len(offers), strings.Join(ids, ", "))
}

// checkForm reads whether the target has a form: ResourceNotFoundException
// means none (ledger BR-form-put).
func (r *Remediator) checkForm(ctx context.Context, a *Action) {
	_, err := r.client(a.Account, a.Region).GetUseCaseForModelAccess(ctx, &bedrock.GetUseCaseForModelAccessInput{})
	var nf *types.ResourceNotFoundException
	switch {
	case err == nil:
		a.Outcome, a.Reason = Skipped, "the form is on file"
	case errors.As(err, &nf):
		a.Reason = "GetUseCaseForModelAccess: no Anthropic use-case form on file"
	default:
		a.Outcome, a.Reason = NotPlanned, "could not read the form: "+describe(err)
	}
}

// Apply carries out the planned actions, at most
// remediation.concurrency at once, and re-reads each check afterwards. A
// failure is recorded on its action and never stops the others.
func (r *Remediator) Apply(ctx context.Context, actions []Action) []Action {
	out := slices.Clone(actions)
	r.each(ctx, out, func(ctx context.Context, a *Action) {
		if a.Outcome != Planned {
			return
		}
		if ctx.Err() != nil {
			a.Outcome, a.Reason, a.NotAttempted = Skipped, notAttempted("carried out", ctx), true
			return
		}
		// ctx's deadline decides only whether an action starts. A started
		// one finishes, each call bounded by limits.call_timeout: a write
		// cancelled on our side may still have taken effect on AWS's
		// (CreateFoundationModelAgreement answers 202 and sets up the
		// agreement afterwards; ledger BR-agreement-pending), and its
		// re-read is what tells the record the truth.
		ctx = context.WithoutCancel(ctx)
		a.By = r.by(a.Account)
		switch a.Action {
		case CreateAgreement:
			r.createAgreement(ctx, a)
		case PutUseCaseForm:
			r.putForm(ctx, a)
		}
		r.logger.InfoContext(ctx, "remediation", "account", a.Account, "region", a.Region, "model", a.Model, "action", a.Action, "outcome", a.Outcome, "reason", a.Reason)
	})
	return out
}

// createAgreement reads the model's agreement first and creates it only
// when there is none: a plan made minutes earlier (a long run, a retried
// Step Functions Finish, someone who fixed it by hand meanwhile) never
// accepts terms twice, whatever CreateFoundationModelAgreement would answer
// for an existing agreement. A ConflictException all the same (an agreement
// made between the read and the create, or a retried create whose first
// answer was lost) is read back like a create (ledger BR-agreement-retry).
// ledger: BR-availability, BR-agreement-pending
func (r *Remediator) createAgreement(ctx context.Context, a *Action) {
	api := r.client(a.Account, a.Region)
	av, err := api.GetFoundationModelAvailability(ctx, &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String(a.Model)})
	if err != nil || av.AgreementAvailability == nil {
		// Without the read, a create could accept terms twice: leave it
		// to the next run, which plans it again.
		a.Outcome, a.Reason = Failed, "could not read the agreement before creating it (GetFoundationModelAvailability): "+describe(err)+"; nothing was created"
		return
	}
	switch st := av.AgreementAvailability.Status; st {
	case types.AgreementStatusAvailable, types.AgreementStatusPending:
		a.Outcome, a.After = Skipped, string(st)
		a.Reason = fmt.Sprintf("the agreement exists already (agreementAvailability.status=%s): nothing done", st)
		return
	}
	if a.token == "" {
		// An action that did not come from this Remediator's Plan (its
		// token is not carried in JSON, nor in a sharded run's batch
		// record): find the offer the plan showed, by its id, never
		// another.
		out, err := api.ListFoundationModelAgreementOffers(ctx, &bedrock.ListFoundationModelAgreementOffersInput{
			ModelId: aws.String(a.Model), OfferType: types.OfferType(r.cfg.Remediation.Agreements.OfferType),
		})
		if err != nil {
			a.Outcome, a.Reason = Failed, "could not list the model's offers: "+describe(err)
			return
		}
		o, why := selectOffer(out.Offers, a.Offer)
		if o == nil || a.Offer == "" {
			a.Outcome, a.Reason = Failed, cmp.Or(why, "the plan names no offer id")
			return
		}
		a.token = aws.ToString(o.OfferToken)
	}
	_, err = api.CreateFoundationModelAgreement(ctx, &bedrock.CreateFoundationModelAgreementInput{ModelId: aws.String(a.Model), OfferToken: aws.String(a.token)})
	var conflict *types.ConflictException
	switch {
	case errors.As(err, &conflict):
		// The audit found no agreement, so one that exists now was made
		// since: by this call, when the SDK retried a create whose first
		// answer was lost, or by a first call to the model meanwhile.
		// Either way the plan's aim is met; what the check reads says so
		// (ledger BR-agreement-retry).
		r.readAgreement(ctx, api, a, "an agreement exists (CreateFoundationModelAgreement answered "+describe(err)+")")
		if a.After != string(types.AgreementStatusAvailable) && a.After != string(types.AgreementStatusPending) && a.Outcome == Done {
			a.Outcome = Failed
		}
	case rejected(err):
		a.Outcome, a.Reason = Failed, "CreateFoundationModelAgreement: "+describe(err)
		return
	case err != nil:
		// No answer, or a server fault after the SDK's last retry: the
		// create may have taken effect. What the agreement reads now
		// decides; never failed while it may have been made.
		r.readAgreement(ctx, api, a, "CreateFoundationModelAgreement answered "+describe(err))
		switch a.After {
		case string(types.AgreementStatusAvailable), string(types.AgreementStatusPending):
			a.Reason += " (the create took effect although its answer was lost)"
		case "":
			a.Outcome = Unknown
			a.Reason += "; the agreement may have been created: the next audit reads it, and the next run plans it again only if it is still missing"
		default:
			a.Outcome = Failed
		}
	default:
		r.readAgreement(ctx, api, a, "agreement requested")
	}
	r.readOtherRegions(ctx, a)
}

// readOtherRegions re-reads the agreement in the other regions it covers
// and says what each reads; ERROR anywhere fails the action (ledger
// BR-agreement-account-wide, BR-agreement-error).
func (r *Remediator) readOtherRegions(ctx context.Context, a *Action) {
	var reads []string
	for _, c := range a.Covers {
		reg := c.Region
		av, err := r.client(a.Account, reg).GetFoundationModelAvailability(ctx, &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String(a.Model)})
		switch {
		case err != nil || av.AgreementAvailability == nil:
			reads = append(reads, reg+" could not be read: "+describe(err))
		case av.AgreementAvailability.Status == types.AgreementStatusError:
			a.Outcome = Failed
			reads = append(reads, reg+" reads ERROR: "+aws.ToString(av.AgreementAvailability.ErrorMessage))
		default:
			reads = append(reads, reg+" reads "+string(av.AgreementAvailability.Status))
		}
	}
	if len(reads) > 0 {
		a.Reason += "; " + strings.Join(reads, "; ")
	}
}

// readAgreement re-reads the agreement after a write and records what it
// reads. ERROR is a failed action with AWS's errorMessage (for example an
// account without a valid payment method for Marketplace purchases;
// ledger BR-agreement-error). PENDING is done and still settling: AWS
// gives no bound for an agreement created through the API (ledger
// BR-agreement-pending), so it is reported as pending, never failed.
func (r *Remediator) readAgreement(ctx context.Context, api Bedrock, a *Action, what string) {
	a.Outcome = Done
	av, err := api.GetFoundationModelAvailability(ctx, &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String(a.Model)})
	if err != nil || av.AgreementAvailability == nil {
		a.Reason = fmt.Sprintf("%s (offer %s); the check could not be read again: %s", what, a.Offer, describe(err))
		return
	}
	st := av.AgreementAvailability.Status
	a.After = string(st)
	a.Reason = fmt.Sprintf("%s (offer %s); the check now reads agreementAvailability.status=%s", what, a.Offer, st)
	switch st {
	case types.AgreementStatusError:
		a.Outcome = Failed
		a.Reason += ": " + cmp.Or(aws.ToString(av.AgreementAvailability.ErrorMessage), "no errorMessage given") +
			" (the account must meet AWS's prerequisites, such as a valid payment method for AWS Marketplace purchases)"
	case types.AgreementStatusPending:
		a.Reason += " (still being set up; the next audit reports PENDING, then ENABLED)"
	}
}

func (r *Remediator) putForm(ctx context.Context, a *Action) {
	api := r.client(a.Account, a.Region)
	if _, err := api.PutUseCaseForModelAccess(ctx, &bedrock.PutUseCaseForModelAccessInput{FormData: r.cfg.Remediation.UseCaseForm.Form}); err != nil {
		a.Outcome, a.Reason = Failed, "PutUseCaseForModelAccess: "+describe(err)
		return
	}
	a.Outcome = Done
	if _, err := api.GetUseCaseForModelAccess(ctx, &bedrock.GetUseCaseForModelAccessInput{}); err != nil {
		a.Reason = "form submitted; GetUseCaseForModelAccess does not show it yet: " + describe(err)
		return
	}
	a.After = "FOUND"
	a.Reason = "form submitted; GetUseCaseForModelAccess now finds it"
}

// each runs fn on every action, at most remediation.concurrency at once.
func (r *Remediator) each(ctx context.Context, actions []Action, fn func(context.Context, *Action)) {
	slots := make(chan struct{}, r.cfg.Remediation.Concurrency)
	var wg sync.WaitGroup
	for i := range actions {
		wg.Add(1)
		slots <- struct{}{}
		go func(a *Action) {
			defer wg.Done()
			defer func() { <-slots }()
			fn(ctx, a)
		}(&actions[i])
	}
	wg.Wait()
}

// rejected says AWS answered err itself, as a client error (4xx): the
// request was refused, nothing was written. Transport errors, timeouts
// and server faults say nothing about whether a write took effect.
func rejected(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorFault() == smithy.FaultClient &&
		!errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
}

// client is the remediation role's Bedrock client in account and region,
// each call bounded by limits.call_timeout.
func (r *Remediator) client(account, region string) Bedrock {
	return timed{Bedrock: r.newBedrock(account, region), d: r.cfg.Limits.CallTimeout.Std()}
}

// timed bounds each call of a Bedrock by d, the SDK's retries included.
type timed struct {
	Bedrock
	d time.Duration
}

func (t timed) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	if t.d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, t.d)
}

func (t timed) ListFoundationModelAgreementOffers(ctx context.Context, in *bedrock.ListFoundationModelAgreementOffersInput, optFns ...func(*bedrock.Options)) (*bedrock.ListFoundationModelAgreementOffersOutput, error) {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.Bedrock.ListFoundationModelAgreementOffers(ctx, in, optFns...)
}

func (t timed) CreateFoundationModelAgreement(ctx context.Context, in *bedrock.CreateFoundationModelAgreementInput, optFns ...func(*bedrock.Options)) (*bedrock.CreateFoundationModelAgreementOutput, error) {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.Bedrock.CreateFoundationModelAgreement(ctx, in, optFns...)
}

func (t timed) GetFoundationModelAvailability(ctx context.Context, in *bedrock.GetFoundationModelAvailabilityInput, optFns ...func(*bedrock.Options)) (*bedrock.GetFoundationModelAvailabilityOutput, error) {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.Bedrock.GetFoundationModelAvailability(ctx, in, optFns...)
}

func (t timed) GetUseCaseForModelAccess(ctx context.Context, in *bedrock.GetUseCaseForModelAccessInput, optFns ...func(*bedrock.Options)) (*bedrock.GetUseCaseForModelAccessOutput, error) {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.Bedrock.GetUseCaseForModelAccess(ctx, in, optFns...)
}

func (t timed) PutUseCaseForModelAccess(ctx context.Context, in *bedrock.PutUseCaseForModelAccessInput, optFns ...func(*bedrock.Options)) (*bedrock.PutUseCaseForModelAccessOutput, error) {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.Bedrock.PutUseCaseForModelAccess(ctx, in, optFns...)
}

// describe is an AWS error's code and message, or the error itself.
func describe(err error) string {
	if err == nil {
		return "no answer"
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode() + ": " + api.ErrorMessage()
	}
	return err.Error()
}

// Failures counts the actions that need someone's attention: failed,
// not planned, or of unknown outcome.
func Failures(actions []Action) int {
	n := 0
	for _, a := range actions {
		if a.Outcome == Failed || a.Outcome == NotPlanned || a.Outcome == Unknown {
			n++
		}
	}
	return n
}
