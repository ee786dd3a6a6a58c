package result

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strings"
	"testing"

	"github.com/grantwatch/grantwatch/pkg/devtools/docsection"
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

// The statuses page's tables are statusTable's rows, in its order: the
// account statuses, whether principals are checked for them (Callable) and
// their default severity, then the principal statuses. A new status cannot
// be left off the page; go test ./pkg/result -run StatusesPage -update
// rewrites the two sections.
func TestStatusesPageMatchesTheTable(t *testing.T) {
	var account, principal strings.Builder
	account.WriteString("| status | signal | what to do (gist) | principals checked | severity |\n|---|---|---|---|---|\n")
	principal.WriteString("| principal status | signal | what to do (gist) | severity |\n|---|---|---|---|\n")
	for _, row := range statusTable {
		if row.Signal == "" || row.WhatToDo == "" || strings.Contains(row.Signal+row.WhatToDo, "|") {
			t.Errorf("%s: Signal %q, WhatToDo %q; want both, without '|'", row.Status, row.Signal, row.WhatToDo)
		}
		severity := string(row.Severity)
		if row.Severity == Info {
			severity = "—" // usable: alerted only as resolved
		}
		if row.PrincipalOnly {
			fmt.Fprintf(&principal, "| `%s` | %s | %s | %s |\n", row.Status, row.Signal, row.WhatToDo, severity)
			continue
		}
		checked := "yes"
		if !row.Status.Callable() {
			checked = "no"
		}
		fmt.Fprintf(&account, "| `%s` | %s | %s | %s | %s |\n", row.Status, row.Signal, row.WhatToDo, checked, severity)
	}
	docsection.Check(t, "../../docs/statuses.md", "statuses", account.String())
	docsection.Check(t, "../../docs/statuses.md", "principal-statuses", principal.String())
}
