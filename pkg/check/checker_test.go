package check

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/devtools/awssim"
	"github.com/grantwatch/grantwatch/pkg/devtools/testenv"
	"github.com/grantwatch/grantwatch/pkg/result"
	"github.com/grantwatch/grantwatch/pkg/targets"
)

const (
	claude35 = "anthropic.claude-3-5-sonnet-20240620-v1:0"
	claude37 = "anthropic.claude-3-7-sonnet-20250219-v1:0"
	nova     = "amazon.nova-pro-v1:0"
	titan    = "amazon.titan-text-express-v1"
	llama31  = "meta.llama3-1-70b-instruct-v1:0"
	cohere   = "cohere.command-r-plus-v1:0"
	typo     = "anthropic.claude-3-opus-20240229-v9:0"
)

// fixture starts the demo organization, lets edit change it, and returns an
// audit pointed at it with the demo configuration (also editable).
func fixture(t *testing.T, editScenario func(*awssim.Scenario), editConfig func(*config.Config)) (audit, *awssim.Server) {
	t.Helper()
	sim := testenv.Simulator(t, "testdata/org.yaml", editScenario)
	cfg, err := config.Load("testdata/grantwatch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Limits.MaxBackoff = config.Duration(5 * time.Millisecond)
	if editConfig != nil {
		editConfig(cfg)
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	awsCfg, err := sim.ClientConfig(context.Background(), "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	return audit{targets.New(cfg, awsCfg), New(cfg, awsCfg)}, sim
}

// audit plans and checks a run, as the job does.
type audit struct {
	planner *targets.Planner
	checker *Checker
}

func (a audit) Run(ctx context.Context, runID string) *result.Report {
	return a.checker.Check(ctx, a.planner.Plan(ctx, runID))
}

func statuses(rep *result.Report) map[string]result.Status {
	m := map[string]result.Status{}
	for _, r := range rep.Results {
		m[r.Account+"/"+r.Region+"/"+r.Model] = r.Status
	}
	return m
}

func TestRunDemoOrganization(t *testing.T) {
	a, sim := fixture(t, nil, nil)
	rep := a.Run(context.Background(), "test-run")

	want := map[string]result.Status{}
	set := func(account string, regions []string, model string, s result.Status) {
		for _, r := range regions {
			want[account+"/"+r+"/"+model] = s
		}
	}
	all := []string{"eu-central-1", "us-east-1", "us-west-2"}
	us := []string{"us-east-1", "us-west-2"}
	set("111111111111", all, claude35, result.Enabled)
	set("111111111111", all, nova, result.Enabled)
	set("111111111111", us, claude37, result.Enabled)
	set("111111111111", []string{"eu-central-1"}, claude37, result.NotInRegion)
	set("222222222222", us, claude35, result.Enabled)
	set("222222222222", us, nova, result.Enabled)
	set("222222222222", []string{"us-east-1"}, claude37, result.Enabled)
	set("222222222222", []string{"us-west-2"}, claude37, result.Pending)
	set("222222222222", []string{"us-east-1"}, cohere, result.AgreementMissing)
	set("222222222222", []string{"us-west-2"}, cohere, result.AgreementFailed)
	for _, m := range []string{claude35, nova, claude37, cohere} {
		set("222222222222", []string{"eu-central-1"}, m, result.AuditError)
	}
	set("333333333333", all, claude35, result.NotAuthorized)
	set("333333333333", all, nova, result.Enabled)
	set("333333333333", all, titan, result.Legacy)
	set("333333333333", all, typo, result.UnknownModel)
	set("333333333333", []string{"us-east-1"}, llama31, result.NotEntitled)
	set("333333333333", []string{"us-west-2"}, llama31, result.Enabled)
	set("333333333333", []string{"eu-central-1"}, llama31, result.NotInRegion)
	set("444444444444", all, claude35, result.AuditError)
	set("444444444444", all, nova, result.AuditError)

	got := statuses(rep)
	for key, w := range want {
		if got[key] != w {
			t.Errorf("%s: got %q; want %s", key, got[key], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("results: got %d; want %d", len(got), len(want))
	}
	for i := 1; i < len(rep.Results); i++ {
		if !result.Less(rep.Results[i-1], rep.Results[i]) {
			t.Fatalf("results not in stable order at %d: %v then %v", i, rep.Results[i-1], rep.Results[i])
		}
	}

	s := rep.Summary
	if s.Accounts != 4 || s.Planned != 42 || s.Checked != 42 || s.Incomplete {
		t.Errorf("summary: got accounts=%d planned=%d checked=%d incomplete=%v; want 4, 42, 42, false", s.Accounts, s.Planned, s.Checked, s.Incomplete)
	}
	if s.AuditErrs != 10 || s.Counts[result.Enabled] != 17 {
		t.Errorf("summary counts: got audit errors %d, enabled %d; want 10, 17", s.AuditErrs, s.Counts[result.Enabled])
	}
	for account, n := range sim.AssumeRoleCalls() {
		if n != 1 {
			t.Errorf("AssumeRole calls for %s: got %d; want exactly 1", account, n)
		}
	}
	// One ListFoundationModels per account-region that could be checked:
	// 3 accounts x 3 regions; 444444444444 has no role to list with.
	if got, want := sim.Calls(awssim.OpListFoundationModels), int64(9); got != want {
		t.Errorf("ListFoundationModels calls: got %d; want %d", got, want)
	}
	if got, want := sim.Calls(awssim.OpGetFoundationModelAvailability), int64(42-6-4); got != want {
		t.Errorf("GetFoundationModelAvailability calls: got %d; want %d", got, want)
	}
	// The form once per account that requires an Anthropic model and could
	// be reached (every region here is a commercial one). No profile is
	// required and every model answers on demand, so profiles are listed
	// only where a required model is not offered, to say whether a profile
	// serves it there: 111111111111 in eu-central-1 (Claude 3.7),
	// 333333333333 in all three (the typo; Llama 3.1 in eu-central-1).
	if got, want := sim.Calls(awssim.OpGetUseCaseForModelAccess), int64(3); got != want {
		t.Errorf("GetUseCaseForModelAccess calls: got %d; want one per reachable account, %d", got, want)
	}
	if got, want := sim.Calls(awssim.OpListInferenceProfiles), int64(4); got != want {
		t.Errorf("ListInferenceProfiles calls: got %d; want %d", got, want)
	}
	if len(s.Errors) != 0 {
		t.Errorf("summary errors: got %v; want none", s.Errors)
	}
}

// TestRunInferenceProfiles adds what applications call in 2026: a Claude
// served only through profiles, its us., eu. and global. profiles, and an
// application profile of account 111111111111.
func TestRunInferenceProfiles(t *testing.T) {
	const (
		sonnet45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
		app      = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/a1b2c3d4e5f6"
		gone     = "arn:aws:bedrock:us-west-2:111111111111:application-inference-profile/deleted00001"
	)
	us, eu, global := "us."+sonnet45, "eu."+sonnet45, "global."+sonnet45
	a, sim := fixture(t, func(sc *awssim.Scenario) {
		sc.Catalog = append(sc.Catalog, awssim.CatalogModel{ID: sonnet45, Provider: "Anthropic", Regions: []string{"us-east-1", "us-west-2", "eu-central-1"}, InferenceTypes: []string{"INFERENCE_PROFILE"}})
		sc.Profiles = []awssim.Profile{
			{ID: us, Model: sonnet45, Sources: []string{"us-east-1", "us-west-2"}, Destinations: []string{"us-east-1", "us-east-2", "us-west-2"}},
			{ID: eu, Model: sonnet45, Sources: []string{"eu-central-1"}, Destinations: []string{"eu-central-1", "eu-west-1", "eu-west-3"}},
			{ID: global, Model: sonnet45, Sources: []string{"us-east-1", "eu-central-1"}},
		}
		sc.Pagination.PageSize = 1 // every listing takes pages
		sc.Account("111111111111").ApplicationProfiles = []awssim.ApplicationProfile{{ID: "a1b2c3d4e5f6", Region: "us-east-1", CopyFrom: us}}
	}, func(c *config.Config) {
		c.Models = config.Models{ByAccount: map[string][]string{
			"111111111111": {sonnet45, us, eu, global, app, gone},
			"333333333333": {us},
		}}
	})
	rep := a.Run(context.Background(), "profiles")
	byKey := map[string]result.Result{}
	for _, r := range rep.Results {
		byKey[r.Account+"/"+r.Region+"/"+r.Model] = r
	}
	tests := []struct {
		key       string
		want      result.Status
		wantCause string
		wantDest  string
	}{
		{"111111111111/us-east-1/" + sonnet45, result.ProfileRequired, "no ON_DEMAND", ""},
		{"111111111111/eu-central-1/" + sonnet45, result.ProfileRequired, "no ON_DEMAND", ""},
		{"111111111111/us-east-1/" + us, result.Enabled, "use-case form: found", "us-east-1,us-east-2,us-west-2"},
		{"111111111111/eu-central-1/" + us, result.ProfileNotInRegion, "us. profiles start only", ""},
		{"111111111111/us-east-1/" + eu, result.ProfileNotInRegion, "eu. profiles start only", ""},
		{"111111111111/eu-central-1/" + eu, result.Enabled, "routes to eu-central-1, eu-west-1, eu-west-3", "eu-central-1,eu-west-1,eu-west-3"},
		{"111111111111/us-west-2/" + global, result.ProfileNotInRegion, "the profile exists in eu-central-1, us-east-1", ""},
		{"111111111111/us-east-1/" + global, result.Enabled, "SYSTEM_DEFINED", "global,us-east-1"},
		{"111111111111/us-east-1/" + app, result.Enabled, "(APPLICATION)", "us-east-1,us-east-2,us-west-2"},
		{"111111111111/us-west-2/" + gone, result.UnknownModel, "GetInferenceProfile: ResourceNotFoundException", ""},
		{"333333333333/us-east-1/" + us, result.NotAuthorized, "use-case form: missing", "us-east-1,us-east-2,us-west-2"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			r, ok := byKey[tt.key]
			if !ok {
				t.Fatalf("no result")
			}
			if r.Status != tt.want || !strings.Contains(r.Cause, tt.wantCause) {
				t.Errorf("got %s (%q); want %s with a cause containing %q", r.Status, r.Cause, tt.want, tt.wantCause)
			}
			if got := strings.Join(r.Destinations(), ","); got != tt.wantDest {
				t.Errorf("destination regions: got %q; want %q", got, tt.wantDest)
			}
		})
	}
	if _, ok := byKey["111111111111/us-west-2/"+app]; ok {
		t.Errorf("the application profile ARN of us-east-1 was checked in us-west-2; want only in its own region")
	}
	// One listing per account-region that requires a profile, every page
	// read: 2 accounts x 3 regions, each of 1-2 profiles at one per page,
	// plus the empty answer that ends a region without any.
	perRegion := map[string]int64{"us-east-1": 2, "us-west-2": 1, "eu-central-1": 2}
	var want int64
	for _, n := range perRegion {
		want += 2 * n
	}
	if got := sim.Calls(awssim.OpListInferenceProfiles); got != want {
		t.Errorf("ListInferenceProfiles calls: got %d; want %d (every page, once per account-region)", got, want)
	}
	if got := sim.Calls(awssim.OpGetInferenceProfile); got != 2 {
		t.Errorf("GetInferenceProfile calls: got %d; want one per application profile ARN, 2", got)
	}
	if got := sim.Calls(awssim.OpGetUseCaseForModelAccess); got != 2 {
		t.Errorf("GetUseCaseForModelAccess calls: got %d; want one per account, 2", got)
	}
}

func TestRunCausesOfAuditErrors(t *testing.T) {
	a, _ := fixture(t, nil, nil)
	rep := a.Run(context.Background(), "causes")
	tests := []struct {
		name, key, wantCause, wantRemedy string
	}{
		{"role not assumable", "444444444444/us-east-1/" + nova, "assume-role: AccessDenied", "member-role stack"},
		{"region-deny scp blocks the auditor", "222222222222/eu-central-1/" + nova, "list-models: AccessDeniedException: User: arn:aws:sts::222222222222:assumed-role/GrantwatchAudit/grantwatch is not authorized to perform: bedrock:ListFoundationModels with an explicit deny in a service control policy", "service control policy"},
		{"unknown id offered nowhere", "333333333333/us-east-1/" + typo, "ValidationException: The provided model identifier is invalid.", "typos"},
	}
	byKey := map[string]result.Result{}
	for _, r := range rep.Results {
		byKey[r.Account+"/"+r.Region+"/"+r.Model] = r
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := byKey[tt.key]
			if !strings.Contains(r.Cause, tt.wantCause) {
				t.Errorf("cause: got %q; want it to contain %q", r.Cause, tt.wantCause)
			}
			if !strings.Contains(r.Remediation, tt.wantRemedy) {
				t.Errorf("remediation: got %q; want it to contain %q", r.Remediation, tt.wantRemedy)
			}
		})
	}
}

func TestRunFailuresStayInTheirAccount(t *testing.T) {
	tests := []struct {
		name     string
		scenario func(*awssim.Scenario)
		config   func(*config.Config)
		// check reports what is wrong with the run, or "".
		check func(rep *result.Report, sim *awssim.Server) string
	}{
		{
			name:     "throttling storm in one account",
			scenario: func(sc *awssim.Scenario) { sc.Throttling = []awssim.Rule{{Account: "111111111111", Rate: 1}} },
			check: func(rep *result.Report, sim *awssim.Server) string {
				for _, r := range rep.Results {
					throttled := strings.Contains(r.Cause, "ThrottlingException") && strings.Contains(r.Cause, "after 3 attempts")
					if (r.Account == "111111111111") != throttled {
						return fmt.Sprintf("%s/%s/%s: %s %q", r.Account, r.Region, r.Model, r.Status, r.Cause)
					}
				}
				if got := statuses(rep)["333333333333/us-west-2/"+nova]; got != result.Enabled {
					return "healthy account: got " + string(got)
				}
				return ""
			},
		},
		{
			// Fewer faults than limits.max_attempts (3), so that no call can
			// meet them all, however the calls interleave.
			name: "transient 5xx are retried",
			scenario: func(sc *awssim.Scenario) {
				sc.Faults = []awssim.Rule{{Operation: awssim.OpGetFoundationModelAvailability, Count: 2, Status: 503}, {Operation: awssim.OpAssumeRole, Count: 2, Status: 500}}
			},
			check: func(rep *result.Report, sim *awssim.Server) string {
				if got, want := sim.Calls(awssim.OpGetFoundationModelAvailability), int64(42-6-4+2); got != want {
					return fmt.Sprintf("availability calls: got %d; want %d, the two faults retried", got, want)
				}
				if rep.Summary.AuditErrs == 10 {
					return ""
				}
				var extra []string
				for _, r := range rep.Results {
					if r.Status == result.AuditError && r.Account != "444444444444" && !(r.Account == "222222222222" && r.Region == "eu-central-1") {
						extra = append(extra, r.Account+"/"+r.Region+"/"+r.Model+": "+r.Cause)
					}
				}
				return fmt.Sprintf("audit errors: got %d; want the demo's 10 only; the others: %v", rep.Summary.AuditErrs, extra)
			},
		},
		{
			name:     "persistent 5xx in one region",
			scenario: func(sc *awssim.Scenario) { sc.Faults = []awssim.Rule{{Region: "us-west-2", Rate: 1, Status: 500}} },
			check: func(rep *result.Report, sim *awssim.Server) string {
				for _, r := range rep.Results {
					if (r.Region == "us-west-2") != (r.Status == result.AuditError) && r.Account != "444444444444" && !(r.Account == "222222222222" && r.Region == "eu-central-1") {
						return fmt.Sprintf("%s/%s/%s: %s", r.Account, r.Region, r.Model, r.Status)
					}
				}
				return ""
			},
		},
		{
			name: "slow region times out per call",
			scenario: func(sc *awssim.Scenario) {
				sc.Latency = awssim.Latency{ByRegion: map[string]awssim.Latency{"eu-central-1": {Fixed: awssim.Duration(300 * time.Millisecond)}}}
			},
			config: func(c *config.Config) {
				c.Limits.CallTimeout = config.Duration(200 * time.Millisecond)
				c.Limits.AttemptTimeout = config.Duration(150 * time.Millisecond)
				c.Limits.MaxAttempts = 1
			},
			check: func(rep *result.Report, sim *awssim.Server) string {
				r := rep.Results[0] // 111111111111/eu-central-1/...
				if r.Region != "eu-central-1" || r.Status != result.AuditError || !strings.Contains(r.Cause, "timeout") {
					return fmt.Sprintf("first result: got %+v; want a timeout in eu-central-1", r)
				}
				for _, got := range rep.Results {
					if got.Account == "111111111111" && got.Region == "us-east-1" && got.Model == nova && got.Status != result.Enabled {
						return "fast region: got " + string(got.Status) + ": " + got.Cause
					}
				}
				return ""
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, sim := fixture(t, tt.scenario, tt.config)
			rep := a.Run(context.Background(), "failures")
			if rep.Summary.Checked != rep.Summary.Planned {
				t.Errorf("checked %d of %d; want every check recorded", rep.Summary.Checked, rep.Summary.Planned)
			}
			if problem := tt.check(rep, sim); problem != "" {
				t.Error(problem)
			}
		})
	}
}

// Calls outside us-east-1 take an hour, so Run can only return because the
// deadline ended them; us-east-1 answers at once, so some checks are done.
func TestRunStopsAtTheDeadline(t *testing.T) {
	a, _ := fixture(t, func(sc *awssim.Scenario) {
		hour := awssim.Latency{Fixed: awssim.Duration(time.Hour)}
		sc.Latency = awssim.Latency{ByRegion: map[string]awssim.Latency{"us-west-2": hour, "eu-central-1": hour}}
	}, func(c *config.Config) {
		c.Accounts.Organizations.Enabled = false
		c.Accounts.Static = []string{"111111111111", "222222222222", "333333333333"}
		c.Limits.Concurrency = 16 // enough for us-east-1 beside the hung calls
		c.Limits.PerAccountRegion = 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	rep := a.Run(ctx, "deadline")
	s := rep.Summary
	if !s.Incomplete || s.Checked == 0 || s.Checked >= s.Planned {
		t.Errorf("summary: got incomplete=%v checked=%d planned=%d; want incomplete with some checks done", s.Incomplete, s.Checked, s.Planned)
	}
	for _, r := range rep.Results {
		if strings.Contains(r.Cause, "context") {
			t.Errorf("%s/%s/%s: the deadline was recorded as a result: %q", r.Account, r.Region, r.Model, r.Cause)
		}
	}
}

func TestRunDeadlineDuringDiscoveryIsIncomplete(t *testing.T) {
	a, _ := fixture(t, func(sc *awssim.Scenario) {
		sc.Latency = awssim.Latency{Fixed: awssim.Duration(100 * time.Millisecond)}
	}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	rep := a.Run(ctx, "deadline-discovery")
	if !rep.Summary.Incomplete || len(rep.Summary.Errors) == 0 || rep.Summary.DiscoveryFailed {
		t.Errorf("summary: got incomplete=%v errors=%v discovery failed=%v; want incomplete with the discovery error, not a failed discovery", rep.Summary.Incomplete, rep.Summary.Errors, rep.Summary.DiscoveryFailed)
	}
}

func TestRunDiscovery(t *testing.T) {
	tests := []struct {
		name         string
		config       func(*config.Config)
		scenario     func(*awssim.Scenario)
		wantAccounts int
		wantErrors   string
	}{
		{"whole organization, suspended left out", nil, nil, 4, ""},
		{"nested OU filter", func(c *config.Config) { c.Accounts.Organizations.OUs = []string{"ou-test-prod0001"} }, nil, 2, ""},
		{"tag filter", func(c *config.Config) { c.Accounts.Organizations.Tags = map[string]string{"env": "sandbox"} }, nil, 2, ""},
		{"exclude list", func(c *config.Config) { c.Accounts.Exclude = []string{"444444444444"} }, nil, 3, ""},
		{
			"discovery fails, static accounts still audited",
			func(c *config.Config) { c.Accounts.Static = []string{"111111111111"} },
			func(sc *awssim.Scenario) {
				sc.Faults = []awssim.Rule{{Operation: awssim.OpListRoots, Rate: 1, Status: 500}}
			},
			1, "discover accounts: list roots",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := fixture(t, tt.scenario, tt.config)
			rep := a.Run(context.Background(), "discovery")
			if rep.Summary.Accounts != tt.wantAccounts {
				t.Errorf("accounts: got %d; want %d", rep.Summary.Accounts, tt.wantAccounts)
			}
			errs := strings.Join(rep.Summary.Errors, "; ")
			if (tt.wantErrors == "") != (errs == "") || !strings.Contains(errs, tt.wantErrors) {
				t.Errorf("errors: got %q; want %q", errs, tt.wantErrors)
			}
			// A discovery that failed fails the run: it cannot say the organization is fine.
			if got, want := rep.Summary.DiscoveryFailed, tt.wantErrors != ""; got != want || rep.Summary.Failed() != want {
				t.Errorf("discovery failed: got %v (run failed %v); want %v", got, rep.Summary.Failed(), want)
			}
		})
	}
}

// The first AssumeRole of an account waits for a call slot with the run's own
// context: once Run has returned, no worker may still be waiting to call STS
// (the SDK's credentials cache calls providers with a context that never ends).
func TestRunMakesNoCallsAfterItReturns(t *testing.T) {
	accounts := []string{"111111111111", "222222222222", "333333333333", "444444444444"}
	a, sim := fixture(t, func(sc *awssim.Scenario) {
		sc.Latency = awssim.Latency{Fixed: awssim.Duration(150 * time.Millisecond)}
	}, func(c *config.Config) {
		c.Accounts.Organizations.Enabled = false
		c.Accounts.Static = accounts
		c.Regions = []string{"us-east-1"} // one unit per account: workers wait on different accounts
		c.Limits.Concurrency = 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	a.Run(ctx, "cut")
	total := func() int64 {
		var n int64
		for _, c := range sim.AssumeRoleCalls() {
			n += c
		}
		return n
	}
	atReturn := total()
	// Long enough for every waiting AssumeRole to get a slot and be served.
	time.Sleep(time.Duration(len(accounts)) * 300 * time.Millisecond)
	if got := total(); got != atReturn {
		t.Errorf("AssumeRole calls: got %d after Run returned, %d when it returned; want none after", got, atReturn)
	}
}

// A request STS refuses as malformed (here a session longer than role
// chaining allows) is one configuration error of the run, not an AUDIT_ERROR
// per account with the advice to deploy the member role.
func TestRunAssumeRoleValidationErrorIsOneConfigurationError(t *testing.T) {
	a, sim := fixture(t, nil, func(c *config.Config) {
		c.Accounts.Organizations.Enabled = false
		c.Accounts.Static = []string{"111111111111", "222222222222", "333333333333"}
	})
	// What a configuration written before the 1-hour validation would send.
	a.checker.cfg.Role.SessionDuration = config.Duration(2 * time.Hour)
	rep := a.Run(context.Background(), "chained")
	s := rep.Summary
	if !strings.Contains(s.ConfigError, "role chaining") || !strings.Contains(s.ConfigError, "role.session_duration") {
		t.Errorf("config error: got %q; want the STS message and the field to fix", s.ConfigError)
	}
	if !s.Failed() {
		t.Error("Failed: got false; want a failed run")
	}
	for _, r := range rep.Results {
		if strings.Contains(r.Remediation, "Deploy the grantwatch member-role stack") {
			t.Errorf("%s/%s: got the advice to deploy the member role for a configuration error", r.Account, r.Region)
		}
	}
	var n int64
	for _, c := range sim.AssumeRoleCalls() {
		n += c
	}
	if n < 1 || n > int64(a.checker.cfg.Limits.Concurrency) {
		t.Errorf("AssumeRole calls: got %d; want between 1 and the calls in flight when the first was refused (%d)", n, a.checker.cfg.Limits.Concurrency)
	}
}
