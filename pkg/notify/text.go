package notify

import (
	"strings"
	"unicode"

	"github.com/grantwatch/grantwatch/pkg/changes"
	"github.com/grantwatch/grantwatch/pkg/result"
)

// MaxCauseBytes is how much of a cause (and of a remediation) a message
// carries, in its text and in its structured data; history keeps the whole
// text. A cause quotes AWS's answer, which may be of any length: a 100 KB
// error message must not make an alert too big to publish (SNS takes
// 262,144 bytes; ledger: SNS-message-256kb).
const MaxCauseBytes = 1000

// oneLine makes text from outside grantwatch (AWS's error messages, most of
// all) safe to place inside a line of a message: line breaks and other
// control characters become spaces, runs of spaces one, and it is cut to
// max bytes. The message's own structure is line-based (a line that starts
// "What to do: ", the "--- structured data" separator), so a text that
// cannot break the line cannot forge it.
func oneLine(s string, max int) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == '\u2028' || r == '\u2029' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
		if b.Len() > max+4 {
			break // enough to cut; the rest is never read
		}
	}
	return result.Clip(b.String(), max)
}

// forMessage is the copy of alerts a message renders: every text that can
// come from outside on one line and cut to MaxCauseBytes. The alerts
// themselves (and history) keep the whole texts.
func forMessage(alerts []changes.Alert) []changes.Alert {
	out := make([]changes.Alert, len(alerts))
	for i, a := range alerts {
		r := a.Result
		r.Cause = oneLine(r.Cause, MaxCauseBytes)
		r.Remediation = oneLine(r.Remediation, MaxCauseBytes)
		r.Model = oneLine(r.Model, 2048)
		r.Principal = oneLine(r.Principal, 2048)
		r.Region = oneLine(r.Region, 64)
		a.Result = r
		out[i] = a
	}
	return out
}

// chatEscape escapes the characters Slack's markup gives a meaning (&, <, >:
// links, mentions such as <!channel>), in a chat notification's text.
var chatEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
