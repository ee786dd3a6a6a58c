package check

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrock/types"

	"github.com/grantwatch/grantwatch/pkg/result"
)

const (
	sonnet       = "anthropic.claude-sonnet-4-5-20250929-v1:0"
	usSonnet     = "us." + sonnet
	globalSonnet = "global." + sonnet
	euSonnet     = "eu." + sonnet
	appProfile   = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/a1b2c3d4e5f6"
)

// pagedBedrock answers ListFoundationModels and ListInferenceProfiles with
// the SDK's own types, the profiles one per page, as Bedrock may page them.
type pagedBedrock struct {
	models   []types.FoundationModelSummary
	profiles []types.InferenceProfileSummary
	pages    int
}

func (f *pagedBedrock) ListFoundationModels(context.Context, *bedrock.ListFoundationModelsInput, ...func(*bedrock.Options)) (*bedrock.ListFoundationModelsOutput, error) {
	return &bedrock.ListFoundationModelsOutput{ModelSummaries: f.models}, nil
}

func (f *pagedBedrock) ListInferenceProfiles(_ context.Context, in *bedrock.ListInferenceProfilesInput, _ ...func(*bedrock.Options)) (*bedrock.ListInferenceProfilesOutput, error) {
	f.pages++
	if in.TypeEquals != types.InferenceProfileTypeSystemDefined {
		return nil, errors.New("want typeEquals SYSTEM_DEFINED")
	}
	i := 0
	if in.NextToken != nil {
		i = len(*in.NextToken)
	}
	out := &bedrock.ListInferenceProfilesOutput{}
	if i < len(f.profiles) {
		out.InferenceProfileSummaries = f.profiles[i : i+1]
	}
	if i+1 < len(f.profiles) {
		out.NextToken = aws.String(strings.Repeat("x", i+1))
	}
	return out, nil
}

func summary(id string, destinations ...string) types.InferenceProfileSummary {
	s := types.InferenceProfileSummary{
		InferenceProfileId:  aws.String(id),
		InferenceProfileArn: aws.String("arn:aws:bedrock:us-east-1:111111111111:inference-profile/" + id),
		Type:                types.InferenceProfileTypeSystemDefined, Status: types.InferenceProfileStatusActive,
	}
	for _, r := range destinations {
		s.Models = append(s.Models, types.InferenceProfileModel{ModelArn: aws.String("arn:aws:bedrock:" + r + "::foundation-model/" + sonnet)})
	}
	return s
}

// usEast1 is what Bedrock tells about Claude Sonnet 4.5 in us-east-1: listed,
// but only through inference profiles, of which there are two.
func usEast1(t *testing.T) (Catalog, Profiles) {
	t.Helper()
	api := &pagedBedrock{
		models: []types.FoundationModelSummary{
			{ModelId: aws.String(sonnet), ProviderName: aws.String("Anthropic"), InferenceTypesSupported: []types.InferenceType{"INFERENCE_PROFILE"}},
			{ModelId: aws.String(llama), ProviderName: aws.String("Meta"), InferenceTypesSupported: []types.InferenceType{types.InferenceTypeOnDemand}},
		},
		profiles: []types.InferenceProfileSummary{
			summary(globalSonnet, "us-east-1", "eu-west-1", "ap-northeast-1"),
			summary(usSonnet, "us-east-1", "us-east-2", "us-west-2"),
		},
	}
	catalog, err := ListCatalog(context.Background(), api)
	if err != nil {
		t.Fatal(err)
	}
	profiles, err := ListProfiles(context.Background(), api)
	if err != nil {
		t.Fatal(err)
	}
	if api.pages != 2 || len(profiles) != 2 {
		t.Fatalf("ListProfiles: read %d pages and %d profiles; want every page: 2 and 2", api.pages, len(profiles))
	}
	return catalog, profiles
}

