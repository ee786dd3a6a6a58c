package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/grantwatch/grantwatch/pkg/check"
)

// The documentation is part of the product: the README is the front door
// (short, and a way to every page), and no link may lead nowhere or out of
// the repository.

const (
	repoRoot       = "../.."
	maxReadmeLines = 250
)

// markdownLink matches [text](target) and ![alt](target); the target stops at
// whitespace or the closing parenthesis.
var markdownLink = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)

// docFiles returns README.md and every docs/*.md, relative to the repository root.
func docFiles(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) == 0 {
		t.Fatal("no docs/*.md found")
	}
	files := []string{"README.md"}
	for _, p := range pages {
		rel, err := filepath.Rel(repoRoot, p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, filepath.ToSlash(rel))
	}
	return files
}

func readRepoFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// prose is the text of a Markdown file without fenced code blocks and inline
// code spans, where brackets and parentheses are not links.
func prose(md string) string {
	var b strings.Builder
	fenced := false
	for line := range strings.SplitSeq(md, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		parts := strings.Split(line, "`")
		for i := 0; i < len(parts); i += 2 { // even parts are outside code spans
			b.WriteString(parts[i])
			b.WriteByte(' ')
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// links returns the link targets of a Markdown file.
func links(md string) []string {
	var out []string
	for _, m := range markdownLink.FindAllStringSubmatch(prose(md), -1) {
		out = append(out, m[1])
	}
	return out
}

// anchors returns the heading anchors GitHub generates for a Markdown file:
// lower case, punctuation dropped, spaces as hyphens.
func anchors(md string) map[string]bool {
	out := map[string]bool{}
	fenced := false
	for line := range strings.SplitSeq(md, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
		}
		if fenced || !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(line, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(title) {
			switch {
			case r == ' ':
				b.WriteByte('-')
			case r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r > 127 && isLetter(r):
				b.WriteRune(r)
			}
		}
		out[b.String()] = true
	}
	return out
}

func isLetter(r rune) bool { return strings.ToUpper(string(r)) != strings.ToLower(string(r)) }

func isExternal(target string) bool {
	for _, scheme := range []string{"http://", "https://", "mailto:"} {
		if strings.HasPrefix(target, scheme) {
			return true
		}
	}
	return false
}

func TestReadmeIsShort(t *testing.T) {
	readme := readRepoFile(t, "README.md")
	if got := strings.Count(readme, "\n"); got > maxReadmeLines {
		t.Errorf("README.md: got %d lines; want at most %d (move the detail to a page under docs/)", got, maxReadmeLines)
	}
}

func TestReadmeLinksEveryDocsPage(t *testing.T) {
	linked := map[string]bool{}
	for _, target := range links(readRepoFile(t, "README.md")) {
		path, _, _ := strings.Cut(target, "#")
		linked[filepath.ToSlash(filepath.Clean(path))] = true
	}
	for _, f := range docFiles(t)[1:] {
		if !linked[f] {
			t.Errorf("README.md: no link to %s; want every docs page linked from the front door", f)
		}
	}
}

func TestDocsLinksResolveInsideTheRepository(t *testing.T) {
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range docFiles(t) {
		for _, target := range links(readRepoFile(t, file)) {
			if isExternal(target) {
				continue
			}
			path, anchor, _ := strings.Cut(target, "#")
			if strings.HasPrefix(path, "/") || filepath.IsAbs(path) {
				t.Errorf("%s: link %q is an absolute path; want a path relative to the file", file, target)
				continue
			}
			dest := filepath.Join(root, filepath.Dir(filepath.FromSlash(file)), filepath.FromSlash(path))
			rel, err := filepath.Rel(root, dest)
			if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				t.Errorf("%s: link %q points outside the repository", file, target)
				continue
			}
			info, err := os.Stat(dest)
			if err != nil {
				t.Errorf("%s: link %q: %s does not exist", file, target, rel)
				continue
			}
			if anchor == "" || info.IsDir() || !strings.HasSuffix(dest, ".md") {
				continue
			}
			if path == "" {
				rel = file
			}
			if !anchors(readRepoFile(t, filepath.ToSlash(rel)))[anchor] {
				t.Errorf("%s: link %q: %s has no heading with anchor #%s", file, target, filepath.ToSlash(rel), anchor)
			}
		}
	}
}

// The checks above must themselves catch what they are for.
func TestDocsLinkCheckerCatchesBadLinks(t *testing.T) {
	md := "see [a](docs/a.md#x-y) and ![img](pic.png \"title\"), not `[code](no.md)`\n```\n[fenced](no.md)\n```\n## X (`y`) y\n"
	got := strings.Join(links(md), " ")
	if want := "docs/a.md#x-y pic.png"; got != want {
		t.Errorf("links: got %q; want %q", got, want)
	}
	if a := anchors(md); !a["x-y-y"] {
		t.Errorf("anchors: got %v; want x-y-y", a)
	}
}

// The command page's synopses list the output formats exactly as the
// commands accept them, so a new format cannot go undocumented; the README's
// say --output FORMAT and leave the list to --help and that page, so a new
// format does not change the front door.
func TestDocsNameEveryOutputFormat(t *testing.T) {
	want := []string{
		"--output " + strings.Join(formats, "|"),        // run and demo
		"--output " + strings.Join(historyFormats, "|"), // history
		"--output " + strings.Join(fixFormats, "|"),     // fix
	}
	text := readRepoFile(t, "docs/command.md")
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("docs/command.md: no %q in its synopsis; want the formats the command accepts", w)
		}
	}
	readme := readRepoFile(t, "README.md")
	if strings.Contains(readme, "--output table|") || !strings.Contains(readme, "--output FORMAT") {
		t.Errorf("README.md: want --output FORMAT in its synopsis, and no list of formats that a new one would make stale")
	}
}

// The deploy page's table of the member role's actions has a row for each
// read the role is granted (check.MemberReadActions), with its resource, so
// a new AWS call cannot be deployed undocumented.
func TestDeployPageListsTheMemberRoleActions(t *testing.T) {
	page := readRepoFile(t, "docs/deploying.md")
	for _, a := range check.MemberReadActions() {
		if !strings.Contains(page, "| `"+a.Action+"` |") {
			t.Errorf("docs/deploying.md: no row for %s (granted on %s); want one in the member role's table", a.Action, a.Scope)
		}
	}
}
