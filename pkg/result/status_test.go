package result

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strings"
	"testing"
)

// Every Status constant has its row in statusTable, once, so that a new
// status cannot be left out of Statuses or the severity defaults.
func TestEveryStatusHasOneRow(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "status.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var declared []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			v := spec.(*ast.ValueSpec)
			if id, ok := v.Type.(*ast.Ident); ok && id.Name == "Status" {
				for _, n := range v.Names {
					declared = append(declared, n.Name)
				}
			}
		}
	}
	if len(declared) == 0 {
		t.Fatal("no Status constants found in status.go")
	}
	if len(statusTable) != len(declared) {
		t.Errorf("statusTable rows: got %d; want %d, one per Status constant %v", len(statusTable), len(declared), declared)
	}
	for _, s := range Statuses {
		if n := len(slices.DeleteFunc(slices.Clone(Statuses), func(o Status) bool { return o != s })); n != 1 {
			t.Errorf("%s: got %d rows; want 1", s, n)
		}
		if _, ok := defaultSeverity[s]; !ok || !slices.Contains(SeverityLevels, defaultSeverity[s]) {
			t.Errorf("%s: default severity %q; want one of %v", s, defaultSeverity[s], SeverityLevels)
		}
	}
}

// The derived lists keep the table's order, and the defaults are critical
// but for what is normal or still works.
func TestStatusTableDerivesTheLists(t *testing.T) {
	if len(Statuses) != len(statusTable) || Statuses[0] != Enabled || Statuses[len(Statuses)-1] != AuditError {
		t.Errorf("Statuses: got %v; want every row, ENABLED first and AUDIT_ERROR last", Statuses)
	}
	last := -1
	for _, s := range PrincipalStatuses {
		i := slices.Index(Statuses, s)
		if i <= last {
			t.Errorf("PrincipalStatuses: got %v; want them in the order of Statuses", PrincipalStatuses)
		}
		last = i
	}
	for _, s := range []Status{IAMDenied, SCPDenied, BoundaryDenied, MarketplaceDenied, IAMUndetermined} {
		if !slices.Contains(PrincipalStatuses, s) {
			t.Errorf("PrincipalStatuses: got %v; want %s among them", PrincipalStatuses, s)
		}
	}
	warnings := []Status{AgreementMissing, AuditError, IAMUndetermined}
	for _, s := range Statuses {
		want := Critical
		switch {
		case s.Usable():
			want = Info
		case slices.Contains(warnings, s):
			want = Warning
		}
		if got := Severities(nil).Of(s); got != want {
			t.Errorf("default severity of %s: got %s; want %s", s, got, want)
		}
	}
}

// The statuses page names, as the checks no principal could call, exactly
// the statuses the table marks Uncallable.
func TestStatusesPageNamesTheUncallable(t *testing.T) {
	page, err := os.ReadFile("../../docs/statuses.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(strings.Join(strings.Fields(string(page)), " "), "each check that a principal could call (not ")
	list, _, _ := strings.Cut(rest, ")")
	if !ok {
		t.Fatal("docs/statuses.md: no \"each check that a principal could call (not ...)\"; want the list of statuses without principal checks")
	}
	var named, want []string
	for _, s := range strings.Split(list, ",") {
		named = append(named, strings.Trim(strings.TrimSpace(s), "`"))
	}
	for _, s := range Statuses {
		if !s.Callable() {
			want = append(want, string(s))
		}
	}
	slices.Sort(named)
	slices.Sort(want)
	if !slices.Equal(named, want) {
		t.Errorf("docs/statuses.md names %v as no principal could call; want %v (statusTable's Uncallable)", named, want)
	}
}
