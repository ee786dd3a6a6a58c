package awssim

// The behaviour ledger's enforcement. It lives here because the simulator
// is most of what the ledger describes, its operations and error codes are
// read straight from this package's source, and `go test ./pkg/...` (what
// every engineer runs) runs it.

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/grantwatch/grantwatch/pkg/result"
)

const (
	moduleRoot = "../../.."
	ledgerFile = "docs/aws-behaviour.md"
)

// ledgerRow is one row of the ledger.
type ledgerRow struct {
	id, area                string
	claim, source, pinnedBy string
	line                    int
}

// ledger is the parsed ledger: its areas and rows.
type ledger struct {
	areas []string
	rows  []ledgerRow
	byID  map[string]ledgerRow
}

var (
	rowID      = regexp.MustCompile(`^([A-Z]+)-[a-z0-9]+(-[a-z0-9]+)*$`)
	areaRow    = regexp.MustCompile("^\\| `([A-Z]+)` \\|")
	backticked = regexp.MustCompile("`([^`]+)`")
)

func readLedger(t *testing.T) ledger {
	t.Helper()
	f, err := os.Open(filepath.Join(moduleRoot, ledgerFile))
	if err != nil {
		t.Fatalf("the behaviour ledger: %v", err)
	}
	defer f.Close()
	l := ledger{byID: map[string]ledgerRow{}}
	section := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if m := areaRow.FindStringSubmatch(line); m != nil && section == "" {
			l.areas = append(l.areas, m[1])
			continue
		}
		if h, ok := strings.CutPrefix(line, "## "); ok {
			section = strings.TrimSpace(h)
			continue
		}
		if !strings.HasPrefix(line, "| ") {
			continue
		}
		cells := splitRow(line)
		if len(cells) == 0 || !rowID.MatchString(cells[0]) {
			continue
		}
		if len(cells) != 4 {
			t.Errorf("%s:%d: row %s has %d cells; want 4: id | claim | source | pinned by", ledgerFile, n, cells[0], len(cells))
			continue
		}
		r := ledgerRow{id: cells[0], area: section, claim: cells[1], source: cells[2], pinnedBy: cells[3], line: n}
		if prev, dup := l.byID[r.id]; dup {
			t.Errorf("%s:%d: row id %s is used again (first at line %d); ids are unique", ledgerFile, n, r.id, prev.line)
		}
		l.byID[r.id] = r
		l.rows = append(l.rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(l.areas) == 0 {
		t.Fatalf("%s: no areas table (| `AREA` | what it covers |)", ledgerFile)
	}
	return l
}

// splitRow splits a Markdown table row into its cells; `\|` stays inside one.
func splitRow(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	var cells []string
	var cell strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cell.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cell.String()))
			cell.Reset()
		default:
			cell.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(cell.String()))
}

// names reports whether some row names word in backticks.
func (l ledger) names(word string) bool {
	for _, r := range l.rows {
		for _, m := range backticked.FindAllStringSubmatch(r.claim, -1) {
			if m[1] == word {
				return true
			}
		}
	}
	return false
}

// testNames are the Test functions of the module, by name.
func testNames(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	decl := regexp.MustCompile(`(?m)^func (Test\w+)\(`)
	walkGo(t, func(path string, src []byte) {
		if strings.HasSuffix(path, "_test.go") {
			for _, m := range decl.FindAllSubmatch(src, -1) {
				names[string(m[1])] = true
			}
		}
	})
	return names
}

