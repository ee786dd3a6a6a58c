package awssim

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrock/types"
)

const profileScenario = `
organization: {management_account: "999999999999"}
role: {name: GrantwatchAudit, external_id: ext-123}
catalog:
  - {id: "anthropic.claude-sonnet-4-5-20250929-v1:0", provider: Anthropic, regions: [us-east-1, us-west-2, eu-west-1], inference_types: [INFERENCE_PROFILE]}
  - {id: "amazon.titan-text-express-v1", provider: Amazon, regions: [us-east-1], inference_types: [ON_DEMAND, PROVISIONED]}
profiles:
  - {id: "us.anthropic.claude-sonnet-4-5-20250929-v1:0", name: US Claude Sonnet 4.5, model: "anthropic.claude-sonnet-4-5-20250929-v1:0", sources: [us-east-1, us-west-2], destinations: [us-east-1, us-east-2, us-west-2]}
  - {id: "eu.anthropic.claude-sonnet-4-5-20250929-v1:0", name: EU Claude Sonnet 4.5, model: "anthropic.claude-sonnet-4-5-20250929-v1:0", sources: [eu-west-1]}
  - {id: "global.anthropic.claude-sonnet-4-5-20250929-v1:0", name: Global Claude Sonnet 4.5, model: "anthropic.claude-sonnet-4-5-20250929-v1:0", sources: [us-east-1, eu-west-1]}
use_case_forms: ["111111111111"]
accounts:
  - id: "111111111111"
    application_profiles: [{id: a1b2c3d4e5f6, name: chat-app, region: us-east-1, copy_from: "us.anthropic.claude-sonnet-4-5-20250929-v1:0"}]
  - {id: "222222222222"}
pagination: {page_size: 1}
`

func bedrockFor(t *testing.T, s *Server, account, region string) *bedrock.Client {
	t.Helper()
	return bedrock.NewFromConfig(memberConfig(t, s, account, "ext-123"), func(o *bedrock.Options) { o.Region = region })
}

func TestListFoundationModelsInferenceTypes(t *testing.T) {
	s := startSim(t, profileScenario, nil)
	api := bedrockFor(t, s, "111111111111", "us-east-1")
	tests := []struct {
		name     string
		filter   types.InferenceType
		want     []string
		wantCode string
	}{
		{"no filter lists every model with its types", "", []string{"anthropic.claude-sonnet-4-5-20250929-v1:0=INFERENCE_PROFILE", "amazon.titan-text-express-v1=ON_DEMAND,PROVISIONED"}, ""},
		{"ON_DEMAND leaves out profile-only models", types.InferenceTypeOnDemand, []string{"amazon.titan-text-express-v1=ON_DEMAND,PROVISIONED"}, ""},
		{"PROVISIONED", types.InferenceTypeProvisioned, []string{"amazon.titan-text-express-v1=ON_DEMAND,PROVISIONED"}, ""},
		{"a value outside the enum is refused", "INFERENCE_PROFILE", nil, "ValidationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := api.ListFoundationModels(context.Background(), &bedrock.ListFoundationModelsInput{ByInferenceType: tt.filter})
			if got := errorCode(err); got != tt.wantCode {
				t.Fatalf("error code: got %q (%v); want %q", got, err, tt.wantCode)
			}
			if err != nil {
				return
			}
			var got []string
			for _, m := range out.ModelSummaries {
				var kinds []string
				for _, k := range m.InferenceTypesSupported {
					kinds = append(kinds, string(k))
				}
				got = append(got, aws.ToString(m.ModelId)+"="+strings.Join(kinds, ","))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v; want %v", got, tt.want)
			}
		})
	}
}

