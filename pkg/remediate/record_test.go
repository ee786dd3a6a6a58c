package remediate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/grantwatch/grantwatch/pkg/notify"
	"github.com/grantwatch/grantwatch/pkg/result"
)

var applied = []Action{
	{Account: "111111111111", Region: "us-east-1", Model: cohere, Action: CreateAgreement, Outcome: Done, Reason: "agreement requested", Offer: "offer-1"},
	{Account: "111111111111", Region: "us-west-2", Model: cohere, Action: CreateAgreement, Outcome: Skipped, Reason: "remediation.agreements.regions does not list us-west-2"},
	{Account: "222222222222", Region: "us-east-1", Model: cohere, Action: CreateAgreement, Outcome: Failed, Reason: "AccessDeniedException: denied", Offer: "offer-1"},
	{Account: "999999999999", Region: "us-east-1", Action: PutUseCaseForm, Outcome: Done, Reason: "form submitted"},
}

func TestRecordsKeepWhatWasCarriedOut(t *testing.T) {
	at := time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)
	recs := Records("run-1", "arn:aws:sts::999999999999:assumed-role/GrantwatchAuditor/me", at, applied)
	var got []string
	for _, r := range recs {
		got = append(got, r.Account+" "+r.Action+" "+r.Outcome+" "+string(r.Fixes))
		if r.RunID != "run-1" || !r.At.Equal(at) || !strings.Contains(r.By, "GrantwatchAuditor") {
			t.Errorf("record %+v: want run-1, %s and the caller", r, at)
		}
	}
	want := []string{
		"111111111111 CreateFoundationModelAgreement done " + string(result.AgreementMissing),
		"222222222222 CreateFoundationModelAgreement failed " + string(result.AgreementMissing),
		"999999999999 PutUseCaseForModelAccess done ",
	}
	if !slices.Equal(got, want) {
		t.Errorf("records:\ngot  %q\nwant %q (skipped actions are not recorded)", got, want)
	}
}

func TestMessagesOnePerAccount(t *testing.T) {
	msgs := Messages("run-1", "arn:aws:sts::999999999999:assumed-role/GrantwatchAuditor/me", applied)
	tests := []struct {
		account, subject, severity string
		body                       []string
	}{
		{"111111111111", "[grantwatch] account 111111111111: remediation, 1 done, 0 failed", "info", []string{"CreateFoundationModelAgreement " + cohere + " in us-east-1: done", "DeleteFoundationModelAgreement"}},
		{"222222222222", "[grantwatch] account 222222222222: remediation, 0 done, 1 failed", "warning", []string{"failed. AccessDeniedException: denied"}},
		{"999999999999", "[grantwatch] account 999999999999: remediation, 1 done, 0 failed", "info", []string{"PutUseCaseForModelAccess in us-east-1: done"}},
	}
	if len(msgs) != len(tests) {
		t.Fatalf("messages: got %d; want %d", len(msgs), len(tests))
	}
	for i, tt := range tests {
		m := msgs[i]
		if m.Account != tt.account || m.Subject != tt.subject {
			t.Errorf("message %d: got %s %q; want %s %q", i, m.Account, m.Subject, tt.account, tt.subject)
		}
		if got := aws.ToString(m.Attributes["severity"].StringValue); got != tt.severity {
			t.Errorf("%s severity: got %s; want %s", tt.account, got, tt.severity)
		}
		if got := aws.ToString(m.Attributes["event_type"].StringValue); got != `["REMEDIATION"]` {
			t.Errorf("%s event_type: got %s; want [\"REMEDIATION\"]", tt.account, got)
		}
		for _, w := range tt.body {
			if !strings.Contains(m.Body, w) {
				t.Errorf("%s body lacks %q:\n%s", tt.account, w, m.Body)
			}
		}
		if strings.Contains(m.Body, "us-west-2") {
			t.Errorf("%s body names a skipped action:\n%s", tt.account, m.Body)
		}
	}
}

// publishFake fails the accounts in fail and counts the calls in flight.
type publishFake struct {
	fail              map[string]bool
	mu                sync.Mutex
	inFlight, maxSeen int
	sent              []string
	structures        []string
}

func (p *publishFake) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	account := aws.ToString(in.MessageAttributes["account_id"].StringValue)
	p.mu.Lock()
	p.inFlight++
	p.maxSeen = max(p.maxSeen, p.inFlight)
	p.mu.Unlock()
	time.Sleep(5 * time.Millisecond)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inFlight--
	if p.fail[account] {
		return nil, errors.New("simulated: throttled")
	}
	p.sent = append(p.sent, account)
	if aws.ToString(in.MessageStructure) == "json" && strings.Contains(aws.ToString(in.Message), `"https"`) {
		p.structures = append(p.structures, "chat")
	}
	return &sns.PublishOutput{}, nil
}

// One message per account, a few at once, through the notifier's path (chat
// subscribers get the formatted message): a failed account does not stop
// the others, and the first failure (in account order) is reported.
func TestPublishOneMessagePerAccount(t *testing.T) {
	var actions []Action
	for i := range 40 {
		actions = append(actions, Action{Account: fmt.Sprintf("%012d", i), Region: "us-east-1", Model: cohere, Action: CreateAgreement, Outcome: Done})
	}
	fake := &publishFake{fail: map[string]bool{"000000000007": true, "000000000031": true}}
	notifier := notify.New(fake, "arn:aws:sns:us-east-1:999999999999:t", 0, notify.WithChat())
	sent, err := Publish(context.Background(), notifier, Messages("run-1", "me", actions))
	if sent != 38 || len(fake.sent) != 38 {
		t.Errorf("got %d sent (%d received); want 38", sent, len(fake.sent))
	}
	if err == nil || !strings.Contains(err.Error(), "000000000007") {
		t.Errorf("got error %v; want the first failure, account 000000000007's", err)
	}
	if len(fake.structures) != 38 {
		t.Errorf("got %d messages with the chat notification (MessageStructure json, https); want all 38", len(fake.structures))
	}
	if fake.maxSeen > publishConcurrency || fake.maxSeen < 2 {
		t.Errorf("got at most %d messages in flight; want 2 to %d", fake.maxSeen, publishConcurrency)
	}
}
