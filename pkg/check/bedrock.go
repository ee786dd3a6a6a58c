// Bedrock calls: the region's models, inference profiles, model
// availability and the account's use-case form.

package check

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/smithy-go"

	"github.com/grantwatch/grantwatch/pkg/config"
)

// ModelLister is the part of *bedrock.Client that lists a region's models.
type ModelLister interface {
	ListFoundationModels(ctx context.Context, in *bedrock.ListFoundationModelsInput, optFns ...func(*bedrock.Options)) (*bedrock.ListFoundationModelsOutput, error)
}

// AvailabilityGetter is the part of *bedrock.Client that reports one model's
// availability for the calling account.
type AvailabilityGetter interface {
	GetFoundationModelAvailability(ctx context.Context, in *bedrock.GetFoundationModelAvailabilityInput, optFns ...func(*bedrock.Options)) (*bedrock.GetFoundationModelAvailabilityOutput, error)
}

// ProfileLister is the part of *bedrock.Client that lists a region's inference profiles.
type ProfileLister interface {
	ListInferenceProfiles(ctx context.Context, in *bedrock.ListInferenceProfilesInput, optFns ...func(*bedrock.Options)) (*bedrock.ListInferenceProfilesOutput, error)
}

// ProfileGetter is the part of *bedrock.Client that reads one inference profile.
type ProfileGetter interface {
	GetInferenceProfile(ctx context.Context, in *bedrock.GetInferenceProfileInput, optFns ...func(*bedrock.Options)) (*bedrock.GetInferenceProfileOutput, error)
}

// UseCaseGetter is the part of *bedrock.Client that reads the account's
// Anthropic use-case form.
type UseCaseGetter interface {
	GetUseCaseForModelAccess(ctx context.Context, in *bedrock.GetUseCaseForModelAccessInput, optFns ...func(*bedrock.Options)) (*bedrock.GetUseCaseForModelAccessOutput, error)
}

// BedrockAPI is all a check needs from Bedrock.
type BedrockAPI interface {
	ModelLister
	AvailabilityGetter
	ProfileLister
	ProfileGetter
	UseCaseGetter
}

var _ BedrockAPI = (*bedrock.Client)(nil)

// bedrockReadActions are the member role's permissions for BedrockAPI, one
// row per method: what it is granted on, and why the audit calls it.
func bedrockReadActions() []MemberAction {
	return []MemberAction{
		{Action: "bedrock:ListFoundationModels", Scope: ScopeAny,
			Why: "the region's models, lifecycle and inference types; no resource-level permissions"},
		{Action: "bedrock:GetFoundationModelAvailability", Scope: ScopeAny,
			Why: "agreement, authorization, entitlement, region; no resource-level permissions"},
		{Action: "bedrock:ListInferenceProfiles", Scope: ScopeAny,
			Why: "the region's system inference profiles; no resource-level permissions"},
		{Action: "bedrock:GetInferenceProfile", Scope: ScopeOwnApplicationProfiles,
			Why: "the required application profile ARNs; scoped to the account's own application profiles (system profiles are read with `ListInferenceProfiles`, never with this)"},
		{Action: "bedrock:GetUseCaseForModelAccess", Scope: ScopeAny,
			Why: "whether the Anthropic use-case form is on file; no resource-level permissions"},
	}
}

// Model is what ListFoundationModels says of one model in one region.
type Model struct {
	Provider  string
	Lifecycle types.FoundationModelLifecycleStatus
	LegacyAt  *time.Time
	EndOfLife *time.Time
	// InferenceTypes is inferenceTypesSupported: ON_DEMAND, PROVISIONED, and
	// INFERENCE_PROFILE for models served only through a profile (a value
	// the SDK's enum does not name, but Bedrock answers).
	InferenceTypes []types.InferenceType
	// NoStreaming: responseStreamingSupported is false, so the model has
	// no streaming call (an absent field says nothing).
	NoStreaming bool
}

