package notify

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/grantwatch/grantwatch/pkg/result"
)

// Chat-ready messages. AWS Chatbot (now Amazon Q Developer in chat
// applications) renders an SNS message that is its custom notification
// JSON ({"version": "1.0", "source": "custom", "content": {"description":
// ...}}; version, source and content.description required; the admin
// guide's "Custom notifications" page, as we know it: that page is not
// among the sources stored here). Chatbot subscribes to a topic over HTTPS,
// so with chat on each message is published with MessageStructure "json":
// email and SQS subscribers (and "default") get today's text, HTTPS
// subscribers the custom notification. Each subscription gets its own kind
// of message; its filter policy still chooses which ones.

// chatDescriptionMax keeps a notification's description inside what chat
// clients show in one message (Slack: 4,000 characters of a section).
const chatDescriptionMax = 3500

// ledger: SNS-chat-notification
type chatNotification struct {
	Version  string       `json:"version"`
	Source   string       `json:"source"`
	ID       string       `json:"id,omitempty"`
	Content  chatContent  `json:"content"`
	Metadata chatMetadata `json:"metadata"`
}

type chatContent struct {
	TextType    string   `json:"textType"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	NextSteps   []string `json:"nextSteps,omitempty"`
	Keywords    []string `json:"keywords,omitempty"`
}

type chatMetadata struct {
	ThreadID          string            `json:"threadId"`
	Summary           string            `json:"summary"`
	EventType         string            `json:"eventType"`
	AdditionalContext map[string]string `json:"additionalContext"`
}

// chatMessage is m as a custom notification: the subject as title, the
// first lines of the text as description, the distinct remediations as next
// steps, one thread per account.
func chatMessage(m Message) ([]byte, error) {
	icon := map[result.Severity]string{result.Critical: ":rotating_light: ", result.Warning: ":warning: "}[m.Severity]
	var desc strings.Builder
	var steps []string
	for _, line := range strings.Split(m.Body, "\n") {
		if strings.HasPrefix(line, "--- structured data") {
			break
		}
		text, isStep := strings.CutPrefix(strings.TrimSpace(line), "What to do: ")
		if isStep {
			if text = chatEscape.Replace(result.Clip(text, 300)); len(steps) < 5 && !slices.Contains(steps, text) {
				steps = append(steps, text)
			}
			continue
		}
		if line = chatEscape.Replace(line); desc.Len()+len(line) < chatDescriptionMax {
			desc.WriteString(line + "\n")
		}
	}
	kinds := make([]string, len(m.Kinds))
	for i, k := range m.Kinds {
		kinds[i] = string(k)
	}
	n := chatNotification{
		Version: "1.0", Source: "custom",
		Content: chatContent{
			TextType: "client-markdown", Title: icon + m.Subject, Description: strings.TrimSpace(desc.String()),
			NextSteps: steps, Keywords: append(kinds, string(m.Severity)),
		},
		Metadata: chatMetadata{
			ThreadID: "grantwatch-" + m.Account, Summary: m.Subject, EventType: "grantwatch",
			AdditionalContext: map[string]string{"account_id": m.Account, "severity": string(m.Severity), "part": fmt.Sprintf("%d/%d", m.Part, m.Of)},
		},
	}
	return json.Marshal(n)
}

// perProtocol is the Message of a MessageStructure "json" publish: the text
// for every protocol but HTTPS, which gets the chat notification.
// ledger: SNS-message-structure
func perProtocol(m Message) (string, error) {
	chat, err := chatMessage(m)
	if err != nil {
		return "", err
	}
	out, err := json.Marshal(map[string]string{"default": m.Body, "email": m.Body, "sqs": m.Body, "https": string(chat)})
	return string(out), err
}
