package notify

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/grantwatch/grantwatch/pkg/changes"
	"github.com/grantwatch/grantwatch/pkg/devtools/localenv"
	"github.com/grantwatch/grantwatch/pkg/devtools/testenv"
)

// With chat, each message carries the text for email and SQS and AWS
// Chatbot's custom notification for HTTPS subscribers.
func TestChatMessages(t *testing.T) {
	fake := &fakeSNS{}
	in := alerts("111111111111", 3, changes.New)
	out := New(fake, "arn:aws:sns:us-east-1:123456789012:t", 7*24*time.Hour, WithChat()).Send(context.Background(), "run-1", in)
	if out.Err != nil || len(fake.sent) != 2 {
		t.Fatalf("sent %d, %v; want the account's message and the digest", len(fake.sent), out.Err)
	}
	for _, m := range fake.sent {
		if aws.ToString(m.MessageStructure) != "json" {
			t.Fatalf("MessageStructure: got %q; want json", aws.ToString(m.MessageStructure))
		}
		var per map[string]string
		if err := json.Unmarshal([]byte(aws.ToString(m.Message)), &per); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(per["default"], "grantwatch ") || per["email"] != per["default"] || per["sqs"] != per["default"] {
			t.Errorf("text for email and SQS: got %.80q", per["default"])
		}
		var chat chatNotification
		if err := json.Unmarshal([]byte(per["https"]), &chat); err != nil {
			t.Fatalf("https: %v", err)
		}
		if chat.Version != "1.0" || chat.Source != "custom" || chat.Content.Description == "" || chat.Content.Title == "" || chat.Metadata.ThreadID == "" {
			t.Errorf("custom notification lacks a required or expected field: %+v", chat)
		}
		if len(chat.Content.Description) > chatDescriptionMax || strings.Contains(chat.Content.Description, "structured data") {
			t.Errorf("description: %d bytes, or with the JSON part", len(chat.Content.Description))
		}
	}
	var first chatNotification
	var per map[string]string
	_ = json.Unmarshal([]byte(aws.ToString(fake.sent[0].Message)), &per)
	_ = json.Unmarshal([]byte(per["https"]), &first)
	if !strings.HasPrefix(first.Content.Title, ":rotating_light: [grantwatch] account 111111111111") || len(first.Content.NextSteps) != 1 ||
		first.Metadata.AdditionalContext["severity"] != "critical" {
		t.Errorf("account notification: %+v", first)
	}

	plain := &fakeSNS{}
	New(plain, "arn:aws:sns:us-east-1:123456789012:t", 7*24*time.Hour).Send(context.Background(), "run-1", in)
	if plain.sent[0].MessageStructure != nil {
		t.Error("without chat, the message is structured")
	}
}

// goaws (a real SNS stand-in) takes the structured message and hands its SQS
// subscriber the text.
func TestChatMessagesThroughSNS(t *testing.T) {
	server := testenv.SNS(t, localenv.Topic{Name: "chat", Subscriptions: []localenv.Subscription{{Queue: "inbox"}}})
	client := sns.NewFromConfig(testenv.AWSConfig(t, server.Endpoint))
	out := New(client, server.TopicARN("chat"), 7*24*time.Hour, WithChat()).Send(context.Background(), "run-1", alerts("111111111111", 2, changes.New))
	if out.Err != nil {
		t.Fatal(out.Err)
	}
	got, err := server.Receive(context.Background(), "inbox")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !strings.HasPrefix(got[0].Message, "grantwatch found changes") {
		t.Errorf("SQS subscriber: got %d messages, the first %.80q; want the text", len(got), first(got))
	}
}

func first(ns []localenv.Notification) string {
	if len(ns) == 0 {
		return ""
	}
	return ns[0].Message
}
