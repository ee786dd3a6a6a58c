package result

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
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

// The derived lists keep the order and the defaults they had when they were
// written by hand.
func TestStatusTableDerivesTheLists(t *testing.T) {
	wantStatuses := []Status{
		Enabled, Pending, AgreementMissing, AgreementFailed, NotAuthorized,
		NotEntitled, NotInRegion, ProfileRequired, ProfileNotInRegion, Legacy, UnknownModel,
		IAMDenied, SCPDenied, BoundaryDenied, MarketplaceDenied, IAMUndetermined, AuditError,
	}
	if !slices.Equal(Statuses, wantStatuses) {
		t.Errorf("Statuses: got %v; want %v", Statuses, wantStatuses)
	}
	wantPrincipal := []Status{IAMDenied, SCPDenied, BoundaryDenied, MarketplaceDenied, IAMUndetermined}
	if !slices.Equal(PrincipalStatuses, wantPrincipal) {
		t.Errorf("PrincipalStatuses: got %v; want %v", PrincipalStatuses, wantPrincipal)
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
