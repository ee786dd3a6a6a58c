package main

// The default table: a summary, then the problems only, grouped so that
// each cause and remediation is printed once with the checks it covers.
// --all prints every check; JSON and CSV keep every full text.

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/grantwatch/grantwatch/pkg/result"
)

// defaultWidth is the line width when stdout is not a terminal.
const defaultWidth = 120

// tableView is how a table is printed: every check or the problems only,
// and the widest line.
type tableView struct {
	all   bool
	width int
}

// viewFor is the table view for w: its terminal's width, or defaultWidth
// when it is not a terminal.
func viewFor(w io.Writer, all bool) tableView {
	if ww, ok := w.(*wrapWriter); ok {
		return tableView{all: all, width: ww.width}
	}
	width := defaultWidth
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			width = cols
		}
	}
	return tableView{all: all, width: width}
}

// The placeholders a grouped text shows where its checks differ.
const (
	accountHolder   = "<account>"
	regionHolder    = "<region>"
	principalHolder = "<principal>"
)

// problemGroup is checks with the same status, model and remediation once
// their account id, region and principal name are set aside.
type problemGroup struct {
	status result.Status
	model  string
	// template is the remediation with placeholders for the account,
	// region and principal; causes are the distinct causes, likewise.
	template groupText
	causes   []groupText
	checks   []result.Result
}

// groupText is a text of a group; literal when it held a placeholder's
// spelling itself and so was not generalized.
type groupText struct {
	text    string
	literal bool
}

// isProblem: a check a person should act on, as the WHAT TO DO list has
// always chosen them. A principal's copy of its account's problem is left
// out (its severity does not alert): the account's own check says what to do.
func isProblem(r result.Result) bool {
	if r.Status.Usable() || r.SuppressedBy() != nil {
		return false
	}
	return r.Principal == "" || result.Severities(nil).For(r).Alerts()
}

// groupProblems groups the problems among results, in the order of
// result.Statuses and then of their first check.
func groupProblems(results []result.Result) []problemGroup {
	return groupResults(results, isProblem)
}

// groupResults groups the results that keep accepts by status, model,
// suppression and generalized remediation, in the order of
// result.Statuses and then of their first check.
func groupResults(results []result.Result, keep func(result.Result) bool) []problemGroup {
	var groups []problemGroup
	index := map[string]int{}
	for _, r := range results {
		if !keep(r) {
			continue
		}
		tmpl := generalize(r.Remediation, r)
		key := fmt.Sprintf("%s\x00%s\x00%s\x00%v\x00%s", r.Status, r.Model, suppressedText(r), tmpl.literal, tmpl.text)
		i, ok := index[key]
		if !ok {
			i = len(groups)
			index[key] = i
			groups = append(groups, problemGroup{status: r.Status, model: r.Model, template: tmpl})
		}
		g := &groups[i]
		g.checks = append(g.checks, r)
		if c := generalize(r.Cause, r); !slices.Contains(g.causes, c) {
			g.causes = append(g.causes, c)
		}
	}
	rank := func(s result.Status) int { return slices.Index(result.Statuses, s) }
	slices.SortStableFunc(groups, func(a, b problemGroup) int { return cmp.Compare(rank(a.status), rank(b.status)) })
	return groups
}

// generalize puts placeholders for r's account id, region and principal
// name into text, where they stand as whole names. Filling them back in
// gives text again exactly: a text that already holds a placeholder is
// left as it is, so it groups only with identical texts.
func generalize(text string, r result.Result) groupText {
	for _, h := range []string{accountHolder, regionHolder, principalHolder} {
		if strings.Contains(text, h) {
			return groupText{text: text, literal: true}
		}
	}
	text = replaceName(text, r.Account, accountHolder, isDigit)
	text = replaceName(text, r.Region, regionHolder, isRegionByte)
	return groupText{text: replaceName(text, r.Principal, principalHolder, isNameByte)}
}

// specialize fills in the placeholders whose value every check of g shares,
// in the reverse order generalize put them in; the others stay. A literal
// text is returned as it is.
func (g problemGroup) specialize(t groupText) string {
	text := t.text
	if t.literal {
		return text
	}
	same := func(f func(result.Result) string) (string, bool) {
		v := f(g.checks[0])
		for _, c := range g.checks[1:] {
			if f(c) != v {
				return "", false
			}
		}
		return v, true
	}
	if v, ok := same(func(r result.Result) string { return r.Principal }); ok && v != "" {
		text = strings.ReplaceAll(text, principalHolder, v)
	}
	if v, ok := same(func(r result.Result) string { return r.Region }); ok {
		text = strings.ReplaceAll(text, regionHolder, v)
	}
	if v, ok := same(func(r result.Result) string { return r.Account }); ok {
		text = strings.ReplaceAll(text, accountHolder, v)
	}
	return text
}

