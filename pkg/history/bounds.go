package history

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/grantwatch/grantwatch/pkg/result"
)

// An item is at most 400 KB, names and values together, and a write of a
// bigger one is refused with a ValidationException (ledger: DDB-item-size-400kb).
// Every text and list a run record or a batch item stores is bounded by
// count and bytes, the rest counted, so that the sum stays far below:
//
//	errors     at most 500 lines, 64 KB
//	warnings   at most 500 lines, 64 KB
//	unreached  at most 10,000 account ids, 160 KB
//	each line  at most 1,000 bytes (maxText), like the error and config error
//
// about 290 KB of lists at worst, plus the item's few fixed attributes. A
// batch item holds more (its accounts with their OU paths, its tally, the
// missing agreements for Finish): fitRemediable bounds it as a whole
// (maxBatchItem).
// The bytes are counted as stored: the summary is stored as JSON, where Go
// writes each of < > & and a control character as 6 bytes (an HTML error
// page in every line would otherwise grow a list up to six times over).
const (
	maxListLines     = 500
	maxListBytes     = 64 << 10
	maxUnreached     = 10000
	maxUnreachedSize = 160 << 10
)

// moreMarker starts the line that counts what a bounded list left out: "...
// and 2,480 more". A list bounded twice (a batch's, then the run's) adds up
// the counts of the markers it finds.
const moreMarker = "... and "

// boundSummary returns s with its lists and texts bounded for storing.
func boundSummary(s *result.Summary) *result.Summary {
	if s == nil {
		return nil
	}
	b := *s
	b.Errors = boundList(s.Errors, maxListLines, maxListBytes, maxText)
	b.Warnings = boundList(s.Warnings, maxListLines, maxListBytes, maxText)
	b.Unreached = boundList(s.Unreached, maxUnreached, maxUnreachedSize, maxText)
	b.ConfigError = capText(s.ConfigError)
	return &b
}

// boundList keeps the first lines of l, each clipped to maxLine bytes, up
// to maxLines lines and maxBytes bytes, and ends with a line that counts
// the rest (the counts of earlier such lines included). A list within the
// bounds is returned as it is.
func boundList(l []string, maxLines, maxBytes, maxLine int) []string {
	size, fits := 0, true
	for _, line := range l {
		size += storedLen(line)
		if len(line) > maxLine || strings.HasPrefix(line, moreMarker) {
			fits = false
		}
	}
	if fits && len(l) <= maxLines && size <= maxBytes {
		return l
	}
	var kept []string
	left, size, full := 0, 0, false
	for _, line := range l {
		if n, ok := moreCount(line); ok {
			left += n
			continue
		}
		line = result.Clip(line, maxLine)
		// Once one line is left out, so are those after it (the order
		// stays); a line and some bytes are kept back for the count.
		n := storedLen(line)
		if full = full || len(kept) >= maxLines-1 || size+n > maxBytes-64; full {
			left++
			continue
		}
		kept = append(kept, line)
		size += n
	}
	if left > 0 {
		kept = append(kept, moreMarker+thousands(left)+" more")
	}
	return kept
}

// storedLen is how many bytes line takes in a stored JSON list: its
// quotes, its escapes (Go's encoding/json escapes < > & too) and a comma.
func storedLen(line string) int {
	b, err := json.Marshal(line)
	if err != nil { // a string always marshals; count the worst case
		return 6*len(line) + 3
	}
	return len(b) + 1
}

// moreCount reads a line that boundList wrote to count what it left out.
func moreCount(line string) (int, bool) {
	rest, ok := strings.CutPrefix(line, moreMarker)
	if !ok {
		return 0, false
	}
	num, ok := strings.CutSuffix(rest, " more")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(strings.ReplaceAll(num, ",", ""))
	return n, err == nil && n >= 0
}

// thousands writes n with a comma between thousands: 2,480.
func thousands(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
