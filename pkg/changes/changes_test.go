package changes

import (
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/result"
)

var (
	t0     = time.Date(2026, 11, 1, 4, 0, 0, 0, time.UTC)
	policy = Policy{Grace: 30 * time.Minute, Reminder: 7 * 24 * time.Hour}
)

type step struct {
	after  time.Duration // since t0
	status result.Status
	want   Kind // "" for no alert
	event  bool // a history event is recorded
}

// play feeds one check through a sequence of runs, each alert delivered.
func play(t *testing.T, steps []step) {
	t.Helper()
	prev := map[Key]State{}
	for i, s := range steps {
		r := result.Result{Account: "111111111111", Region: "us-east-1", Model: "m", Status: s.status, Cause: "cause of " + string(s.status)}
		u := Evaluate(prev, []result.Result{r}, t0.Add(s.after), policy)[0]
		var got Kind
		if u.Alert != nil {
			got = u.Alert.Kind
		}
		if got != s.want {
			t.Fatalf("step %d (%s after %v): got alert %q; want %q", i, s.status, s.after, got, s.want)
		}
		if (u.Event != nil) != s.event {
			t.Fatalf("step %d (%s): got event %v; want event %v", i, s.status, u.Event != nil, s.event)
		}
		prev[u.Key] = u.Next
	}
}

func TestEvaluateSequences(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name  string
		steps []step
	}{
		{"enabled all along alerts nobody", []step{
			{0, result.Enabled, "", true}, {day, result.Enabled, "", false}, {30 * day, result.Enabled, "", false},
		}},
		{"new, quiet, reminder, resolved, regressed", []step{
			{0, result.Enabled, "", true},
			{day, result.NotAuthorized, New, true},
			{2 * day, result.NotAuthorized, "", false},
			{8 * day, result.NotAuthorized, Reminder, false},
			{9 * day, result.NotAuthorized, "", false},
			{10 * day, result.Enabled, Resolved, true},
			{11 * day, result.Enabled, "", false},
			{12 * day, result.AgreementMissing, Regressed, true},
		}},
		{"not usable when first seen is new", []step{{0, result.Legacy, New, true}}},
		{"a different problem is a new alert", []step{
			{0, result.AgreementMissing, New, true}, {day, result.AgreementFailed, New, true}, {2 * day, result.AgreementFailed, "", false},
		}},
		{"pending inside the grace period alerts nobody", []step{
			{0, result.Enabled, "", true}, {day, result.Pending, "", true}, {day + 10*time.Minute, result.Enabled, "", true},
		}},
		{"pending past the grace period alerts", []step{
			{0, result.Pending, "", true}, {20 * time.Minute, result.Pending, "", false}, {40 * time.Minute, result.Pending, New, false},
		}},
		{"audit error is its own alert and keeps the model state", []step{
			{0, result.Enabled, "", true},
			{day, result.AuditError, AuditFailed, true},
			{2 * day, result.AuditError, "", false},
			{9 * day, result.AuditError, Reminder, false},
			{10 * day, result.Enabled, "", true}, // checked again: recorded, no model alert
		}},
		{"audit error hides no open problem", []step{
			{0, result.NotEntitled, New, true},
			{day, result.AuditError, AuditFailed, true},
			{2 * day, result.Enabled, Resolved, true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { play(t, tt.steps) })
	}
}

func TestUndeliveredAlertsComeBack(t *testing.T) {
	r := result.Result{Account: "111111111111", Region: "us-east-1", Model: "m", Status: result.NotEntitled}
	prev := map[Key]State{KeyOf(r): {Status: result.Enabled, Since: t0, CheckedAt: t0}}
	tests := []struct {
		name   string
		status result.Status
		want   Kind
	}{
		{"new", result.NotEntitled, New},
		{"audit error", result.AuditError, AuditFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r.Status = tt.status
			u := Evaluate(prev, []result.Result{r}, t0.Add(time.Hour), policy)[0]
			if u.Alert == nil || u.Alert.Kind != tt.want {
				t.Fatalf("first run: got %+v; want a %s alert", u.Alert, tt.want)
			}
			// The publish failed: the next run must alert again, once.
			again := Evaluate(map[Key]State{u.Key: u.Undelivered}, []result.Result{r}, t0.Add(2*time.Hour), policy)[0]
			if again.Alert == nil || again.Alert.Kind != tt.want {
				t.Fatalf("after a failed publish: got %+v; want the %s alert again", again.Alert, tt.want)
			}
			if again.Event != nil {
				t.Errorf("after a failed publish: got a second history event; want the transition recorded once")
			}
			done := Evaluate(map[Key]State{u.Key: again.Next}, []result.Result{r}, t0.Add(3*time.Hour), policy)[0]
			if done.Alert != nil {
				t.Errorf("after a delivered alert: got %+v; want nothing", done.Alert)
			}
		})
	}
}

