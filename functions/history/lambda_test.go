package main

// This test runs the function's real binary under the AWS Lambda runtime
// interface emulator, reading a history that a real run wrote to dynalite.

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/grantwatch/grantwatch/pkg/check"
	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/devtools/testenv"
	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/job"
	"github.com/grantwatch/grantwatch/pkg/targets"
)

const table = "grantwatch-history"

// recordOneRun audits testdata/org.yaml once into a fresh table.
func recordOneRun(t *testing.T, endpoint string) {
	t.Helper()
	ctx := context.Background()
	sim := testenv.Simulator(t, "testdata/org.yaml", nil)
	cfg, err := config.Parse([]byte(`accounts: {static: ["222222222222", "333333333333"]}
regions: [us-east-1]
models: {required: [anthropic.claude-3-5-sonnet-20240620-v1:0]}
role: {name: GrantwatchAudit, external_id: grantwatch-fn}
history: {table: ` + table + `}
`))
	if err != nil {
		t.Fatal(err)
	}
	simCfg, err := sim.ClientConfig(ctx, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	client := dynamodb.NewFromConfig(testenv.AWSConfig(t, endpoint))
	if err := history.CreateTable(ctx, client, table); err != nil {
		t.Fatal(err)
	}
	store := history.New(client, table, 24*time.Hour)
	j := job.New(cfg, targets.New(cfg, simCfg), check.New(cfg, simCfg), store, nil)
	if _, err := j.Run(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
}

func TestHistoryFunction(t *testing.T) {
	ddb := testenv.DynamoDB(t)
	recordOneRun(t, ddb.Endpoint)
	fn := testenv.Lambda(t, ".", []string{
		config.EnvTable + "=" + table,
		config.EnvReaders + "=arn:aws:iam::999999999999:role/GovernanceReader",
		"AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=AKIDLOCAL",
		"AWS_SECRET_ACCESS_KEY=local",
		"AWS_ENDPOINT_URL_DYNAMODB=" + ddb.Endpoint,
		"AWS_LAMBDA_LOG_FORMAT=JSON",
		"AWS_EC2_METADATA_DISABLED=true",
	})
	ctx := context.Background()

	tests := []struct {
		name       string
		caller     string
		account    string
		wantStatus int
		wantBody   string
	}{
		{"owner reads own history", "arn:aws:sts::333333333333:assumed-role/Developer/alice", "333333333333", 200, `"status":"NOT_AUTHORIZED"`},
		{"another account is refused", "arn:aws:sts::222222222222:assumed-role/Developer/mallory", "333333333333", 403, "may read only account 222222222222"},
		{"governance reader reads any", "arn:aws:sts::999999999999:assumed-role/GovernanceReader/gov", "333333333333", 200, `"account":"333333333333"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			caller, err := arn.Parse(tt.caller)
			if err != nil {
				t.Fatal(err)
			}
			req := events.LambdaFunctionURLRequest{Version: "2.0", RawPath: "/history", RawQueryString: "account=" + tt.account,
				QueryStringParameters: map[string]string{"account": tt.account}}
			req.RequestContext.HTTP.Method, req.RequestContext.HTTP.Path = "GET", "/history"
			req.RequestContext.AccountID = caller.AccountID
			req.RequestContext.Authorizer = &events.LambdaFunctionURLRequestContextAuthorizerDescription{
				IAM: &events.LambdaFunctionURLRequestContextAuthorizerIAMDescription{AccountID: caller.AccountID, UserARN: tt.caller, AccessKey: "ASIAEXAMPLE"},
			}
			payload, _ := json.Marshal(req)
			body, err := fn.Invoke(ctx, string(payload))
			if err != nil {
				t.Fatalf("%v\nfunction output: %s", err, fn.Output())
			}
			var resp events.LambdaFunctionURLResponse
			if err := json.Unmarshal(body, &resp); err != nil {
				t.Fatalf("response %s: %v", body, err)
			}
			if resp.StatusCode != tt.wantStatus || !strings.Contains(resp.Body, tt.wantBody) {
				t.Errorf("got %d %s; want %d containing %q", resp.StatusCode, resp.Body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}