func TestInferenceProfilesPerRegionAndPage(t *testing.T) {
	s := startSim(t, profileScenario, nil)
	ctx := context.Background()
	list := func(account, region string, kind types.InferenceProfileType) []types.InferenceProfileSummary {
		t.Helper()
		var all []types.InferenceProfileSummary
		p := bedrock.NewListInferenceProfilesPaginator(bedrockFor(t, s, account, region), &bedrock.ListInferenceProfilesInput{TypeEquals: kind})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("ListInferenceProfiles: %v", err)
			}
			all = append(all, page.InferenceProfileSummaries...)
		}
		return all
	}
	ids := func(ps []types.InferenceProfileSummary) []string {
		var out []string
		for _, p := range ps {
			out = append(out, aws.ToString(p.InferenceProfileId))
		}
		return out
	}

	before := s.Calls(OpListInferenceProfiles)
	us := list("111111111111", "us-east-1", "")
	if got, want := ids(us), []string{"us.anthropic.claude-sonnet-4-5-20250929-v1:0", "global.anthropic.claude-sonnet-4-5-20250929-v1:0"}; !slices.Equal(got, want) {
		t.Errorf("system profiles in us-east-1: got %v; want %v", got, want)
	}
	if got := s.Calls(OpListInferenceProfiles) - before; got != 2 {
		t.Errorf("pages read with page size 1: got %d calls; want 2", got)
	}
	var dest []string
	for _, m := range us[1].Models {
		dest = append(dest, aws.ToString(m.ModelArn))
	}
	if want := []string{
		"arn:aws:bedrock:::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0",
		"arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0",
	}; !slices.Equal(dest, want) {
		t.Errorf("global profile models: got %v; want the region-less ARN, then the source region's, %v", dest, want)
	}
	if got, want := aws.ToString(us[0].InferenceProfileArn), "arn:aws:bedrock:us-east-1:111111111111:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0"; got != want {
		t.Errorf("system profile ARN: got %s; want %s", got, want)
	}
	if us[0].Type != types.InferenceProfileTypeSystemDefined || us[0].Status != types.InferenceProfileStatusActive || us[0].CreatedAt == nil {
		t.Errorf("summary fields: got type %q status %q createdAt %v", us[0].Type, us[0].Status, us[0].CreatedAt)
	}
	if got, want := ids(list("111111111111", "eu-west-1", types.InferenceProfileTypeSystemDefined)), []string{"eu.anthropic.claude-sonnet-4-5-20250929-v1:0", "global.anthropic.claude-sonnet-4-5-20250929-v1:0"}; !slices.Equal(got, want) {
		t.Errorf("system profiles in eu-west-1: got %v; want %v", got, want)
	}
	app := list("111111111111", "us-east-1", types.InferenceProfileTypeApplication)
	if len(app) != 1 || aws.ToString(app[0].InferenceProfileArn) != "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/a1b2c3d4e5f6" || len(app[0].Models) != 3 {
		t.Errorf("application profiles of the owner: got %+v", app)
	}
	if got := list("222222222222", "us-east-1", types.InferenceProfileTypeApplication); len(got) != 0 {
		t.Errorf("application profiles of another account: got %v; want none", ids(got))
	}

	api := bedrockFor(t, s, "111111111111", "us-east-1")
	tests := []struct {
		name, id, wantCode string
	}{
		{"system profile by id", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", ""},
		{"application profile by ARN", "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/a1b2c3d4e5f6", ""},
		{"profile of another region", "eu.anthropic.claude-sonnet-4-5-20250929-v1:0", "ResourceNotFoundException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := api.GetInferenceProfile(ctx, &bedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String(tt.id)})
			if got := errorCode(err); got != tt.wantCode {
				t.Fatalf("error code: got %q (%v); want %q", got, err, tt.wantCode)
			}
			if err == nil && len(out.Models) == 0 {
				t.Errorf("got a profile without models")
			}
		})
	}
	for _, in := range []*bedrock.ListInferenceProfilesInput{
		{MaxResults: aws.Int32(1001)},
		{NextToken: aws.String("not-a-token")},
		{TypeEquals: "CUSTOM"},
	} {
		if _, err := api.ListInferenceProfiles(ctx, in); errorCode(err) != "ValidationException" {
			t.Errorf("ListInferenceProfiles(%+v): got %v; want ValidationException", in, err)
		}
	}
}

func TestUseCaseForm(t *testing.T) {
	claude := "anthropic.claude-sonnet-4-5-20250929-v1:0"
	tests := []struct {
		name      string
		forms     []string
		account   string
		wantCode  string
		wantAuthz types.AuthorizationStatus
	}{
		{"own form", []string{"111111111111"}, "111111111111", "", types.AuthorizationStatusAuthorized},
		{"no form: Anthropic models are not authorized", []string{"111111111111"}, "222222222222", "ResourceNotFoundException", types.AuthorizationStatusNotAuthorized},
		{"the management account's form covers members", []string{"999999999999"}, "222222222222", "", types.AuthorizationStatusAuthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startSim(t, profileScenario, func(sc *Scenario) { sc.UseCaseForms = tt.forms })
			api := bedrockFor(t, s, tt.account, "us-east-1")
			out, err := api.GetUseCaseForModelAccess(context.Background(), &bedrock.GetUseCaseForModelAccessInput{})
			if got := errorCode(err); got != tt.wantCode {
				t.Fatalf("error code: got %q (%v); want %q", got, err, tt.wantCode)
			}
			if err == nil {
				var form map[string]string
				if err := json.Unmarshal(out.FormData, &form); err != nil || form["companyName"] == "" {
					t.Errorf("formData: got %q (%v); want the form's JSON", out.FormData, err)
				}
			}
			a, err := api.GetFoundationModelAvailability(context.Background(), &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String(claude)})
			if err != nil {
				t.Fatal(err)
			}
			if a.AuthorizationStatus != tt.wantAuthz {
				t.Errorf("authorizationStatus: got %s; want %s", a.AuthorizationStatus, tt.wantAuthz)
			}
		})
	}
}