// walkGo calls fn with every Go file of the module, outside build output
// and installed tools.
func walkGo(t *testing.T, fn func(path string, src []byte)) {
	t.Helper()
	err := filepath.WalkDir(moduleRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "node_modules", "cdk.out", ".git", "bin", "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(moduleRoot, path)
		fn(filepath.ToSlash(rel), src)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Every row is in its area's section, has a claim, a source (a URL, or
// "inferred" and why) and names the tests that pin it (or says "not pinned").
func TestLedgerRowsAreComplete(t *testing.T) {
	l := readLedger(t)
	tests := testNames(t)
	pinned := regexp.MustCompile(`\bTest\w+`)
	ids := map[string]bool{}
	for _, r := range l.rows {
		ids[r.id] = true
	}
	for _, r := range l.rows {
		where := fmt.Sprintf("%s:%d: row %s", ledgerFile, r.line, r.id)
		area := rowID.FindStringSubmatch(r.id)[1]
		if !slices.Contains(l.areas, area) {
			t.Errorf("%s: area %s is not in the areas table (%s)", where, area, strings.Join(l.areas, ", "))
		}
		if r.area != area {
			t.Errorf("%s: in section %q; move it to the section %q", where, r.area, area)
		}
		if r.claim == "" {
			t.Errorf("%s: no claim", where)
		}
		if !sourced(r.source, ids) {
			t.Errorf("%s: the source names no URL, no SDK file, no other row and does not say \"inferred\" (and why)", where)
		}
		names := pinned.FindAllString(r.pinnedBy, -1)
		if len(names) == 0 && !strings.Contains(strings.ToLower(r.pinnedBy), "not pinned") {
			t.Errorf("%s: \"pinned by\" names no Test function and does not say \"not pinned\"", where)
		}
		for _, name := range names {
			if !tests[name] {
				t.Errorf("%s: pinned by %s, which is no Test function of the module", where, name)
			}
		}
	}
}

// sourced says whether a row's source can be checked: a URL, the SDK's own
// source (its serializers and deserializers are a source the brief names),
// another row of the ledger that holds the source, or "inferred" and why.
func sourced(source string, ids map[string]bool) bool {
	if strings.Contains(source, "https://") || strings.Contains(source, "aws-sdk-go-v2") ||
		strings.Contains(strings.ToLower(source), "inferred") {
		return true
	}
	for _, id := range rowRef.FindAllString(source, -1) {
		if ids[id] {
			return true
		}
	}
	return false
}

var rowRef = regexp.MustCompile(`\b[A-Z]+-[a-z0-9]+(?:-[a-z0-9]+)*\b`)

// Every status grantwatch gives has its classification rule in the CLS
// section: the signal, why it means that status, and the source.
func TestEveryStatusHasALedgerRow(t *testing.T) {
	l := readLedger(t)
	for _, s := range result.Statuses {
		id := "CLS-" + strings.ToLower(strings.ReplaceAll(string(s), "_", "-"))
		if _, ok := l.byID[id]; !ok {
			t.Errorf("status %s has no ledger row: add \"| %s | <the signal, and why it means %s> | <URL and quote, or inferred: why> | <Test that pins it> |\" to the CLS section of %s", s, id, s, ledgerFile)
		}
	}
}

// simulatorSource parses the simulator's own (non-test) files.
func simulatorSource(t *testing.T) (*gotoken.FileSet, []*ast.File) {
	t.Helper()
	fset := gotoken.NewFileSet()
	paths, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return fset, files
}

// simulatorOperations are the operations the simulator dispatches: its Op*
// constants, which every protocol's operation() returns and serve() switches on.
func simulatorOperations(t *testing.T) map[string]string {
	t.Helper()
	_, files := simulatorSource(t)
	ops := map[string]string{}
	for _, f := range files {
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != gotoken.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Op") || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == gotoken.STRING {
						op, _ := strconv.Unquote(lit.Value)
						ops[op] = name.Name
					}
				}
			}
		}
	}
	return ops
}

// The operations the simulator dispatches are protocol constants used by
// every serve() switch: a case on anything else would escape the ledger.
func TestSimulatorDispatchesOnlyItsOperations(t *testing.T) {
	fset, files := simulatorSource(t)
	ops := simulatorOperations(t)
	consts := map[string]bool{}
	for _, c := range ops {
		consts[c] = true
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			sw, ok := n.(*ast.SwitchStmt)
			if !ok || sw.Tag == nil {
				return true
			}
			sel, ok := sw.Tag.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "op" {
				return true
			}
			for _, stmt := range sw.Body.List {
				for _, e := range stmt.(*ast.CaseClause).List {
					if id, ok := e.(*ast.Ident); !ok || !consts[id.Name] {
						t.Errorf("%s: a dispatch on %s that is not an Op* constant: declare the operation as a constant (server.go) so the ledger test sees it", fset.Position(e.Pos()), exprText(e))
					}
				}
			}
			return true
		})
	}
}

func exprText(e ast.Expr) string {
	if lit, ok := e.(*ast.BasicLit); ok {
		return lit.Value
	}
	return fmt.Sprintf("%T", e)
}

// Every operation the simulator answers is named in the ledger, in a row
// that says what shape its answer has and where that comes from.
func TestEverySimulatorOperationHasALedgerRow(t *testing.T) {
	l := readLedger(t)
	ops := simulatorOperations(t)
	if len(ops) == 0 {
		t.Fatal("no Op* constants found in pkg/devtools/awssim")
	}
	for op, name := range ops {
		if !l.names(op) {
			t.Errorf("simulator operation %s (%s) has no ledger row: add a row naming `%s` (its answer's shape, the source, the test) to its service's section of %s", op, name, op, ledgerFile)
		}
	}
}

