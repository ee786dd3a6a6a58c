package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/grantwatch/grantwatch/pkg/changes"
	"github.com/grantwatch/grantwatch/pkg/result"
)

// alerts makes n alerts of one kind, with the severity pkg/changes gives
// that kind for a critical status.
func alerts(account string, n int, kind changes.Kind) []changes.Alert {
	sev := map[changes.Kind]result.Severity{changes.New: result.Critical, changes.Regressed: result.Critical,
		changes.Reminder: result.Warning, changes.AuditFailed: result.Warning, changes.Resolved: result.Info}[kind]
	var out []changes.Alert
	for i := range n {
		out = append(out, changes.Alert{Kind: kind, Severity: sev, Result: result.Result{
			Account: account, Region: fmt.Sprintf("region-%d", i%20), Model: fmt.Sprintf("vendor.model-%05d", i),
			Status: result.AgreementMissing, Cause: "GetFoundationModelAvailability: agreementAvailability.status=NOT_AVAILABLE",
			Remediation: strings.Repeat("Invoke the model once with Marketplace permissions. ", 4),
		}})
	}
	return out
}

func TestAccountMessagesSplitUnderTheLimit(t *testing.T) {
	tests := []struct {
		name     string
		n        int
		maxBytes int
	}{
		{name: "small account, one message", n: 3, maxBytes: MaxBytes},
		{name: "very many changes are split", n: 3000, maxBytes: MaxBytes},
		{name: "tight limit", n: 40, maxBytes: 8 * 1024},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, err := AccountMessages("run-1", "111111111111", alerts("111111111111", tt.n, changes.New), 7*24*time.Hour, tt.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			// Halving never makes more than twice the parts the size needs.
			whole := accountMessage("run-1", "111111111111", alerts("111111111111", tt.n, changes.New), 7*24*time.Hour, 1, 1).size()
			need := (whole + tt.maxBytes - 1) / tt.maxBytes
			if len(msgs) < need || len(msgs) > 2*need {
				t.Errorf("parts: got %d for %d bytes; want between %d and %d", len(msgs), whole, need, 2*need)
			}
			total := 0
			for i, m := range msgs {
				if m.size() > tt.maxBytes {
					t.Errorf("part %d: %d bytes; want at most %d", i+1, m.size(), tt.maxBytes)
				}
				if len(m.Subject) >= 100 {
					t.Errorf("part %d subject has %d characters: %q", i+1, len(m.Subject), m.Subject)
				}
				_, data, ok := strings.Cut(m.Body, "--- structured data (JSON) ---\n")
				var parsed struct {
					Part, Of int
					Alerts   []changes.Alert
				}
				if !ok || json.Unmarshal([]byte(data), &parsed) != nil {
					t.Fatalf("part %d: no JSON after the marker", i+1)
				}
				if parsed.Part != i+1 || parsed.Of != len(msgs) {
					t.Errorf("part %d: JSON says part %d of %d", i+1, parsed.Part, parsed.Of)
				}
				total += len(parsed.Alerts)
			}
			if total != tt.n {
				t.Errorf("alerts across parts: got %d; want %d", total, tt.n)
			}
		})
	}
}

func TestAccountMessageGroupsAndAttributes(t *testing.T) {
	in := append(alerts("222222222222", 2, changes.Resolved), alerts("222222222222", 3, changes.New)...)
	in = append(in, changes.Alert{Kind: changes.AuditFailed, Severity: result.Warning, Result: result.Result{Account: "222222222222", Region: "eu-central-1", Model: "m",
		Status: result.AuditError, Cause: "list-models: AccessDeniedException", Remediation: "Exempt the audit role."}})
	msgs, err := AccountMessages("run-1", "222222222222", in, 7*24*time.Hour, MaxBytes)
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]
	if want := "[grantwatch] account 222222222222: 3 new, 1 audit errors, 2 resolved"; m.Subject != want {
		t.Errorf("subject: got %q; want %q", m.Subject, want)
	}
	// NEW comes first, and the three NEW checks share one cause and remedy.
	if i, j := strings.Index(m.Body, "NEW:"), strings.Index(m.Body, "RESOLVED:"); i < 0 || j < i {
		t.Errorf("body: want NEW before RESOLVED:\n%s", m.Body)
	}
	if !strings.Contains(m.Body, "AGREEMENT_MISSING: vendor.model-00000 in region-0; vendor.model-00001 in region-1; vendor.model-00002 in region-2\n") {
		t.Errorf("body: want the three NEW checks in one group:\n%s", m.Body)
	}
	if !strings.Contains(m.Body, "could not check 1 model; this says nothing about the models themselves") {
		t.Errorf("body: the audit error must not read as a model problem:\n%s", m.Body)
	}
	got := map[string]string{}
	for k, v := range m.Attributes {
		got[k] = aws.ToString(v.StringValue)
	}
	if got["severity"] != "critical" || got["event_type"] != `["NEW","AUDIT_ERROR","RESOLVED"]` || got["account_id"] != "222222222222" {
		t.Errorf("attributes: got %v", got)
	}
}