func TestClassifyProfilesAndForm(t *testing.T) {
	catalog, profiles := usEast1(t)
	us := profiles[usSonnet]
	app := Profile{ID: "a1b2c3d4e5f6", ARN: appProfile, Type: types.InferenceProfileTypeApplication, Model: sonnet, Destinations: us.Destinations}
	missing, found := &Form{}, &Form{Found: true}

	tests := []struct {
		name         string
		model        string
		region       string
		profiles     Profiles
		profilesErr  error
		profile      *Profile
		availability *bedrock.GetFoundationModelAvailabilityOutput
		form         *Form
		wantStatus   result.Status
		wantCause    string
		wantRemedy   string
		wantDest     []string
	}{
		{"profile-only model called by id", sonnet, "us-east-1", profiles, nil, nil, avail("", "", "", ""), found, result.ProfileRequired,
			"inferenceTypesSupported=[INFERENCE_PROFILE] has no ON_DEMAND", "Call the inference profile " + usSonnet + " (routes to us-east-1, us-east-2, us-west-2) or " + globalSonnet, nil},
		{"profile-only model, and the form is missing too", sonnet, "us-east-1", profiles, nil, nil, avail("", "NOT_AUTHORIZED", "", ""), missing, result.ProfileRequired,
			"besides, GetFoundationModelAvailability: authorization NOT_AUTHORIZED", "instead", nil},
		{"profile-only model with no profile here", sonnet, "us-east-1", Profiles{}, nil, nil, avail("", "", "", ""), nil, result.ProfileRequired,
			"no ON_DEMAND", "No inference profile for it exists in us-east-1", nil},
		{"profile-only model, profiles not listed", sonnet, "us-east-1", nil, errors.New("list inference profiles: AccessDeniedException"), nil, avail("", "", "", ""), nil, result.ProfileRequired,
			"no ON_DEMAND", "could not list them", nil},
		{"system profile usable", usSonnet, "us-east-1", profiles, nil, &us, avail("", "", "", ""), found, result.Enabled,
			"inference profile " + usSonnet + " (SYSTEM_DEFINED) exists in us-east-1 and routes to us-east-1, us-east-2, us-west-2", "None needed", us.Destinations},
		{"system profile whose model lacks the form", usSonnet, "us-east-1", profiles, nil, &us, avail("", "NOT_AUTHORIZED", "", ""), missing, result.NotAuthorized,
			"use-case form: missing", "this account has none", us.Destinations},
		{"form on file, still not authorized", usSonnet, "us-east-1", profiles, nil, &us, avail("", "NOT_AUTHORIZED", "", ""), found, result.NotAuthorized,
			"use-case form: found", "AWS Support case", us.Destinations},
		{"application profile usable", appProfile, "us-east-1", nil, nil, &app, avail("", "", "", ""), found, result.Enabled,
			"(APPLICATION) exists in us-east-1", "None needed", us.Destinations},
		{"application profile deleted", appProfile, "us-east-1", nil, nil, nil, nil, nil, result.UnknownModel,
			"GetInferenceProfile: ResourceNotFoundException", "list-inference-profiles --type-equals APPLICATION", nil},
		// Issue 18 item 3: alone, a region cannot tell a typo from a
		// profile of another geography; Reconcile decides (below).
		{"eu profile in a US region, before Reconcile", euSonnet, "us-east-1", profiles, nil, nil, nil, nil, result.UnknownModel,
			"no system inference profile " + euSonnet + " in us-east-1", "typos", nil},
		{"eu profile id known nowhere, in a US region", "eu.anthropic.claude-typo", "us-east-1", profiles, nil, nil, nil, nil, result.UnknownModel,
			"no system inference profile eu.anthropic.claude-typo in us-east-1", "typos", nil},
		{"profile id known nowhere", "us.anthropic.claude-typo", "us-east-1", profiles, nil, nil, nil, nil, result.UnknownModel,
			"no system inference profile us.anthropic.claude-typo in us-east-1", "typos", nil},
		{"profiles not listed is an audit error of the profile", usSonnet, "us-east-1", nil, errors.New("list inference profiles: boom"), nil, nil, nil, result.AuditError,
			"list-profiles: error: list inference profiles: boom", "next run", nil},
		{"model not in region suggests the profile that exists there", sonnet, "us-east-1", profiles, nil, nil, avail("", "", "", "NOT_AVAILABLE"), nil, result.NotInRegion,
			"regionAvailability=NOT_AVAILABLE", "the inference profile " + usSonnet + ", which exists in us-east-1", nil},
		// Issue 18 item 3: only profiles the region's listing shows, or
		// that there is none; never an id made up from the model's.
		{"model not in region, the listing has no profile for it", llama, "eu-west-1", Profiles{}, nil, nil, avail("", "", "", "NOT_AVAILABLE"), nil, result.NotInRegion,
			"regionAvailability", "Bedrock lists no inference profile for it there", nil},
		{"model not in region, profiles not listed", llama, "eu-west-1", nil, nil, nil, avail("", "", "", "NOT_AVAILABLE"), nil, result.NotInRegion,
			"regionAvailability", "list-inference-profiles --region eu-west-1", nil},
		{"third-party model nobody invoked yet", llama, "us-east-1", nil, nil, nil, avail("NOT_AVAILABLE", "", "", ""), nil, result.AgreementMissing,
			"agreementAvailability.status=NOT_AVAILABLE", "subscribe ahead", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Classify(Evidence{Account: "111111111111", Region: tt.region, Model: tt.model, Catalog: catalog,
				Profiles: tt.profiles, ProfilesErr: tt.profilesErr, Profile: tt.profile, Availability: tt.availability, Form: tt.form})
			checkVerdict(t, got, tt.wantStatus, tt.wantCause, tt.wantRemedy)
			if strings.Join(got.Destinations(), ",") != strings.Join(tt.wantDest, ",") {
				t.Errorf("destination regions: got %v; want %v", got.Destinations(), tt.wantDest)
			}
		})
	}
}

