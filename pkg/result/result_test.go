package result

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"short enough", "AccessDenied", 12, "AccessDenied"},
		{"cut with a mark", "AccessDeniedException", 12, "AccessDen..."},
		{"never inside a rune", "Zugriff verweigert für München", 24, "Zugriff verweigert f..."},
		{"a multi-byte rune at the cut", strings.Repeat("é", 10), 10, "ééé..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Clip(tt.in, tt.max)
			if got != tt.want {
				t.Errorf("Clip(%q, %d): got %q; want %q", tt.in, tt.max, got, tt.want)
			}
			if len(got) > tt.max || !utf8.ValidString(got) {
				t.Errorf("Clip(%q, %d) = %q: %d bytes, valid UTF-8 %v; want at most %d bytes of valid UTF-8", tt.in, tt.max, got, len(got), utf8.ValidString(got), tt.max)
			}
		})
	}
}

// The summaries of a run's batches add up to the run's.
func TestSummaryAdd(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	a := Summary{RunID: "run", Regions: 2, StartedAt: t0.Add(time.Second), FinishedAt: t0.Add(time.Minute), Accounts: 2, Planned: 8, Checked: 8,
		Counts: map[Status]int{Enabled: 7, AgreementMissing: 1}, NotUsable: 1, Warnings: []string{"w"}}
	b := Summary{RunID: "run", Regions: 2, StartedAt: t0, FinishedAt: t0.Add(2 * time.Minute), Accounts: 3, Planned: 12, Checked: 10,
		Counts: map[Status]int{Enabled: 9, AuditError: 1}, AuditErrs: 1, Incomplete: true, Unreached: []string{"333333333333"},
		PrincipalChecks: 4, PrincipalCounts: map[Status]int{Enabled: 3, IAMDenied: 1}, PrincipalNotUsable: 1,
		Warnings: []string{"w", "v"}, Errors: []string{"e"}}
	var s Summary
	s.RunID, s.Regions = "run", 2
	s.Add(a)
	s.Add(b)
	want := Summary{RunID: "run", Regions: 2, StartedAt: t0, FinishedAt: t0.Add(2 * time.Minute), DurationMS: 120000, Accounts: 5, Planned: 20, Checked: 18,
		Counts: map[Status]int{Enabled: 16, AgreementMissing: 1, AuditError: 1}, NotUsable: 1, AuditErrs: 1, Incomplete: true,
		PrincipalChecks: 4, PrincipalCounts: map[Status]int{Enabled: 3, IAMDenied: 1}, PrincipalNotUsable: 1,
		Unreached: []string{"333333333333"}, Warnings: []string{"w", "v"}, Errors: []string{"e"}}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("got %+v; want %+v", s, want)
	}
}

// Account checks and principal results are counted apart, each adding up to
// its own total; a principal's copy of its account's problem counts as a
// principal result.
func TestSummarizeKeepsChecksAndPrincipalsApart(t *testing.T) {
	suppressed := Result{Account: "1", Region: "r", Model: "m3", Status: AgreementMissing}
	suppressed.Suppress(&Suppressed{Reason: "accepted", Owner: "o", Until: "2027-01-01"})
	results := []Result{
		{Account: "1", Region: "r", Model: "m1", Status: Enabled},
		{Account: "1", Region: "r", Model: "m1", Principal: "app", Status: IAMDenied},
		{Account: "1", Region: "r", Model: "m2", Status: AgreementMissing},
		{Account: "1", Region: "r", Model: "m2", Principal: "app", Status: AgreementMissing}, // the account's problem, copied
		{Account: "1", Region: "r", Model: "m2", Principal: "batch", Status: AuditError},
		suppressed,
		{Account: "1", Region: "r", Model: "m4", Status: AuditError},
	}
	var s Summary
	s.Summarize(results)
	want := Summary{
		Checked: 4, Counts: map[Status]int{Enabled: 1, AgreementMissing: 2, AuditError: 1}, NotUsable: 1, AuditErrs: 1, Suppressed: 1,
		PrincipalChecks: 3, PrincipalCounts: map[Status]int{IAMDenied: 1, AgreementMissing: 1, AuditError: 1}, PrincipalNotUsable: 2, PrincipalAuditErrs: 1,
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("got %+v; want %+v", s, want)
	}
	if got := sum(s.Counts); got != s.Checked {
		t.Errorf("counts add up to %d; want checks_done %d", got, s.Checked)
	}
	if got := sum(s.PrincipalCounts); got != s.PrincipalChecks {
		t.Errorf("principal_counts add up to %d; want principal_checks %d", got, s.PrincipalChecks)
	}
	if got := s.NotUsable + s.AuditErrs + s.Suppressed + s.Counts[Enabled]; got != s.Checked {
		t.Errorf("not usable + audit errors + suppressed + enabled = %d; want checks_done %d", got, s.Checked)
	}
}

func sum(counts map[Status]int) int {
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}