type fakeSNS struct {
	failFor string
	sent    []sns.PublishInput
}

func (f *fakeSNS) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	if f.failFor != "" && strings.Contains(aws.ToString(in.Subject), f.failFor) {
		return nil, errors.New("simulated outage")
	}
	f.sent = append(f.sent, *in)
	return &sns.PublishOutput{}, nil
}

func TestSendIsolatesFailedAccounts(t *testing.T) {
	fake := &fakeSNS{failFor: "222222222222"}
	in := append(alerts("111111111111", 2, changes.New), alerts("222222222222", 1, changes.New)...)
	out := New(fake, "arn:aws:sns:us-east-1:123456789012:t", 7*24*time.Hour).Send(context.Background(), "run-1", in)
	if !out.Delivered["111111111111"] || out.Delivered["222222222222"] {
		t.Errorf("delivered: got %v; want only 111111111111", out.Delivered)
	}
	if out.Published != 2 || out.Err == nil || !strings.Contains(out.Err.Error(), "alert account 222222222222") {
		t.Errorf("got published=%d err=%v; want 2 (account + digest) and an error naming 222222222222", out.Published, out.Err)
	}
	if got := aws.ToString(fake.sent[1].Subject); got != "[grantwatch] run run-1: 3 changes in 2 accounts" {
		t.Errorf("digest subject: got %q", got)
	}
}

func TestDigestStaysUnderTheLimit(t *testing.T) {
	var all []changes.Alert
	for i := range 20000 {
		id := fmt.Sprintf("%012d", i)
		all = append(all, alerts(id, 1, changes.Reminder)...)
	}
	m := Digest("run-1", changes.TallyOf(all), nil, MaxBytes)
	if m.size() > MaxBytes || !strings.Contains(m.Body, "more accounts") {
		t.Errorf("digest of 20,000 accounts: %d bytes (limit %d), truncated=%v", m.size(), MaxBytes, strings.Contains(m.Body, "more accounts"))
	}
	if m.Severity != "warning" {
		t.Errorf("severity: got %s; want warning", m.Severity)
	}
}

// An SNS outage over a large organization is a short error text and a count,
// so that the run record that stores it stays far under DynamoDB's item limit.
func TestSendOutageIsBoundedAndCounted(t *testing.T) {
	fake := &fakeSNS{failFor: "account"} // every account's message and the digest ("accounts")
	var in []changes.Alert
	for i := range 1500 {
		in = append(in, alerts(fmt.Sprintf("%012d", 100000000000+i), 2, changes.New)...)
	}
	out := New(fake, "arn:aws:sns:us-east-1:123456789012:t", 7*24*time.Hour).Send(context.Background(), "run-1", in)
	if out.Unpublished != 3000 || len(out.Delivered) != 0 {
		t.Errorf("got unpublished=%d delivered=%d; want 3000 and 0", out.Unpublished, len(out.Delivered))
	}
	if msg := out.Err.Error(); len(msg) > 2000 || !strings.Contains(msg, "and 1497 more failures") || !strings.Contains(msg, "publish digest") {
		t.Errorf("error text: got %d bytes ending %q; want under 2000 bytes counting the rest and naming the digest", len(msg), msg[max(0, len(msg)-60):])
	}
}

// A hanging endpoint costs one call timeout per call, and once the caller's
// context has ended no further call is made.
func TestSendStopsWhenTheContextEnds(t *testing.T) {
	hang := &hangingSNS{}
	in := append(alerts("111111111111", 1, changes.New), alerts("222222222222", 1, changes.New)...)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	out := New(hang, "arn:aws:sns:us-east-1:123456789012:t", time.Hour, WithCallTimeout(100*time.Millisecond)).Send(ctx, "run-1", in)
	if out.Unpublished != 2 || out.Published != 0 {
		t.Errorf("got unpublished=%d published=%d; want 2 and 0", out.Unpublished, out.Published)
	}
	// 111's call times out after 100 ms and 222's is cut by the caller's end
	// at 150 ms; the digest may still be tried and fails at once.
	if got := hang.calls.Load(); got < 2 || got > 3 {
		t.Errorf("Publish calls: got %d; want 2 or 3", got)
	}
}

type hangingSNS struct{ calls atomic.Int64 }

func (h *hangingSNS) Publish(ctx context.Context, _ *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	h.calls.Add(1)
	<-ctx.Done()
	return nil, ctx.Err()
}