// ProfileOnly reports whether on-demand calls with the bare model id fail:
// Bedrock lists the model, but not as ON_DEMAND. A model listed with no
// inference types at all is given the benefit of the doubt.
func (m Model) ProfileOnly() bool {
	return len(m.InferenceTypes) > 0 && !slices.Contains(m.InferenceTypes, types.InferenceTypeOnDemand)
}

// Catalog is a region's model list, by model id.
type Catalog map[string]Model

// ListCatalog calls ListFoundationModels once (it is not paginated).
func ListCatalog(ctx context.Context, api ModelLister) (Catalog, error) {
	out, err := api.ListFoundationModels(ctx, &bedrock.ListFoundationModelsInput{})
	if err != nil {
		return nil, fmt.Errorf("list foundation models: %w", err)
	}
	c := make(Catalog, len(out.ModelSummaries))
	for i, s := range out.ModelSummaries {
		id := aws.ToString(s.ModelId)
		if id == "" {
			return nil, fmt.Errorf("list foundation models: modelSummaries[%d].modelId is empty", i)
		}
		m := Model{Provider: aws.ToString(s.ProviderName), Lifecycle: types.FoundationModelLifecycleStatusActive}
		if lc := s.ModelLifecycle; lc != nil {
			if lc.Status != "" {
				m.Lifecycle = lc.Status
			}
			m.LegacyAt, m.EndOfLife = lc.LegacyTime, lc.EndOfLifeTime
		}
		m.InferenceTypes = s.InferenceTypesSupported
		m.NoStreaming = s.ResponseStreamingSupported != nil && !*s.ResponseStreamingSupported
		c[id] = m
	}
	return c, nil
}

// Availability calls GetFoundationModelAvailability for one model.
func Availability(ctx context.Context, api AvailabilityGetter, model string) (*bedrock.GetFoundationModelAvailabilityOutput, error) {
	out, err := api.GetFoundationModelAvailability(ctx, &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String(model)})
	if err != nil {
		return nil, fmt.Errorf("get foundation model availability %s: %w", model, err)
	}
	return out, nil
}

// Profile is one inference profile, as ListInferenceProfiles or
// GetInferenceProfile describe it.
type Profile struct {
	ID   string
	ARN  string
	Type types.InferenceProfileType
	// Model is the foundation model id the profile routes calls for.
	Model string
	// Destinations are the regions it routes to, in the order Bedrock lists them.
	Destinations []string
}

// Profiles are a region's system-defined inference profiles, by id.
type Profiles map[string]Profile

