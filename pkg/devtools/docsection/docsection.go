// Package docsection keeps a generated section of a documentation page equal
// to what the code renders from its one list (the statuses, the member
// role's actions): a test compares the page's section with the rendering,
// and the same test run with -update rewrites the section instead.
//
// A section is the text between the lines <!-- NAME:begin --> and
// <!-- NAME:end -->; the rest of the page is written by hand.
package docsection

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated sections of the docs/ pages from the code instead of comparing them")

// Check compares the section NAME of the page at path with want (without its
// marker lines); with -update it writes want there.
func Check(t testing.TB, path, name, want string) {
	t.Helper()
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	begin, end := "<!-- "+name+":begin -->\n", "<!-- "+name+":end -->"
	head, rest, ok1 := strings.Cut(string(page), begin)
	got, tail, ok2 := strings.Cut(rest, end)
	if !ok1 || !ok2 {
		t.Fatalf("%s: no section between %q and %q; want the generated %s there", path, strings.TrimSpace(begin), end, name)
	}
	want = strings.TrimSuffix(want, "\n") + "\n"
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(head+begin+want+end+tail), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: rewrote the %s section", path, name)
		return
	}
	t.Errorf("%s: the %s section differs from the code's rendering; to rewrite it, run go test -run '^%s$' -update in this package.\ngot:\n%s\nwant:\n%s", path, name, t.Name(), got, want)
}