// isDigit, isRegionByte and isNameByte: the bytes that can continue an
// account id, a region (us-east-1) or an IAM role name (letters, digits
// and +=,.@_-), so that a name is replaced only where it stands whole.
func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func isRegionByte(b byte) bool { return b >= 'a' && b <= 'z' || isDigit(b) || b == '-' }

func isNameByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || strings.IndexByte("+=,.@_-", b) >= 0
}

// replaceName replaces name in text by holder where it stands whole: not
// preceded or followed by a byte that could continue it. A principal
// "ChatApp" is replaced in "role/ChatApp:" but not in "ChatAppV2".
func replaceName(text, name, holder string, inName func(byte) bool) string {
	if name == "" {
		return text
	}
	var b strings.Builder
	for {
		i := strings.Index(text, name)
		if i < 0 {
			b.WriteString(text)
			return b.String()
		}
		end := i + len(name)
		whole := (i == 0 || !inName(text[i-1])) && endsName(text[end:], inName)
		b.WriteString(text[:i])
		if whole {
			b.WriteString(holder)
		} else {
			b.WriteString(name)
		}
		text = text[end:]
	}
}

// endsName reports whether rest, what follows a name, ends it: nothing, a
// byte no name has, or a full stop or comma that ends a sentence or a list
// item (followed by a space or the end).
func endsName(rest string, inName func(byte) bool) bool {
	switch {
	case rest == "" || !inName(rest[0]):
		return true
	case rest[0] == '.' || rest[0] == ',':
		return len(rest) == 1 || rest[1] == ' ' || rest[1] == '\n'
	}
	return false
}