func TestReconcileProfiles(t *testing.T) {
	_, profiles := usEast1(t)
	results := []result.Result{
		{Model: usSonnet, Region: "us-west-1", Status: result.UnknownModel, Cause: "ListInferenceProfiles: no system inference profile"},
		{Model: "us.anthropic.claude-typo", Region: "us-west-1", Status: result.UnknownModel},
		{Model: appProfile, Region: "us-east-1", Status: result.UnknownModel},
		{Model: euSonnet, Region: "us-east-1", Status: result.UnknownModel, Cause: "ListInferenceProfiles: no system inference profile"},
		{Model: "eu.anthropic.claude-typo", Region: "us-east-1", Status: result.UnknownModel},
		{Model: llama, Region: "eu-west-3", Status: result.UnknownModel, Cause: "GetFoundationModelAvailability: ValidationException"},
	}
	Reconcile(results, Seen{
		OfferedIn: map[string][]string{usSonnet: {"us-east-1", "us-west-2"}, appProfile: {"us-east-1"}, euSonnet: {"eu-west-1"}, llama: {"us-east-1"}},
		Profiles:  map[string]Profiles{"us-east-1": profiles, "us-west-1": {}, "eu-west-3": {}},
	})
	tests := []struct {
		status        result.Status
		cause, remedy string
	}{
		{result.ProfileNotInRegion, "the profile exists in us-east-1, us-west-2", "Bedrock lists no other inference profile"},
		{result.UnknownModel, "", ""},
		{result.UnknownModel, "", ""},
		{result.ProfileNotInRegion, "exists in eu-west-1; eu. profiles start only from their own geography's regions", "In us-east-1, call " + usSonnet + " instead"},
		{result.UnknownModel, "", ""},
		{result.NotInRegion, "the model is listed in us-east-1", "Bedrock lists no inference profile for it there"},
	}
	for i, tt := range tests {
		checkVerdict(t, results[i], tt.status, tt.cause, tt.remedy)
	}
}
