package config

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The stack (infra) and the functions share environment names and metric
// names through this file's constants: a literal copy in either would let a
// rename leave a function without its setting or an alarm watching a
// metric nobody writes.
func TestStackAndFunctionsUseTheSharedNames(t *testing.T) {
	for _, dir := range []string{"../../infra", "../../functions/auditor", "../../functions/history"} {
		metrics := Metrics
		if dir != "../../infra" { // where the stack itself is named Grantwatch
			metrics = append([]string{MetricNamespace}, Metrics...)
		}
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: got %d Go files, %v; want the package's sources", dir, len(files), err)
		}
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			for _, lit := range stringLiterals(t, path) {
				switch {
				case strings.HasPrefix(lit.value, "GRANTWATCH_"):
					t.Errorf("%s: environment name %q written out; want pkg/config's Env constant", lit.pos, lit.value)
				case slices.Contains(metrics, lit.value) && !lit.alarmID:
					t.Errorf("%s: metric name %q written out; want pkg/config's Metric constant", lit.pos, lit.value)
				}
			}
		}
	}
}

type literal struct {
	value string
	pos   token.Position
	// alarmID is the id of a stack's alarm: a CloudFormation logical id,
	// named like the metric it watches but renamed only with the alarm.
	alarmID bool
}

// stringLiterals lists a Go file's string literals (imports left out).
func stringLiterals(t *testing.T, path string) []literal {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[*ast.BasicLit]bool{}
	var lits []literal
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.ImportSpec:
			return false
		case *ast.CallExpr:
			if fn, ok := n.Fun.(*ast.Ident); ok && fn.Name == "alarm" && len(n.Args) > 0 {
				if lit, ok := n.Args[0].(*ast.BasicLit); ok {
					ids[lit] = true
				}
			}
		case *ast.BasicLit:
			if n.Kind != token.STRING {
				return true
			}
			v, err := strconv.Unquote(n.Value)
			if err != nil {
				t.Fatalf("%s: %v", fset.Position(n.Pos()), err)
			}
			lits = append(lits, literal{value: v, pos: fset.Position(n.Pos()), alarmID: ids[n]})
		}
		return true
	})
	return lits
}
