package check

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/devtools/awssim"
)

// replay answers each distinct request (method, path and IAM Action) with
// the simulator's first answer to it, so that a benchmark of the client
// side measures the client alone: the simulator's own work is paid once.
type replay struct {
	sim  http.Handler
	mu   sync.Mutex
	seen map[string]*httptest.ResponseRecorder
}

func (p *replay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	key := r.Method + " " + r.URL.Path
	if r.Method == http.MethodPost {
		if i := bytes.Index(body, []byte("Action=")); i >= 0 {
			key += " " + strings.SplitN(string(body[i:]), "&", 2)[0]
		}
	}
	p.mu.Lock()
	rec, ok := p.seen[key]
	if !ok {
		rec = httptest.NewRecorder()
		r.Body = io.NopCloser(bytes.NewReader(body))
		p.sim.ServeHTTP(rec, r)
		p.seen[key] = rec
	}
	p.mu.Unlock()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// BenchmarkClientCall measures the auditor's CPU and allocations for one
// AWS call of each kind the run makes most, with its clients built as the
// run builds them (New), against answers replayed from the simulator. Run
// with -benchmem: allocations per call are the steady figure on a shared
// machine (issue 22).
func BenchmarkClientCall(b *testing.B) {
	regions := config.KnownRegions()[:2]
	models := []string{"amazon.nova-pro-v1:0", "anthropic.claude-3-5-sonnet-20240620-v1:0", "meta.llama3-1-70b-instruct-v1:0", "mistral.mistral-large-2407-v1:0", "amazon.nova-lite-v1:0"}
	sc := awssim.Generated(1, 0, regions, models, 0)
	sc.Accounts[0].Roles = []awssim.IAMRole{{Name: "ChatApp", Policies: map[string]string{"bedrock": benchPolicy}}}
	sc.Auditor = awssim.Principal{AccessKeyID: "AKIAGRANTWATCHBENCH0", SecretAccessKey: "grantwatch-bench-secret"}
	sim, err := awssim.New(sc)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(&replay{sim: sim, seen: map[string]*httptest.ResponseRecorder{}})
	defer srv.Close()
	ctx := context.Background()
	account := sc.Accounts[0].ID
	cfg := &config.Config{Accounts: config.Accounts{Static: []string{account}}, Regions: regions, Models: config.Models{Required: models}}
	cfg.ApplyDefaults()
	awsCfg, err := awssim.ClientConfigFor(ctx, srv.URL, sc.Auditor, regions[0])
	if err != nil {
		b.Fatal(err)
	}
	c := New(cfg, awsCfg)
	creds := aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(c.sts, cfg.RoleARN(account), func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = cfg.Role.SessionName
	}))
	bedrockAPI := c.newBedrock(regions[0], creds)
	iamAPI := c.newIAM(creds)

	var resources []string
	for _, m := range models {
		resources = append(resources, fmt.Sprintf("arn:aws:bedrock:%s::foundation-model/%s", regions[0], m))
	}
	simulate := &iam.SimulatePrincipalPolicyInput{
		PolicySourceArn: aws.String(fmt.Sprintf("arn:aws:iam::%s:role/ChatApp", account)),
		ActionNames:     []string{"bedrock:InvokeModel"},
		ResourceArns:    resources,
		ContextEntries: []iamtypes.ContextEntry{{ContextKeyName: aws.String("aws:RequestedRegion"),
			ContextKeyType: iamtypes.ContextKeyTypeEnumString, ContextKeyValues: []string{regions[0]}}},
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"GetFoundationModelAvailability", func() error {
			_, err := Availability(ctx, bedrockAPI, models[0])
			return err
		}},
		{"ListFoundationModels", func() error {
			_, err := ListCatalog(ctx, bedrockAPI)
			return err
		}},
		{"ListInferenceProfiles", func() error {
			_, err := ListProfiles(ctx, bedrockAPI)
			return err
		}},
		{"SimulatePrincipalPolicy", func() error {
			out, err := iamAPI.SimulatePrincipalPolicy(ctx, simulate)
			if err == nil && len(out.EvaluationResults) == 0 {
				err = fmt.Errorf("no evaluation results")
			}
			return err
		}},
	}
	for _, tc := range calls {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			if err := tc.call(); err != nil { // the replayed answer is recorded here
				b.Fatal(err)
			}
			for b.Loop() {
				if err := tc.call(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
