package check

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/smithy-go/middleware"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/devtools/awssim"
)

// jsonHTTP answers every request with an HTTP 200 and body.
type jsonHTTP []byte

func (b jsonHTTP) Do(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}, "X-Amzn-Requestid": {"4b1e0f6c-0000-4000-8000-000000000000"}},
		Body: io.NopCloser(bytes.NewReader(b)), ContentLength: int64(len(b)), Request: req}, nil
}

// sdkAvailability is the SDK's decoding of a GetFoundationModelAvailability
// 200 answer: the real Bedrock client, the answer from its HTTP client.
func sdkAvailability(body []byte) (*bedrock.GetFoundationModelAvailabilityOutput, error) {
	c := bedrock.New(bedrock.Options{Region: "us-east-1", HTTPClient: jsonHTTP(body), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")})
	out, err := c.GetFoundationModelAvailability(context.Background(), &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String(nova)})
	if out != nil {
		out.ResultMetadata = middleware.Metadata{}
	}
	return out, err
}

// decodesAsTheSDK checks the direct decoder's one rule: it refuses an
// answer (errNotDirect, and the SDK decodes it), or it decodes exactly
// what the SDK decodes, every field. It reports whether it decoded.
func decodesAsTheSDK(t *testing.T, body []byte) bool {
	t.Helper()
	got, err := decodeAvailability(body, nil)
	if err != nil {
		if !errors.Is(err, errNotDirect) || got != nil {
			t.Errorf("direct decoder: got %v, %v; want nil, errNotDirect\n%q", got, err, body)
		}
		return false
	}
	want, werr := sdkAvailability(body)
	if werr != nil {
		t.Errorf("direct decoder took an answer the SDK refuses (%v):\n%q", werr, body)
		return true
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %s; want the SDK's %s\n%q", dump(got), dump(want), body)
	}
	return true
}

func dump(out *bedrock.GetFoundationModelAvailabilityOutput) string {
	b, _ := json.Marshal(out)
	return string(b)
}

// isAvailability takes GetFoundationModelAvailability requests.
func isAvailability(req *http.Request, _ []byte) bool {
	return strings.HasPrefix(req.URL.Path, "/foundation-model-availability/")
}

// simulatorAvailabilityAnswers audits the check organization
// (testdata/org.yaml) and the demo organization (`grantwatch demo`) and
// returns every GetFoundationModelAvailability answer the simulator gave.
func simulatorAvailabilityAnswers(t *testing.T) [][]byte {
	t.Helper()
	check, err := awssim.LoadScenario("testdata/org.yaml")
	if err != nil {
		t.Fatal(err)
	}
	demo, err := awssim.Demo()
	if err != nil {
		t.Fatal(err)
	}
	var all [][]byte
	for _, run := range []struct {
		sc     *awssim.Scenario
		config string
	}{{check, "testdata/grantwatch.yaml"}, {demo, "../../cmd/grantwatch/demo.yaml"}} {
		run.sc.Latency = awssim.Latency{}
		cfg, err := config.Load(run.config)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, recordAudit(t, run.sc, cfg, isAvailability)...)
	}
	return all
}

// apiReferenceAvailability is the response syntax of the Bedrock API
// reference for GetFoundationModelAvailability, with values from its
// valid values (ledger: PROTO-bedrock-availability-wire).
const apiReferenceAvailability = `{
   "agreementAvailability": { 
      "errorMessage": "string",
      "status": "ERROR"
   },
   "authorizationStatus": "NOT_AUTHORIZED",
   "entitlementAvailability": "NOT_AVAILABLE",
   "modelId": "anthropic.claude-3-5-sonnet-20240620-v1:0",
   "regionAvailability": "AVAILABLE"
}`