// problemsTable writes head (the summary's lines), the accounts and regions
// with problems, the problem groups and the suppressed checks, no line
// wider than width.
func problemsTable(w io.Writer, width int, head []string, results []result.Result) error {
	var b bytes.Buffer
	for _, l := range head {
		writeWrapped(&b, l, "", "    ", width)
	}
	groups := groupProblems(results)
	n := 0
	accounts, regions := map[string]int{}, map[string]int{}
	for _, g := range groups {
		n += len(g.checks)
		for _, c := range g.checks {
			accounts[c.Account]++
			regions[c.Region]++
		}
	}
	if n == 0 {
		writeWrapped(&b, "no problems: every check is usable or suppressed", "", "    ", width)
	} else {
		writeWrapped(&b, "accounts with problems: "+tallyNames(accounts), "", "    ", width)
		writeWrapped(&b, "regions with problems: "+tallyNames(regions), "", "    ", width)
		b.WriteString("\n")
		writeWrapped(&b, fmt.Sprintf("PROBLEMS: %d checks in %d groups (usable checks are not shown; --all prints every check)", n, len(groups)), "", "    ", width)
	}
	for _, g := range groups {
		b.WriteString("\n")
		writeWrapped(&b, fmt.Sprintf("%s  %s  (%s)", g.status, g.model, g.counted()), "", "    ", width)
		for _, l := range g.where() {
			writeWrapped(&b, l, "  ", "      ", width)
		}
		const most = 3
		for i, c := range g.causes {
			if i == most {
				writeWrapped(&b, fmt.Sprintf("(%d more causes; --output json or csv has every one)", len(g.causes)-most), "  ", "    ", width)
				break
			}
			writeWrapped(&b, "cause: "+g.specialize(c), "  ", "    ", width)
		}
		writeWrapped(&b, "-> "+g.specialize(g.template), "  ", "     ", width)
		if held := g.held(most); held != "" {
			writeWrapped(&b, "("+held+": each check's own)", "     ", "     ", width)
		}
	}
	var suppressed []string
	for _, r := range results {
		if sp := r.SuppressedBy(); sp != nil && !r.Status.Usable() {
			suppressed = append(suppressed, fmt.Sprintf("%s %s: %s (%s, until %s)", where(r), r.Status, sp.Reason, sp.Owner, sp.Until))
		}
	}
	if len(suppressed) > 0 {
		fmt.Fprintf(&b, "\nSUPPRESSED (%d, not alerted):\n", len(suppressed))
		for _, s := range suppressed {
			writeWrapped(&b, s, "  ", "    ", width)
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// counted is how many checks a group covers, account checks and principal
// results apart.
func (g problemGroup) counted() string {
	var checks, principals int
	for _, c := range g.checks {
		if c.Principal == "" {
			checks++
		} else {
			principals++
		}
	}
	var parts []string
	if checks > 0 {
		parts = append(parts, countOf(checks, "account check", "account checks"))
	}
	if principals > 0 {
		parts = append(parts, countOf(principals, "principal result", "principal results"))
	}
	return strings.Join(parts, ", ")
}

// where lists a group's checks, one line per account and set of
// principals: "111111111111 in eu-central-1, us-east-1: ChatApp, VpcApp"
// (each of those regions has exactly those principals; "(account)" is the
// account's own check).
func (g problemGroup) where() []string {
	type line struct{ account, principals string }
	var order []line
	regions := map[line][]string{}
	// The checks come sorted by account, region, model and principal.
	byRegion := map[[2]string][]string{}
	var keys [][2]string
	for _, c := range g.checks {
		k := [2]string{c.Account, c.Region}
		if _, ok := byRegion[k]; !ok {
			keys = append(keys, k)
		}
		byRegion[k] = append(byRegion[k], cmp.Or(c.Principal, "(account)"))
	}
	for _, k := range keys {
		l := line{k[0], strings.Join(byRegion[k], ", ")}
		if _, ok := regions[l]; !ok {
			order = append(order, l)
		}
		regions[l] = append(regions[l], k[1])
	}
	var out []string
	for _, l := range order {
		s := l.account + " in " + strings.Join(regions[l], ", ")
		if l.principals != "(account)" {
			s += ": " + l.principals
		}
		out = append(out, s)
	}
	return out
}

// held names the placeholders left in the remediation and the first
// causes of g once specialized; a literal text's are its own.
func (g problemGroup) held(causes int) string {
	var text string
	for _, t := range append([]groupText{g.template}, g.causes[:min(causes, len(g.causes))]...) {
		if !t.literal {
			text += g.specialize(t)
		}
	}
	return holders(text)
}

// holders names the placeholders text holds, e.g. "<account>, <principal>".
func holders(text string) string {
	var held []string
	for _, h := range []string{accountHolder, regionHolder, principalHolder} {
		if strings.Contains(text, h) {
			held = append(held, h)
		}
	}
	return strings.Join(held, ", ")
}

// tallyNames is "a (3), b (1)" in the order of the names.
func tallyNames(counts map[string]int) string {
	var names []string
	for n := range counts {
		names = append(names, n)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s (%d)", n, counts[n])
	}
	return strings.Join(parts, ", ")
}

// writeWrapped writes text in lines at most width wide: the first starts
// with first, the others with rest; it breaks at spaces, and a word longer
// than a line is cut where the line ends.
func writeWrapped(w *bytes.Buffer, text, first, rest string, width int) {
	prefix := first
	for {
		room := width - utf8.RuneCountInString(prefix)
		if room < 10 {
			room = 10
		}
		if utf8.RuneCountInString(text) <= room {
			w.WriteString(prefix + text + "\n")
			return
		}
		cut := byteAt(text, room)
		if sp := strings.LastIndexByte(text[:cut+1], ' '); sp > 0 {
			cut = sp
		}
		w.WriteString(prefix + strings.TrimRight(text[:cut], " ") + "\n")
		text = strings.TrimLeft(text[cut:], " ")
		prefix = rest
		if text == "" {
			return
		}
	}
}

// byteAt is the byte offset of the n-th rune of s (len(s) if it has fewer).
func byteAt(s string, n int) int {
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
}

// cutLines cuts every line of text wider than width, ending it with "…".
func cutLines(text string, width int) (string, bool) {
	lines := strings.SplitAfter(text, "\n")
	cut := false
	for i, l := range lines {
		body := strings.TrimSuffix(l, "\n")
		if utf8.RuneCountInString(body) > width {
			lines[i] = strings.TrimRight(body[:byteAt(body, width-1)], " ") + "…" + l[len(body):]
			cut = true
		}
	}
	return strings.Join(lines, ""), cut
}

// writeColumns writes rows (the first is the header) as a table no wider
// than width: the columns in shrink, in that order, are cut (ending in "…")
// as far as needed, but not below minColumn; lines still too wide are cut.
func writeColumns(w io.Writer, rows [][]string, width int, shrink ...int) error {
	const gap, minColumn = 2, 16
	if len(rows) == 0 {
		return nil
	}
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	total := gap * (len(widths) - 1)
	for _, n := range widths {
		total += n
	}
	for _, i := range shrink {
		if over := total - width; over > 0 && widths[i] > minColumn {
			cut := min(over, widths[i]-minColumn)
			widths[i] -= cut
			total -= cut
		}
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, gap, ' ', 0)
	for _, row := range rows {
		for i, c := range row {
			if n := utf8.RuneCountInString(c); n > widths[i] {
				c = c[:byteAt(c, widths[i]-1)] + "…"
			}
			if i > 0 {
				tw.Write([]byte("\t"))
			}
			tw.Write([]byte(c))
		}
		tw.Write([]byte("\n"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	text, _ := cutLines(b.String(), width)
	if text != b.String() || slices.ContainsFunc(rows, func(row []string) bool {
		for i, c := range row {
			if utf8.RuneCountInString(c) > widths[i] {
				return true
			}
		}
		return false
	}) {
		var note bytes.Buffer
		writeWrapped(&note, cutNote(width), "", "", width)
		text += note.String()
	}
	_, err := io.WriteString(w, text)
	return err
}
