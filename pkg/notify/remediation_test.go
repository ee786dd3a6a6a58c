package notify

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/grantwatch/grantwatch/pkg/changes"
)

func TestDigestRemediationLine(t *testing.T) {
	tests := []struct {
		name   string
		rem    *Remediation
		want   []string
		banned []string
	}{
		{name: "no remediation section", rem: nil, banned: []string{"Remediation", `"remediation"`}},
		{name: "auto off, work to do",
			rem: &Remediation{Agreements: 3, Forms: 1, Accounts: 2, NotAllowed: 4},
			want: []string{"Remediation: grantwatch fix would create 3 agreements and submit 1 use-case form in 2 accounts (remediation.auto is off; grantwatch fix --config F --apply does it); 4 missing agreements outside what the remediation section allows.",
				`"remediation":{"auto":false,"agreements":3,"use_case_forms":1,"accounts":2,"not_allowed":4}`}},
		{name: "auto off, one that could not be planned",
			rem:  &Remediation{Agreements: 1, Accounts: 1, Failed: 1},
			want: []string{"would create 1 agreement in 1 account", "; 1 failed to plan."}},
		{name: "auto on, done, failed and not attempted",
			rem:  &Remediation{Auto: true, Agreements: 2, Accounts: 1, Failed: 1, NotAttempted: 5},
			want: []string{"Remediation (remediation.auto): grantwatch created 2 agreements in 1 account; 1 failed; 5 not attempted before the run's time ran out (the next run plans them again). Each account's remediation message says what was done."}},
		{name: "auto off, no one offer to accept, apart from those not allowed",
			rem: &Remediation{Agreements: 1, Accounts: 1, NoOffer: 2, NotAllowed: 3},
			want: []string{"; 2 missing agreements without one offer to accept (none listed, or several: name the one in remediation.agreements.offers); 3 missing agreements outside what the remediation section allows.",
				`"not_allowed":3,"no_offer":2}`}},
		{name: "auto on, only agreements without an offer",
			rem:  &Remediation{Auto: true, NoOffer: 1},
			want: []string{"Remediation: nothing fixed; 1 missing agreement without one offer to accept (none listed, or several: name the one in remediation.agreements.offers)."}},
		{name: "auto on, a create whose answer was lost and could not be read back",
			rem:  &Remediation{Auto: true, Unknown: 1},
			want: []string{"Remediation: nothing fixed; 1 unknown (the answer was lost and the agreement could not be read back: the next run reads it).", `"unknown":1}`}},
		{name: "auto on, nothing to do", rem: &Remediation{Auto: true}, banned: []string{"Remediation"}},
		{name: "could not plan", rem: &Remediation{Error: "find the principal the run acts as (GetCallerIdentity): ExpiredToken"},
			want: []string{"Remediation: grantwatch could not plan what to fix this run: find the principal"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Digest("run-1", changes.TallyOf(alerts("111111111111", 2, changes.New)), tt.rem, MaxBytes)
			for _, w := range tt.want {
				if !strings.Contains(d.Body, w) {
					t.Errorf("digest: want %q in\n%s", w, d.Body)
				}
			}
			for _, b := range tt.banned {
				if strings.Contains(d.Body, b) {
					t.Errorf("digest: got %q; want none in\n%s", b, d.Body)
				}
			}
		})
	}
}

// The line is counts, not a list: the digest of 20,000 accounts with a
// remediation line stays under SNS's limit, with the line in it.
func TestDigestWithRemediationStaysUnderTheLimit(t *testing.T) {
	var all []changes.Alert
	for i := range 20000 {
		all = append(all, alerts(fmt.Sprintf("%012d", i), 1, changes.New)...)
	}
	rem := &Remediation{Auto: true, Agreements: 60000, Accounts: 20000, Failed: 12, NotAttempted: 3000}
	for _, chat := range []bool{false, true} {
		var opts []Option
		if chat {
			opts = append(opts, WithChat())
		}
		n := New(&fakeSNS{}, "arn:aws:sns:us-east-1:123456789012:t", time.Hour, opts...)
		m := n.digest("run-1", changes.TallyOf(all), rem)
		if size := n.size(m); size > MaxBytes || !strings.Contains(m.Body, "created 60000 agreements in 20000 accounts") {
			t.Errorf("chat %v: got %d bytes (limit %d), line shown %v", chat, size, MaxBytes, strings.Contains(m.Body, "created 60000"))
		}
	}
}

// A run that changed nothing sends no digest, unless the remediation step
// acted: then the digest says what it did.
func TestDigestForRemediationAlone(t *testing.T) {
	tests := []struct {
		name        string
		rem         *Remediation
		wantSubject string
	}{
		{name: "no remediation"},
		{name: "auto off: only the metric and fix tell", rem: &Remediation{Agreements: 2, Accounts: 1}},
		{name: "auto on, acted", rem: &Remediation{Auto: true, Agreements: 2, Accounts: 1},
			wantSubject: "[grantwatch] run run-1: no changes; remediation in 1 account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeSNS{}
			out := New(fake, "arn:aws:sns:us-east-1:123456789012:t", time.Hour).SendRun(context.Background(), "run-1", nil, tt.rem)
			if out.Err != nil {
				t.Fatal(out.Err)
			}
			var got string
			if len(fake.sent) == 1 {
				got = aws.ToString(fake.sent[0].Subject)
			}
			if len(fake.sent) > 1 || got != tt.wantSubject {
				t.Errorf("got %d messages, subject %q; want subject %q", len(fake.sent), got, tt.wantSubject)
			}
		})
	}
}
