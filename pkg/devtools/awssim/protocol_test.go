package awssim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestCallerIdentityAndSessionFields(t *testing.T) {
	s := startSim(t, testScenario, nil)
	ctx := context.Background()
	client := sts.NewFromConfig(clientConfig(t, s))
	roleID := regexp.MustCompile(`^AROA[A-Z2-7]{17}:grantwatch$`)

	in := &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::111111111111:role/GrantwatchAudit"), RoleSessionName: aws.String("grantwatch"), ExternalId: aws.String("ext-123")}
	first, err := client.AssumeRole(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	assumed := aws.ToString(first.AssumedRoleUser.AssumedRoleId)
	if !roleID.MatchString(assumed) {
		t.Errorf("AssumedRoleId: got %q; want AROA, 17 characters and the session name", assumed)
	}
	if first.PackedPolicySize != nil {
		t.Errorf("PackedPolicySize without a session policy: got %d; want none", *first.PackedPolicySize)
	}
	in.Policy = aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"bedrock:ListFoundationModels","Resource":"*"}]}`)
	second, err := client.AssumeRole(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if second.PackedPolicySize == nil || *second.PackedPolicySize < 1 {
		t.Errorf("PackedPolicySize with a session policy: got %v; want a percentage", second.PackedPolicySize)
	}
	if got := aws.ToString(second.AssumedRoleUser.AssumedRoleId); got != assumed {
		t.Errorf("role id of a second session: got %q; want the role's stable %q", got, assumed)
	}

	id, err := sts.NewFromConfig(memberConfig(t, s, "111111111111", "ext-123")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(id.UserId); got != assumed {
		t.Errorf("GetCallerIdentity UserId: got %q; want the AssumeRole answer's %q", got, assumed)
	}
}

func TestErrorsInEachProtocol(t *testing.T) {
	ctx := context.Background()
	anonymous := func(t *testing.T, s *Server) aws.Config {
		return clientConfig(t, s, config.WithCredentialsProvider(aws.AnonymousCredentials{}), config.WithRetryMaxAttempts(1))
	}
	t.Run("unsigned", func(t *testing.T) {
		s := startSim(t, testScenario, nil)
		cfg := anonymous(t, s)
		_, stsErr := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		_, orgErr := organizations.NewFromConfig(cfg).ListRoots(ctx, &organizations.ListRootsInput{})
		for _, c := range []struct {
			name string
			err  error
			want string
		}{
			{"sts", stsErr, "MissingAuthenticationToken"},
			{"organizations", orgErr, "MissingAuthenticationTokenException"},
		} {
			if got := errorCode(c.err); got != c.want {
				t.Errorf("%s: got %q (%v); want %q", c.name, got, c.err, c.want)
			}
		}
		// The Bedrock client cannot send unsigned: with anonymous
		// credentials it falls to its bearer-token scheme and, without a
		// token provider, panics (aws-sdk-go-v2 v1.48, bedrock v1.63). A
		// plain request stands in.
		resp, err := http.Get(s.URL() + "/foundation-models")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Amzn-ErrorType"); resp.StatusCode != http.StatusForbidden || got != "MissingAuthenticationTokenException" {
			t.Errorf("bedrock: got %d %q; want 403 MissingAuthenticationTokenException", resp.StatusCode, got)
		}
	})
	t.Run("server faults", func(t *testing.T) {
		tests := []struct {
			name   string
			status int
			call   func(aws.Config) error
			want   string
		}{
			{"sts 500", 500, func(c aws.Config) error {
				_, err := sts.NewFromConfig(c).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
				return err
			}, "InternalFailure"},
			{"sts 503", 503, func(c aws.Config) error {
				_, err := sts.NewFromConfig(c).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
				return err
			}, "ServiceUnavailable"},
			{"organizations 500", 500, func(c aws.Config) error {
				_, err := organizations.NewFromConfig(c).ListRoots(ctx, &organizations.ListRootsInput{})
				return err
			}, "ServiceException"},
			{"bedrock 500", 500, func(c aws.Config) error {
				_, err := bedrock.NewFromConfig(c).ListFoundationModels(ctx, &bedrock.ListFoundationModelsInput{})
				return err
			}, "InternalServerException"},
			{"bedrock 503", 503, func(c aws.Config) error {
				_, err := bedrock.NewFromConfig(c).ListFoundationModels(ctx, &bedrock.ListFoundationModelsInput{})
				return err
			}, "ServiceUnavailableException"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := startSim(t, testScenario, func(sc *Scenario) { sc.Faults = []Rule{{Rate: 1, Status: tt.status}} })
				err := tt.call(clientConfig(t, s, config.WithRetryMaxAttempts(1)))
				if got := errorCode(err); got != tt.want {
					t.Errorf("got %q (%v); want %q", got, err, tt.want)
				}
			})
		}
	})
}

// TestClockSkew: a request signed outside the window is refused as AWS
// refuses it, and the real SDK, reading the answer's Date header, corrects
// its clock and gets through on its next attempt.
func TestClockSkew(t *testing.T) {
	ctx := context.Background()
	s := startSim(t, testScenario, func(sc *Scenario) { sc.ClockOffset = Duration(20 * time.Minute) })

	body := "Action=GetCallerIdentity&Version=2011-06-15"
	req, _ := http.NewRequest(http.MethodPost, s.URL()+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	auditor := s.Auditor()
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: auditor.AccessKeyID, SecretAccessKey: auditor.SecretAccessKey},
		req, hex.EncodeToString(sum[:]), "sts", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	buf := string(raw)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(buf, "<Code>SignatureDoesNotMatch</Code>") || !strings.Contains(buf, "Signature expired: ") {
		t.Errorf("request 20 minutes behind AWS's clock: got %d %s; want 403 SignatureDoesNotMatch, Signature expired", resp.StatusCode, buf)
	}
	date, _ := http.ParseTime(resp.Header.Get("Date"))
	if skew := time.Until(date); skew < 19*time.Minute || skew > 21*time.Minute {
		t.Errorf("Date header: got %s, %v from now; want AWS's clock, 20 minutes ahead", resp.Header.Get("Date"), skew)
	}

	before := s.Calls(OpGetCallerIdentity)
	if _, err := sts.NewFromConfig(clientConfig(t, s)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("SDK with a skewed clock: got %v; want it to correct the skew and succeed", err)
	}
	if got := s.Calls(OpGetCallerIdentity) - before; got != 2 {
		t.Errorf("attempts: got %d; want 2 (refused, then corrected)", got)
	}
}