func TestSeverity(t *testing.T) {
	day := 24 * time.Hour
	configured := Policy{Grace: policy.Grace, Reminder: policy.Reminder, Severity: result.Severities{
		result.Legacy: result.Info, result.NotInRegion: result.Ignore, result.AuditError: result.Critical,
	}}
	tests := []struct {
		name   string
		policy Policy
		steps  []step
		want   []result.Severity // of each step's alert, "" for none
	}{
		{"defaults: a missing agreement is a warning, a form a page", policy, []step{
			{0, result.AgreementMissing, New, true}, {day, result.NotAuthorized, New, true},
			{9 * day, result.NotAuthorized, Reminder, false}, {10 * day, result.Enabled, Resolved, true},
		}, []result.Severity{result.Warning, result.Critical, result.Warning, result.Info}},
		{"defaults: audit errors warn", policy, []step{{0, result.AuditError, AuditFailed, true}}, []result.Severity{result.Warning}},
		{"configured info still alerts, quietly", configured, []step{{0, result.Legacy, New, true}, {8 * day, result.Legacy, Reminder, false}}, []result.Severity{result.Info, result.Info}},
		{"configured critical audit errors", configured, []step{{0, result.AuditError, AuditFailed, true}}, []result.Severity{result.Critical}},
		{"ignore never alerts", configured, []step{{0, result.NotInRegion, "", true}, {30 * day, result.NotInRegion, "", false}}, []result.Severity{"", ""}},
		{"an ignored status closes an open alert", configured, []step{
			{0, result.NotEntitled, New, true}, {day, result.NotInRegion, Resolved, true}, {2 * day, result.NotEntitled, Regressed, true},
		}, []result.Severity{result.Critical, result.Info, result.Critical}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev := map[Key]State{}
			for i, s := range tt.steps {
				r := result.Result{Account: "111111111111", Region: "us-east-1", Model: "m", Status: s.status}
				u := Evaluate(prev, []result.Result{r}, t0.Add(s.after), tt.policy)[0]
				var kind Kind
				var sev result.Severity
				if u.Alert != nil {
					kind, sev = u.Alert.Kind, u.Alert.Severity
				}
				if kind != s.want || sev != tt.want[i] {
					t.Fatalf("step %d (%s): got alert %q severity %q; want %q severity %q", i, s.status, kind, sev, s.want, tt.want[i])
				}
				prev[u.Key] = u.Next
			}
		})
	}
}

// A suppressed check alerts nobody and keeps its real status; once the
// suppression is gone, a problem still there is reminded, once.
func TestSuppressedChecks(t *testing.T) {
	day := 24 * time.Hour
	under := &result.Suppressed{Reason: "accepted", Owner: "ml@example.com", Until: "2026-11-03"}
	steps := []struct {
		after      time.Duration
		status     result.Status
		suppressed bool
		want       Kind
	}{
		{0, result.NotEntitled, true, ""},
		{day, result.NotEntitled, true, ""},
		{2 * day, result.AuditError, true, ""},
		{3 * day, result.NotEntitled, false, Reminder},
		{4 * day, result.NotEntitled, false, ""},
		{5 * day, result.Enabled, false, Resolved},
	}
	prev := map[Key]State{}
	for i, s := range steps {
		r := result.Result{Account: "111111111111", Region: "us-east-1", Model: "m", Status: s.status}
		if s.suppressed {
			r.Suppress(under)
		}
		u := Evaluate(prev, []result.Result{r}, t0.Add(s.after), policy)[0]
		var got Kind
		if u.Alert != nil {
			got = u.Alert.Kind
		}
		if got != s.want {
			t.Fatalf("step %d (%s, suppressed %v): got alert %q; want %q", i, s.status, s.suppressed, got, s.want)
		}
		// The reminder names the suppression that ended; no other alert does.
		if u.Alert != nil {
			endedNow := s.want == Reminder
			if got := u.Alert.EndedSuppression; endedNow && (got == nil || *got != *under) || !endedNow && got != nil {
				t.Fatalf("step %d: alert %s names ended suppression %+v; want it named: %v", i, u.Alert.Kind, got, endedNow)
			}
			if endedNow && u.Alert.Shown() != SuppressionEnded {
				t.Fatalf("step %d: reminder shown as %s; want %s", i, u.Alert.Shown(), SuppressionEnded)
			}
		}
		if s.status != result.AuditError && u.Next.Status != s.status {
			t.Fatalf("step %d: state %s; want the real status %s", i, u.Next.Status, s.status)
		}
		prev[u.Key] = u.Next
	}
}

// A state stored before grantwatch remembered which suppression muted a
// check still reminds when the suppression ends, saying it is not known which.
func TestSuppressionEndedWithoutRecord(t *testing.T) {
	r := result.Result{Account: "111111111111", Region: "us-east-1", Model: "m", Status: result.NotEntitled}
	prev := map[Key]State{KeyOf(r): {Status: result.NotEntitled, Since: t0, CheckedAt: t0, Muted: true}}
	u := Evaluate(prev, []result.Result{r}, t0.Add(time.Hour), policy)[0]
	if u.Alert == nil || u.Alert.Kind != Reminder || u.Alert.EndedSuppression == nil || *u.Alert.EndedSuppression != (result.Suppressed{}) {
		t.Fatalf("got alert %+v; want a REMINDER with an empty ended suppression", u.Alert)
	}
	if u.Next.Muted || u.Next.MutedBy != nil || !u.Undelivered.Muted {
		t.Errorf("states: next muted %v by %v, undelivered muted %v; want unmuted once delivered, still muted if not", u.Next.Muted, u.Next.MutedBy, u.Undelivered.Muted)
	}
}