// For lists the profiles that route calls for model, the region's own
// geography first (us. in us-east-1, eu. in eu-west-1), global last.
func (ps Profiles) For(model, region string) []Profile {
	var out []Profile
	for _, p := range ps {
		if p.Model == model {
			out = append(out, p)
		}
	}
	own := config.RegionGeography(region)
	rank := func(p Profile) int {
		switch ref, _ := config.ParseModel(p.ID); ref.Geography {
		case own:
			return 0
		case "global":
			return 2
		}
		return 1
	}
	slices.SortFunc(out, func(a, b Profile) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// ListProfiles reads every page of the region's system-defined inference
// profiles. Application profiles are read one by one with GetProfile, since
// only the ARNs required are of interest.
func ListProfiles(ctx context.Context, api ProfileLister) (Profiles, error) {
	ps := Profiles{}
	in := &bedrock.ListInferenceProfilesInput{
		TypeEquals: types.InferenceProfileTypeSystemDefined, MaxResults: aws.Int32(1000),
	}
	// The pages as the SDK's ListInferenceProfilesPaginator reads them
	// (next token from the answer's, until it is absent or empty), without
	// the per-call option it adds (a user-agent mark), so that the calls
	// can take the direct path (lean.go).
	for first := true; first || aws.ToString(in.NextToken) != ""; first = false {
		out, err := api.ListInferenceProfiles(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list inference profiles: %w", err)
		}
		next := *in
		next.NextToken = out.NextToken
		in = &next
		for i, s := range out.InferenceProfileSummaries {
			p, err := profileOf(aws.ToString(s.InferenceProfileId), aws.ToString(s.InferenceProfileArn), s.Type, s.Models)
			if err != nil {
				return nil, fmt.Errorf("list inference profiles: inferenceProfileSummaries[%d]: %w", i, err)
			}
			ps[p.ID] = p
		}
	}
	return ps, nil
}

// GetProfile reads one inference profile by id or ARN.
func GetProfile(ctx context.Context, api ProfileGetter, id string) (Profile, error) {
	out, err := api.GetInferenceProfile(ctx, &bedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String(id)})
	if err != nil {
		return Profile{}, fmt.Errorf("get inference profile %s: %w", id, err)
	}
	p, err := profileOf(aws.ToString(out.InferenceProfileId), aws.ToString(out.InferenceProfileArn), out.Type, out.Models)
	if err != nil {
		return Profile{}, fmt.Errorf("get inference profile %s: %w", id, err)
	}
	return p, nil
}

// profileOf reads a profile's model and destinations from its models'
// ARNs (arn:aws:bedrock:REGION::foundation-model/MODEL).
func profileOf(id, profileARN string, typ types.InferenceProfileType, models []types.InferenceProfileModel) (Profile, error) {
	p := Profile{ID: id, ARN: profileARN, Type: typ}
	if id == "" {
		return p, errors.New("inferenceProfileId is empty")
	}
	for i, m := range models {
		a, err := arn.Parse(aws.ToString(m.ModelArn))
		model, ok := strings.CutPrefix(a.Resource, "foundation-model/")
		if err != nil || !ok || model == "" {
			return p, fmt.Errorf("models[%d].modelArn %q is not a foundation model ARN", i, aws.ToString(m.ModelArn))
		}
		if p.Model == "" {
			p.Model = model
		}
		region := regionName(a.Region)
		if region == "" {
			// A global profile's region-less model ARN: the global hop.
			// ledger: BR-global-profile-models
			region = GlobalDestination
		}
		if !slices.Contains(p.Destinations, region) {
			p.Destinations = append(p.Destinations, region)
		}
	}
	if p.Model == "" {
		return p, fmt.Errorf("profile %s has no models", id)
	}
	return p, nil
}

// regionName returns the one shared copy of a known region's name. A
// region cut from a model ARN would keep the whole ARN alive in every
// result that lists it: at 1,000 accounts x 20 regions, tens of megabytes.
func regionName(r string) string {
	if i, ok := slices.BinarySearch(knownRegions, r); ok {
		return knownRegions[i]
	}
	return strings.Clone(r)
}

var knownRegions = config.KnownRegions() // sorted

// Form is what GetUseCaseForModelAccess said of the account's Anthropic
// first-time-use form.
type Form struct {
	Found bool
	// Err is set when the form could not be read; Found is then unknown.
	Err error
	// Region is where the form was read when it covers that region alone:
	// an opt-in region (OptIn), which needs its own form, or a region whose
	// opt-in status is not known. Empty, the form covers the account's
	// commercial regions.
	Region string
	OptIn  bool
}

// UseCaseForm reads whether the account has the Anthropic use-case form: its
// own or the management account's. Bedrock answers ResourceNotFoundException
// when there is none (the one not-found error the API reference lists for
// the operation; that it means "no form" is inferred).
func UseCaseForm(ctx context.Context, api UseCaseGetter) Form {
	out, err := api.GetUseCaseForModelAccess(ctx, &bedrock.GetUseCaseForModelAccessInput{})
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.ErrorCode() == "ResourceNotFoundException":
		return Form{}
	case err != nil:
		return Form{Err: fmt.Errorf("get use case for model access: %w", err)}
	case len(out.FormData) == 0:
		return Form{Err: errors.New("get use case for model access: the answer has no formData")}
	}
	return Form{Found: true}
}

// anthropic reports whether model is one of Anthropic's, which need the
// first-time-use form. Inference profile ids carry a geography prefix.
func anthropic(model string) bool {
	return strings.HasPrefix(model, "anthropic.") || strings.Contains(model, ".anthropic.")
}