// simulatedErrorCodes are the error codes the simulator can answer with:
// the code of every apiError it builds, the codes passed to accessDenied
// and writeRESTError, and the codes returned by its *Code functions.
func simulatedErrorCodes(t *testing.T) map[string]string {
	t.Helper()
	fset, files := simulatorSource(t)
	codes := map[string]string{}
	add := func(e ast.Expr) {
		switch v := e.(type) {
		case *ast.BasicLit:
			if code, err := strconv.Unquote(v.Value); err == nil {
				if _, seen := codes[code]; !seen {
					codes[code] = fset.Position(v.Pos()).String()
				}
				return
			}
		case *ast.CallExpr:
			if id, ok := v.Fun.(*ast.Ident); ok && strings.HasSuffix(id.Name, "Code") {
				return // its returns are read below
			}
		case *ast.SelectorExpr:
			if v.Sel.Name == "code" {
				return // an apiError's code passed on
			}
		case *ast.Ident:
			if v.Name == "code" {
				return // accessDenied's parameter: its callers are read
			}
		}
		t.Errorf("%s: an error code that is not a string literal or a *Code function's answer: the ledger test cannot see it", fset.Position(e.Pos()))
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch v := n.(type) {
			case *ast.KeyValueExpr:
				if k, ok := v.Key.(*ast.Ident); ok && k.Name == "code" {
					add(v.Value)
				}
			case *ast.CallExpr:
				if id, ok := v.Fun.(*ast.Ident); ok {
					switch {
					case id.Name == "accessDenied" && len(v.Args) > 0:
						add(v.Args[0])
					case id.Name == "writeRESTError" && len(v.Args) > 2:
						add(v.Args[2])
					}
				}
			case *ast.FuncDecl:
				if strings.HasSuffix(v.Name.Name, "Code") && v.Body != nil {
					ast.Inspect(v.Body, func(n ast.Node) bool {
						if ret, ok := n.(*ast.ReturnStmt); ok && len(ret.Results) == 1 {
							add(ret.Results[0])
						}
						return true
					})
				}
			}
			return true
		})
	}
	return codes
}

// Every error code the simulator produces is named in the ledger, with
// where AWS is seen to answer it.
func TestEverySimulatedErrorCodeHasALedgerRow(t *testing.T) {
	l := readLedger(t)
	codes := simulatedErrorCodes(t)
	if len(codes) < 10 {
		t.Fatalf("found %d error codes in pkg/devtools/awssim; the scan is broken", len(codes))
	}
	for code, where := range codes {
		if !l.names(code) {
			t.Errorf("error code %s (first at pkg/devtools/awssim/%s) has no ledger row: add a row naming `%s` (when AWS answers it, the source, the test) to its service's section of %s, or PROTO when several services share it", code, where, code, ledgerFile)
		}
	}
}

// Every "ledger: ID" comment in the module names a row that exists.
func TestLedgerCommentsNameRows(t *testing.T) {
	l := readLedger(t)
	comment := regexp.MustCompile(`//.*\bledger: ([A-Z]+-[a-z0-9-]+(?:,\s*[A-Z]+-[a-z0-9-]+)*)`)
	found := 0
	walkGo(t, func(path string, src []byte) {
		for i, line := range strings.Split(string(src), "\n") {
			m := comment.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			for _, id := range strings.Split(m[1], ",") {
				id = strings.TrimSpace(id)
				found++
				if _, ok := l.byID[id]; !ok {
					t.Errorf("%s:%d: \"ledger: %s\" names no row of %s: add the row to its area's section, or fix the id", path, i+1, id, ledgerFile)
				}
			}
		}
	})
	if found == 0 {
		t.Error("no \"// ledger: ID\" comment in the module; the simulator's rules and the classifier's branches name their rows")
	}
}

// Every Op constant is one its protocol lists in operations(), so the
// simulator counts its calls ([Server.Calls], Stats); a protocol file holds
// its constants, its list, its routing and its handlers together.
func TestEveryOperationIsCounted(t *testing.T) {
	counted := map[string]bool{}
	for _, op := range operations {
		if counted[op] {
			t.Errorf("operation %s: listed twice; want once", op)
		}
		counted[op] = true
	}
	for op, name := range simulatorOperations(t) {
		if !counted[op] {
			t.Errorf("%s: not in its protocol's operations(); want it listed, or its calls go uncounted", name)
		}
		delete(counted, op)
	}
	for op := range counted {
		t.Errorf("operation %s: listed but no Op constant; want one", op)
	}
}
