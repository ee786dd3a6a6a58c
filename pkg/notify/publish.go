package notify

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/grantwatch/grantwatch/pkg/changes"
)

// Publisher is the part of *sns.Client that sends alerts.
type Publisher interface {
	Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

var _ Publisher = (*sns.Client)(nil)

// Notifier publishes alerts to one topic.
type Notifier struct {
	api         Publisher
	topic       string
	reminder    time.Duration
	callTimeout time.Duration
	chat        bool
}

// DefaultCallTimeout bounds one Publish, the SDK's retries included: an
// endpoint that accepts connections and never answers must not take the time
// the run needs to store its results.
const DefaultCallTimeout = 10 * time.Second

// Option changes a Notifier.
type Option func(*Notifier)

// WithCallTimeout bounds each Publish call.
func WithCallTimeout(d time.Duration) Option { return func(n *Notifier) { n.callTimeout = d } }

// WithChat publishes every message with AWS Chatbot's custom notification
// for HTTPS subscribers besides the text for the others (see chat.go).
func WithChat() Option { return func(n *Notifier) { n.chat = true } }

// maxBytes is the text's share of a message: all of it, or with chat, what
// is left when the text appears three times (default, email, sqs) plus the
// notification. It is where a digest starts; size says whether it fits.
func (n *Notifier) maxBytes() int {
	if n.chat {
		return (MaxBytes - 3*chatDescriptionMax) / 3
	}
	return MaxBytes
}

// size is how many bytes of SNS's limit m takes as published: with chat,
// the MessageStructure "json" Message, whose values are the text three
// times and the notification, each JSON-escaped (a quote, a line break or
// a < in a cause takes two to six bytes there), plus the attributes. SNS
// bounds the whole Message, the protocols together (Publish API reference,
// "JSON-specific constraints"; ledger: SNS-message-256kb).
func (n *Notifier) size(m Message) int {
	if !n.chat {
		return m.size()
	}
	body, err := perProtocol(m)
	if err != nil {
		return math.MaxInt
	}
	plain := m
	plain.Body = body
	return plain.size()
}

// digest is the run's digest, listing as many accounts as fit once the
// message is published.
func (n *Notifier) digest(runID string, t changes.Tally, rem *Remediation) Message {
	limit := n.maxBytes()
	for {
		m := Digest(runID, t, rem, limit)
		size := n.size(m)
		if size <= MaxBytes || limit <= 4096 {
			return m
		}
		// Shrink the text by the share it is over, and a little more.
		limit = limit*MaxBytes/size - 1024
	}
}

// New returns a Notifier for topicARN.
func New(api Publisher, topicARN string, reminder time.Duration, opts ...Option) *Notifier {
	n := &Notifier{api: api, topic: topicARN, reminder: reminder, callTimeout: DefaultCallTimeout}
	for _, o := range opts {
		o(n)
	}
	return n
}

// Outcome is what Send achieved.
type Outcome struct {
	// Delivered lists the accounts whose every message was published.
	Delivered map[string]bool
	Published int
	// Unpublished counts the alerts of accounts not delivered; they are sent
	// again by the next run.
	Unpublished int
	// Err sums up the failures (the first few, and how many more), so that
	// an outage over thousands of accounts stays a short text.
	Err error
}

// maxErrors is how many failures Outcome.Err spells out.
const maxErrors = 3

// Send publishes one message (or its parts) per account with alerts, then
// the digest. A failed account does not stop the others; once ctx has ended,
// the accounts left are counted as unpublished without calling SNS.
func (n *Notifier) Send(ctx context.Context, runID string, alerts []changes.Alert) Outcome {
	return n.SendRun(ctx, runID, alerts, nil)
}

// SendRun is Send with the run's remediation line in the digest: the
// digest goes out when there are alerts, or when the remediation step
// acted (rem.Acted) although nothing else changed.
func (n *Notifier) SendRun(ctx context.Context, runID string, alerts []changes.Alert, rem *Remediation) Outcome {
	out := n.SendAccounts(ctx, runID, alerts)
	if len(alerts) == 0 && !rem.Acted() {
		return out
	}
	if err := n.SendDigest(ctx, runID, changes.TallyOf(alerts), rem); err != nil {
		out.Err = errors.Join(out.Err, err)
	} else {
		out.Published++
	}
	return out
}

// SendAccounts publishes one message (or its parts) per account with
// alerts, and no digest: a part of a run (a batch of a sharded run) alerts
// for its own accounts; the run sends one digest at its end.
func (n *Notifier) SendAccounts(ctx context.Context, runID string, alerts []changes.Alert) Outcome {
	out := Outcome{Delivered: map[string]bool{}}
	byAccount := map[string][]changes.Alert{}
	for _, a := range alerts {
		byAccount[a.Result.Account] = append(byAccount[a.Result.Account], a)
	}
	var errs errorList
	for _, account := range slices.Sorted(maps.Keys(byAccount)) {
		err := ctx.Err()
		if err == nil {
			var msgs []Message
			msgs, err = accountMessages(runID, account, byAccount[account], n.reminder, n.size, MaxBytes)
			for _, m := range msgs {
				if err = n.publish(ctx, m); err != nil {
					break
				}
				out.Published++
			}
		}
		if err != nil {
			errs.add(fmt.Errorf("alert account %s: %w", account, err))
			out.Unpublished += len(byAccount[account])
			continue
		}
		out.Delivered[account] = true
	}
	out.Err = errs.err()
	return out
}

// SendDigest publishes the run's digest of the alerts t counts, with the
// run's remediation line (rem may be nil); nothing when there are no
// alerts and the remediation step did not act.
func (n *Notifier) SendDigest(ctx context.Context, runID string, t changes.Tally, rem *Remediation) error {
	if t.Empty() && !rem.Acted() {
		return nil
	}
	if err := n.publish(ctx, n.digest(runID, t, rem)); err != nil {
		return fmt.Errorf("publish digest: %w", err)
	}
	return nil
}

// SendRunFailure publishes RunFailureMessage: a run failed as a whole.
func (n *Notifier) SendRunFailure(ctx context.Context, runID, reason string) error {
	return n.publish(ctx, RunFailureMessage(runID, reason))
}

// Publish sends one message built elsewhere (grantwatch fix's per-account
// remediation messages) the way alerts go out: each call bounded by the
// call timeout and, with chat, formatted for chat subscribers.
func (n *Notifier) Publish(ctx context.Context, m Message) error { return n.publish(ctx, m) }

func (n *Notifier) publish(ctx context.Context, m Message) error {
	ctx, cancel := context.WithTimeout(ctx, n.callTimeout)
	defer cancel()
	in := &sns.PublishInput{
		TopicArn: aws.String(n.topic), Subject: aws.String(m.Subject), Message: aws.String(m.Body), MessageAttributes: m.Attributes,
	}
	if n.chat {
		body, err := perProtocol(m)
		if err != nil {
			return fmt.Errorf("chat message: %w", err)
		}
		in.Message, in.MessageStructure = aws.String(body), aws.String("json")
	}
	_, err := n.api.Publish(ctx, in)
	if err != nil {
		return fmt.Errorf("publish to %s: %w", n.topic, err)
	}
	return nil
}

// errorList keeps the first few errors and counts the rest.
type errorList struct {
	first []error
	more  int
}

func (l *errorList) add(err error) {
	if len(l.first) < maxErrors {
		l.first = append(l.first, err)
		return
	}
	l.more++
}

func (l *errorList) err() error {
	if l.more > 0 {
		return errors.Join(append(l.first, fmt.Errorf("and %d more failures", l.more))...)
	}
	return errors.Join(l.first...)
}
