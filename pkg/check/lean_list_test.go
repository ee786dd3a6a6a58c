package check

import (
	"context"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/smithy-go/middleware"

	"github.com/grantwatch/grantwatch/pkg/devtools/awssim"
	"github.com/grantwatch/grantwatch/pkg/devtools/testenv"
)

// answerWith is an HTTP client that answers every request with one 200
// and body.
type answerWith string

func (a answerWith) Do(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(string(a))), Request: req}, nil
}

// sdkClient is a Bedrock client whose every answer is body.
func sdkClient(body string) *bedrock.Client {
	return bedrock.New(bedrock.Options{Region: "us-east-1", HTTPClient: answerWith(body), RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, nil
		})})
}

// listDecoders are the direct list decoders and the SDK's, each giving the
// output without its ResultMetadata (which the direct path leaves empty).
var listDecoders = []struct {
	name   string
	direct func([]byte) (any, error)
	sdk    func(string) (any, error)
}{
	{"ListFoundationModels", func(b []byte) (any, error) { return decodeModels(b, newInterner()) }, func(body string) (any, error) {
		out, err := sdkClient(body).ListFoundationModels(context.Background(), &bedrock.ListFoundationModelsInput{})
		if out != nil {
			out.ResultMetadata = middleware.Metadata{}
		}
		return out, err
	}},
	{"ListInferenceProfiles", func(b []byte) (any, error) { return decodeProfiles(b, nil) }, func(body string) (any, error) {
		out, err := sdkClient(body).ListInferenceProfiles(context.Background(), &bedrock.ListInferenceProfilesInput{})
		if out != nil {
			out.ResultMetadata = middleware.Metadata{}
		}
		return out, err
	}},
}

// compareListDecoders wants the direct decoder to give the SDK's output
// or to decline (errNotDirect), and says whether it decoded.
func compareListDecoders(t *testing.T, i int, body string) bool {
	t.Helper()
	d := listDecoders[i]
	got, err := d.direct([]byte(body))
	if err != nil {
		if !errors.Is(err, errNotDirect) {
			t.Errorf("%s %q: got error %v; want errNotDirect or the SDK's output", d.name, body, err)
		}
		return false
	}
	want, sdkErr := d.sdk(body)
	if sdkErr != nil {
		t.Errorf("%s %q: decoded directly, but the SDK says %v", d.name, body, sdkErr)
		return true
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s %q:\n got %#v\nwant %#v (the SDK's)", d.name, body, got, want)
	}
	return true
}