// A principal's finding is grouped under its account with the model, and
// names the role.
func TestAccountMessageNamesThePrincipal(t *testing.T) {
	in := []changes.Alert{{Kind: changes.New, Severity: result.Critical, Result: result.Result{
		Account: "111111111111", Region: "eu-central-1", Model: "eu.anthropic.claude-sonnet-4-5-20250929-v1:0", Principal: "ChatApp",
		Status: result.SCPDenied, Cause: "bedrock:InvokeModel on arn:aws:bedrock:eu-north-1::foundation-model/... (aws:RequestedRegion=eu-north-1, a destination region of eu.anthropic...)",
		Remediation: "add eu-north-1 to the SCP",
	}}}
	msgs, err := AccountMessages("run-1", "111111111111", in, 7*24*time.Hour, MaxBytes)
	if err != nil {
		t.Fatal(err)
	}
	if want := "SCP_DENIED: eu.anthropic.claude-sonnet-4-5-20250929-v1:0 in eu-central-1 for ChatApp\n"; !strings.Contains(msgs[0].Body, want) {
		t.Errorf("body lacks %q:\n%s", want, msgs[0].Body)
	}
	if !strings.Contains(msgs[0].Body, `"principal": "ChatApp"`) {
		t.Errorf("structured data lacks the principal:\n%s", msgs[0].Body)
	}
}

// Alerts on account checks and on principal results are counted apart, in
// an account's message as in the digest.
func TestMessagesCountChecksAndPrincipalsApart(t *testing.T) {
	in := alerts("111111111111", 3, changes.New)
	in[1].Result.Principal, in[2].Result.Principal = "ChatApp", "BatchJobs"
	in[1].Result.Status, in[2].Result.Status = result.IAMDenied, result.IAMDenied
	in = append(in, alerts("222222222222", 1, changes.Reminder)...)
	in[3].Result.Principal = "ChatApp"

	msgs, err := AccountMessages("run-1", "111111111111", in[:3], 7*24*time.Hour, MaxBytes)
	if err != nil {
		t.Fatal(err)
	}
	if want := "NEW: 1 required model check and 2 principal results became not usable"; !strings.Contains(msgs[0].Body, want) {
		t.Errorf("account message: want %q in\n%s", want, msgs[0].Body)
	}
	msgs, err = AccountMessages("run-1", "222222222222", in[3:], 7*24*time.Hour, MaxBytes)
	if err != nil {
		t.Fatal(err)
	}
	if want := "REMINDER: 1 principal result is still open"; !strings.Contains(msgs[0].Body, want) {
		t.Errorf("account message: want %q in\n%s", want, msgs[0].Body)
	}

	d := Digest("run-1", changes.TallyOf(in), nil, MaxBytes)
	for _, want := range []string{
		"run run-1: 1 changes to checks, 3 to principals, in 2 accounts",
		"account checks: 1 change (1 new)", "principal results: 3 changes (2 new, 1 still open)",
		"111111111111: 1 new; principals: 2 new", "222222222222: principals: 1 still open",
		`"totals":{"NEW":1},"principal_totals":{"NEW":2,"REMINDER":1}`,
	} {
		if !strings.Contains(d.Subject+"\n"+d.Body, want) {
			t.Errorf("digest: want %q in\n%s\n%s", want, d.Subject, d.Body)
		}
	}
}

// A reminder sent because a suppression ended names the suppression and
// does not read as a change or as an ordinary reminder.
func TestSuppressionEndedMessageNamesIt(t *testing.T) {
	ended := &result.Suppressed{Reason: "Jamba is being evaluated", Owner: "ml-platform@example.com", Until: "2026-11-28"}
	in := alerts("111111111111", 1, changes.Reminder)
	in[0].EndedSuppression = ended
	msgs, err := AccountMessages("run-1", "111111111111", in, 7*24*time.Hour, MaxBytes)
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]
	for _, want := range []string{
		"A suppression of grantwatch alerts ended for account 111111111111",
		"SUPPRESSION_ENDED: the suppression of 1 check ended, and it is still not usable",
		`Suppression that ended: "Jamba is being evaluated", owner ml-platform@example.com, until 2026-11-28`,
		`"ended_suppression": {`,
	} {
		if !strings.Contains(m.Body, want) {
			t.Errorf("body: want %q in\n%s", want, m.Body)
		}
	}
	for _, banned := range []string{"found changes", "REMINDER:", "still open\n"} {
		if strings.Contains(m.Body, banned) {
			t.Errorf("body: has %q, which misreads an ended suppression:\n%s", banned, m.Body)
		}
	}
	if m.Subject != "[grantwatch] account 111111111111: 1 no longer suppressed" {
		t.Errorf("subject: got %q; want it to say the check is no longer suppressed", m.Subject)
	}
	if got := aws.ToString(m.Attributes["event_type"].StringValue); got != `["REMINDER"]` {
		t.Errorf("event_type: got %s; want [\"REMINDER\"] (subscription filters know no other kind)", got)
	}
	d := Digest("run-1", changes.TallyOf(in), nil, MaxBytes)
	if !strings.Contains(d.Body, "111111111111: 1 no longer suppressed") || strings.Contains(d.Body, "still open") {
		t.Errorf("digest: want the ended suppression counted as such:\n%s", d.Body)
	}
}