// availabilityAnswers are hand-written answers: the shapes the direct
// decoder takes (taken), and those it leaves to the SDK.
var availabilityAnswers = []struct {
	name  string
	body  string
	taken bool
}{
	{name: "the API reference's response syntax", body: apiReferenceAvailability, taken: true},
	{name: "every member null", body: `{"modelId":null,"agreementAvailability":null,"authorizationStatus":null,"entitlementAvailability":null,"regionAvailability":null}`, taken: true},
	{name: "agreement members null", body: `{"agreementAvailability":{"status":null,"errorMessage":null}}`, taken: true},
	{name: "empty object", body: `{}`, taken: true},
	{name: "empty agreement", body: `{"agreementAvailability":{}}`, taken: true},
	{name: "empty strings", body: `{"modelId":"","agreementAvailability":{"status":"","errorMessage":""},"authorizationStatus":"","entitlementAvailability":"","regionAvailability":""}`, taken: true},
	{name: "errorMessage", body: `{"agreementAvailability":{"status":"ERROR","errorMessage":"The payment method on file is not valid."}}`, taken: true},
	{name: "a value no enum has yet", body: `{"authorizationStatus":"PARTIALLY_AUTHORIZED","agreementAvailability":{"status":"EXPIRED"}}`, taken: true},
	{name: "whitespace everywhere", body: " \t\r\n{ \"modelId\" :\n\"m\" , \"agreementAvailability\" : { \"status\" : \"PENDING\" } }\n", taken: true},
	{name: "members in another order", body: `{"regionAvailability":"NOT_AVAILABLE","modelId":"m","entitlementAvailability":"AVAILABLE","authorizationStatus":"AUTHORIZED","agreementAvailability":{"errorMessage":"x","status":"AVAILABLE"}}`, taken: true},
	{name: "printable ASCII", body: `{"agreementAvailability":{"errorMessage":" !#$%&'()*+,-./0123456789:;<=>?@AZ[]^_` + "`" + `az{|}~"}}`, taken: true},

	{name: "an unknown member", body: `{"modelId":"m","newMember":"x"}`},
	{name: "an unknown member of another type", body: `{"modelId":"m","newMember":{"a":[1,true,null]}}`},
	{name: "an unknown agreement member", body: `{"agreementAvailability":{"status":"AVAILABLE","offerId":"o-1"}}`},
	{name: "a member with another case", body: `{"ModelId":"m"}`},
	{name: "a duplicate member", body: `{"modelId":"a","modelId":"b"}`},
	{name: "a duplicate null member", body: `{"modelId":null,"modelId":"b"}`},
	{name: "a duplicate agreement", body: `{"agreementAvailability":null,"agreementAvailability":{"status":"AVAILABLE"}}`},
	{name: "a duplicate agreement member", body: `{"agreementAvailability":{"status":"PENDING","status":"AVAILABLE"}}`},
	{name: "an escape", body: `{"modelId":"a\u0041"}`},
	{name: "an escaped quote", body: `{"agreementAvailability":{"errorMessage":"say \"no\""}}`},
	{name: "an escaped key", body: `{"model\u0049d":"m"}`},
	{name: "non-ASCII", body: `{"agreementAvailability":{"errorMessage":"Zahlungsmethode ungültig"}}`},
	{name: "a control byte", body: "{\"modelId\":\"a\tb\"}"},
	{name: "DEL", body: "{\"modelId\":\"a\x7fb\"}"},
	{name: "invalid UTF-8", body: "{\"modelId\":\"a\xffb\"}"},
	{name: "text after the object", body: `{"modelId":"m"} trailing`},
	{name: "a second object", body: `{"modelId":"m"}{"modelId":"n"}`},
	{name: "empty body", body: ``},
	{name: "only whitespace", body: " \n"},
	{name: "null", body: `null`},
	{name: "an array", body: `[]`},
	{name: "a number for a string", body: `{"modelId":1}`},
	{name: "a boolean for a string", body: `{"authorizationStatus":true}`},
	{name: "a string for the agreement", body: `{"agreementAvailability":"AVAILABLE"}`},
	{name: "a trailing comma", body: `{"modelId":"m",}`},
	{name: "no colon", body: `{"modelId" "m"}`},
	{name: "unterminated", body: `{"modelId":"m"`},
	{name: "an unterminated string", body: `{"modelId":"m`},
	{name: "nul", body: `{"modelId":nul}`},
	{name: "nullx", body: `{"modelId":nullx}`},
	{name: "a null key", body: `{null:"m"}`},
	{name: "a byte-order mark", body: "\xef\xbb\xbf{}"},
	{name: "single quotes", body: `{'modelId':'m'}`},
}

// TestDirectAvailabilityDecoderMatchesSDK decodes every answer the
// simulator gives in the check and demo organizations, indented too, and
// the hand-written ones, with the SDK and with decodeAvailability: the
// direct decoder takes every answer in Bedrock's shape and decodes it as
// the SDK does, every field; anything else it leaves to the SDK.
func TestDirectAvailabilityDecoderMatchesSDK(t *testing.T) {
	answers := simulatorAvailabilityAnswers(t)
	if len(answers) < 40 {
		t.Fatalf("got %d simulator answers; want at least 40", len(answers))
	}
	t.Logf("%d simulator answers", len(answers))
	for _, want := range []string{`"status":"ERROR"`, `"errorMessage":"`, `"status":"PENDING"`, `"status":"NOT_AVAILABLE"`,
		`"authorizationStatus":"NOT_AUTHORIZED"`, `"entitlementAvailability":"NOT_AVAILABLE"`, `"regionAvailability":"NOT_AVAILABLE"`} {
		if !bytes.Contains(bytes.Join(answers, nil), []byte(want)) {
			t.Errorf("no simulator answer has %s; the corpus must cover it", want)
		}
	}
	for i, a := range answers {
		var indented bytes.Buffer
		if err := json.Indent(&indented, a, "", "   "); err != nil {
			t.Fatalf("answer %d is not JSON: %v\n%s", i, err, a)
		}
		for _, body := range [][]byte{a, indented.Bytes()} {
			if !decodesAsTheSDK(t, body) {
				t.Errorf("answer %d: the direct decoder refused an answer in Bedrock's shape:\n%s", i, body)
			}
		}
	}
	for _, tc := range availabilityAnswers {
		t.Run(tc.name, func(t *testing.T) {
			if taken := decodesAsTheSDK(t, []byte(tc.body)); taken != tc.taken {
				t.Errorf("taken: got %v; want %v", taken, tc.taken)
			}
		})
	}
}

// FuzzDirectAvailabilityDecoder: for any body, decodeAvailability refuses
// it or decodes exactly what the SDK decodes.
func FuzzDirectAvailabilityDecoder(f *testing.F) {
	for _, tc := range availabilityAnswers {
		f.Add([]byte(tc.body))
	}
	f.Add([]byte(`{"modelId":"cohere.command-r-plus-v1:0","agreementAvailability":{"status":"ERROR","errorMessage":"The payment method on file is not valid."},"authorizationStatus":"AUTHORIZED","entitlementAvailability":"AVAILABLE","regionAvailability":"AVAILABLE"}` + "\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		decodesAsTheSDK(t, body)
	})
}