// TestDirectListDecodersMatchSDK decodes the simulator's own list answers
// for the demo organization and hand-written ones (every member, nulls,
// empty lists, null elements, date-times with offsets and fractions, and
// what the decoders decline) both ways: the direct decoders give exactly
// the SDK's output or decline, and decode every simulator answer.
func TestDirectListDecodersMatchSDK(t *testing.T) {
	// The simulator's answers, as the SDK receives them.
	sim := testenv.Simulator(t, "../devtools/awssim/demo.yaml", nil)
	var captured []string
	for _, path := range []string{"/foundation-models", "/inference-profiles?type=SYSTEM_DEFINED&maxResults=1000"} {
		for _, region := range []string{"us-east-1", "us-west-2", "eu-central-1"} {
			body := simGet(t, sim, region, path)
			captured = append(captured, body)
			i := 0
			if strings.HasPrefix(path, "/inference-profiles") {
				i = 1
			}
			if !compareListDecoders(t, i, body) {
				t.Errorf("%s in %s: the simulator's answer was not decoded directly; want it decoded", path, region)
			}
		}
	}
	tests := []struct {
		name    string
		decoder int // index in listDecoders
		body    string
		direct  bool // decoded directly, else declined
	}{
		{"every member", 0, `{"modelSummaries":[{"modelArn":"arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0","modelId":"amazon.nova-pro-v1:0","modelName":"Nova Pro","providerName":"Amazon","inputModalities":["TEXT","IMAGE"],"outputModalities":["TEXT"],"responseStreamingSupported":true,"customizationsSupported":[],"inferenceTypesSupported":["ON_DEMAND","INFERENCE_PROFILE"],"modelLifecycle":{"status":"ACTIVE"}}]}`, true},
		{"lifecycle date-times", 0, `{"modelSummaries":[{"modelId":"a.b","modelLifecycle":{"status":"LEGACY","startOfLifeTime":"2024-01-02T03:04:05Z","legacyTime":"2025-06-30T00:00:00.123Z","endOfLifeTime":"2026-01-01T00:00:00+02:00","publicExtendedAccessTime":"2025-09-01T12:00:00.5Z"}}]}`, true},
		{"null members", 0, `{"modelSummaries":[{"modelId":null,"modelName":null,"responseStreamingSupported":null,"inputModalities":null,"modelLifecycle":null}]}`, true},
		{"null and empty summaries", 0, `{"modelSummaries":[null,{}]}`, true},
		{"null list element", 0, `{"modelSummaries":[{"inferenceTypesSupported":[null,"ON_DEMAND"],"responseStreamingSupported":false}]}`, true},
		{"empty list", 0, `{"modelSummaries":[]}`, true},
		{"null list", 0, `{"modelSummaries":null}`, true},
		{"empty object", 0, `{}`, true},
		{"white space", 0, " { \"modelSummaries\" : [ { \"modelId\" : \"x\" } ] } \n", true},
		{"unknown member", 0, `{"modelSummaries":[{"modelId":"x","newMember":1}]}`, false},
		{"duplicate member", 0, `{"modelSummaries":[{"modelId":"x","modelId":"y"}]}`, false},
		{"non-ASCII", 0, `{"modelSummaries":[{"modelName":"café"}]}`, false},
		{"escape", 0, `{"modelSummaries":[{"modelId":"a\"b"}]}`, false},
		{"bad date-time", 0, `{"modelSummaries":[{"modelLifecycle":{"legacyTime":"yesterday"}}]}`, false},
		{"boolean as a string", 0, `{"modelSummaries":[{"responseStreamingSupported":"true"}]}`, false},
		{"text after the object", 0, `{"modelSummaries":[]} trailing`, false},
		{"empty body", 0, ``, false},
		{"an array", 0, `[]`, false},
		{"unknown lifecycle member", 0, `{"modelSummaries":[{"modelLifecycle":{"status":"ACTIVE","x":null}}]}`, false},
		{"profile with models", 1, `{"inferenceProfileSummaries":[{"inferenceProfileId":"us.amazon.nova-pro-v1:0","inferenceProfileArn":"arn:aws:bedrock:us-east-1:111111111111:inference-profile/us.amazon.nova-pro-v1:0","inferenceProfileName":"US Nova Pro","description":"Routes requests to Nova Pro in us-east-1, us-east-2 and us-west-2.","status":"ACTIVE","type":"SYSTEM_DEFINED","createdAt":"2024-11-20T00:00:00Z","updatedAt":"2024-11-20T00:00:00Z","models":[{"modelArn":"arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0"},{"modelArn":"arn:aws:bedrock:us-west-2::foundation-model/amazon.nova-pro-v1:0"}]}],"nextToken":"abc"}`, true},
		{"null model, empty model, nulls", 1, `{"inferenceProfileSummaries":[{"models":[null,{}],"description":null}],"nextToken":null}`, true},
		{"empty token", 1, `{"inferenceProfileSummaries":[],"nextToken":""}`, true},
		{"null summaries", 1, `{"inferenceProfileSummaries":null}`, true},
		{"unknown model member", 1, `{"inferenceProfileSummaries":[{"models":[{"modelArn":"x","region":"y"}]}]}`, false},
		{"numeric token", 1, `{"nextToken":1}`, false},
		{"epoch-seconds time", 1, `{"inferenceProfileSummaries":[{"createdAt":1732060800}]}`, false},
	}
	for _, tc := range tests {
		if got := compareListDecoders(t, tc.decoder, tc.body); got != tc.direct {
			t.Errorf("%s: decoded directly: got %v; want %v", tc.name, got, tc.direct)
		}
	}
	if len(captured) == 0 {
		t.Fatal("no simulator answers captured")
	}
}

// FuzzDirectListDecoders: whatever the body, each direct list decoder gives
// the SDK's output or declines.
func FuzzDirectListDecoders(f *testing.F) {
	f.Add(0, `{"modelSummaries":[{"modelId":"a.b","inputModalities":["TEXT"],"responseStreamingSupported":true,"modelLifecycle":{"status":"ACTIVE","legacyTime":"2025-06-30T00:00:00Z"}}]}`)
	f.Add(1, `{"inferenceProfileSummaries":[{"inferenceProfileId":"us.x","type":"SYSTEM_DEFINED","models":[{"modelArn":"arn"}],"createdAt":"2024-11-20T00:00:00Z"}],"nextToken":"t"}`)
	f.Add(0, `{"modelSummaries":[null,{},{"customizationsSupported":[null]}]}`)
	f.Fuzz(func(t *testing.T, which int, body string) {
		if which < 0 {
			which = -which
		}
		compareListDecoders(t, which%len(listDecoders), body)
	})
}

// teeBody records the body of each answer it passes on.
type teeBody struct {
	next   aws.HTTPClient
	bodies *[]string
}

func (c teeBody) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.next.Do(req)
	if err != nil {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	*c.bodies = append(*c.bodies, string(b))
	resp.Body = io.NopCloser(strings.NewReader(string(b)))
	return resp, err
}

// simGet is the simulator's answer to the auditor's own ListFoundationModels
// or ListInferenceProfiles (as path names it) in region, as the SDK
// receives it.
func simGet(t *testing.T, sim *awssim.Server, region, path string) string {
	t.Helper()
	awsCfg, err := sim.ClientConfig(context.Background(), region)
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	awsCfg.HTTPClient = teeBody{next: awsCfg.HTTPClient, bodies: &bodies}
	client := bedrock.NewFromConfig(awsCfg)
	if strings.HasPrefix(path, "/inference-profiles") {
		_, err = client.ListInferenceProfiles(context.Background(), &bedrock.ListInferenceProfilesInput{TypeEquals: "SYSTEM_DEFINED", MaxResults: aws.Int32(1000)})
	} else {
		_, err = client.ListFoundationModels(context.Background(), &bedrock.ListFoundationModelsInput{})
	}
	if err != nil || len(bodies) != 1 {
		t.Fatalf("%s in %s: got %v, %d answers; want one answer", path, region, err, len(bodies))
	}
	return bodies[0]
}
