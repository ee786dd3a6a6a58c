// The run's Bedrock reads on the direct path (lean.go):
// GetFoundationModelAvailability, ListFoundationModels and
// ListInferenceProfiles.

package check

import (
	"context"
	"net/url"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/smithy-go/encoding/httpbinding"
)

// directBedrock is a *bedrock.Client whose three most frequent reads take
// the direct path; every other operation is the SDK's.
type directBedrock struct {
	*bedrock.Client
	d *direct
}

var _ BedrockAPI = (*directBedrock)(nil)

const opAvailability = "GetFoundationModelAvailability"

func bedrockHTTP(o *bedrock.Options, wrap func(aws.HTTPClient) aws.HTTPClient) {
	o.HTTPClient = wrap(o.HTTPClient)
}

func (c *directBedrock) GetFoundationModelAvailability(ctx context.Context, in *bedrock.GetFoundationModelAvailabilityInput, optFns ...func(*bedrock.Options)) (*bedrock.GetFoundationModelAvailabilityOutput, error) {
	if len(optFns) > 0 || in == nil || aws.ToString(in.ModelId) == "" || c.d.state.off.Load() {
		return c.Client.GetFoundationModelAvailability(ctx, in, optFns...)
	}
	// The SDK's path label: every byte but the unreserved ones escaped,
	// "/" too (restJson1 modelId is a non-greedy label).
	suffix := "/foundation-model-availability/" + httpbinding.EscapePath(*in.ModelId, true)
	return directCall(ctx, c.d, opAvailability, suffix, "", nil, func(b []byte) (*bedrock.GetFoundationModelAvailabilityOutput, error) {
		return decodeAvailability(b, c.d.state.strs)
	},
		func(opts ...func(*bedrock.Options)) (*bedrock.GetFoundationModelAvailabilityOutput, error) {
			return c.Client.GetFoundationModelAvailability(ctx, in, opts...)
		}, bedrockHTTP)
}

// decodeAvailability decodes the answer Bedrock sends: one JSON object
// whose members are strings or null, agreementAvailability an object of
// the same (ledger: PROTO-bedrock-availability-wire). As the
// SDK's deserializer: a null member is left unset, a string is set (the
// enums as their type), an object is a new AgreementAvailability. Anything
// else (an unknown member, a duplicate, an escape, a non-ASCII byte, text
// after the object, ...) is errNotDirect, and the SDK decodes it.
func decodeAvailability(b []byte, strs *interner) (*bedrock.GetFoundationModelAvailabilityOutput, error) {
	s := jsonScan{b: b, strs: strs}
	out := &bedrock.GetFoundationModelAvailabilityOutput{}
	err := s.whole(func() error {
		return s.object(func(key string) (uint32, error) {
			switch key {
			case "modelId":
				return 1, s.strPtr(&out.ModelId)
			case "authorizationStatus":
				return 2, enum(&s, &out.AuthorizationStatus)
			case "entitlementAvailability":
				return 4, enum(&s, &out.EntitlementAvailability)
			case "regionAvailability":
				return 8, enum(&s, &out.RegionAvailability)
			case "agreementAvailability":
				return 16, s.optional(func() error {
					a := &types.AgreementAvailability{}
					out.AgreementAvailability = a
					return s.object(func(key string) (uint32, error) {
						switch key {
						case "status":
							return 1, enum(&s, &a.Status)
						case "errorMessage":
							return 2, s.strPtr(&a.ErrorMessage)
						}
						return 0, notDirect("member "+key, s.pos)
					})
				})
			}
			return 0, notDirect("member "+key, s.pos)
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

const opModels = "ListFoundationModels"

func (c *directBedrock) ListFoundationModels(ctx context.Context, in *bedrock.ListFoundationModelsInput, optFns ...func(*bedrock.Options)) (*bedrock.ListFoundationModelsOutput, error) {
	// Only the unfiltered list, the one the audit asks for.
	if len(optFns) > 0 || in == nil || *in != (bedrock.ListFoundationModelsInput{}) || c.d.state.off.Load() {
		return c.Client.ListFoundationModels(ctx, in, optFns...)
	}
	return directCall(ctx, c.d, opModels, "/foundation-models", "", nil, func(b []byte) (*bedrock.ListFoundationModelsOutput, error) { return decodeModels(b, c.d.state.strs) },
		func(opts ...func(*bedrock.Options)) (*bedrock.ListFoundationModelsOutput, error) {
			return c.Client.ListFoundationModels(ctx, in, opts...)
		}, bedrockHTTP)
}

// decodeModels decodes ListFoundationModels' answer as the SDK's
// deserializer does (ledger: PROTO-bedrock-list-wire): modelSummaries, a
// list of FoundationModelSummary objects; strings, booleans, lists of
// strings and the lifecycle's date-time strings (smithy's ParseDateTime,
// the SDK's own), each null left unset, each list element null the zero
// value, an empty list empty but not nil.
func decodeModels(b []byte, strs *interner) (*bedrock.ListFoundationModelsOutput, error) {
	s := jsonScan{b: b, strs: strs}
	out := &bedrock.ListFoundationModelsOutput{}
	err := s.whole(func() error {
		return s.object(func(key string) (uint32, error) {
			if key != "modelSummaries" {
				return 0, notDirect("member "+key, s.pos)
			}
			return 1, s.optional(func() error {
				out.ModelSummaries = []types.FoundationModelSummary{}
				return s.array(func() error {
					var m types.FoundationModelSummary
					err := s.optional(func() error { return modelSummary(&s, &m) })
					out.ModelSummaries = append(out.ModelSummaries, m)
					return err
				})
			})
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func modelSummary(s *jsonScan, m *types.FoundationModelSummary) error {
	return s.object(func(key string) (uint32, error) {
		switch key {
		case "customizationsSupported":
			return 1, list(s, &m.CustomizationsSupported)
		case "inferenceTypesSupported":
			return 2, list(s, &m.InferenceTypesSupported)
		case "inputModalities":
			return 4, list(s, &m.InputModalities)
		case "outputModalities":
			return 8, list(s, &m.OutputModalities)
		case "modelArn":
			return 16, s.strPtr(&m.ModelArn)
		case "modelId":
			return 32, s.strPtr(&m.ModelId)
		case "modelName":
			return 64, s.strPtr(&m.ModelName)
		case "providerName":
			return 128, s.strPtr(&m.ProviderName)
		case "responseStreamingSupported":
			return 256, s.boolPtr(&m.ResponseStreamingSupported)
		case "modelLifecycle":
			return 512, s.optional(func() error {
				lc := &types.FoundationModelLifecycle{}
				m.ModelLifecycle = lc
				return s.object(func(key string) (uint32, error) {
					switch key {
					case "status":
						return 1, enum(s, &lc.Status)
					case "startOfLifeTime":
						return 2, s.timePtr(&lc.StartOfLifeTime)
					case "endOfLifeTime":
						return 4, s.timePtr(&lc.EndOfLifeTime)
					case "legacyTime":
						return 8, s.timePtr(&lc.LegacyTime)
					case "publicExtendedAccessTime":
						return 16, s.timePtr(&lc.PublicExtendedAccessTime)
					}
					return 0, notDirect("member "+key, s.pos)
				})
			})
		}
		return 0, notDirect("member "+key, s.pos)
	})
}

const opProfiles = "ListInferenceProfiles"

func (c *directBedrock) ListInferenceProfiles(ctx context.Context, in *bedrock.ListInferenceProfilesInput, optFns ...func(*bedrock.Options)) (*bedrock.ListInferenceProfilesOutput, error) {
	if len(optFns) > 0 || in == nil || c.d.state.off.Load() {
		return c.Client.ListInferenceProfiles(ctx, in, optFns...)
	}
	// The SDK's query: each set member under its wire name, encoded as
	// url.Values encodes (httpbinding.Encoder); the signer then writes it
	// in its canonical form, for both alike.
	q := url.Values{}
	if in.MaxResults != nil {
		q["maxResults"] = []string{strconv.FormatInt(int64(*in.MaxResults), 10)}
	}
	if in.NextToken != nil {
		q["nextToken"] = []string{*in.NextToken}
	}
	if len(in.TypeEquals) > 0 {
		q["type"] = []string{string(in.TypeEquals)}
	}
	return directCall(ctx, c.d, opProfiles, "/inference-profiles", q.Encode(), nil, func(b []byte) (*bedrock.ListInferenceProfilesOutput, error) { return decodeProfiles(b, c.d.state.strs) },
		func(opts ...func(*bedrock.Options)) (*bedrock.ListInferenceProfilesOutput, error) {
			return c.Client.ListInferenceProfiles(ctx, in, opts...)
		}, bedrockHTTP)
}

// decodeProfiles decodes ListInferenceProfiles' answer as the SDK's
// deserializer does (ledger: PROTO-bedrock-list-wire).
func decodeProfiles(b []byte, strs *interner) (*bedrock.ListInferenceProfilesOutput, error) {
	s := jsonScan{b: b, strs: strs}
	out := &bedrock.ListInferenceProfilesOutput{}
	err := s.whole(func() error {
		return s.object(func(key string) (uint32, error) {
			switch key {
			case "nextToken":
				return 1, s.strPtr(&out.NextToken)
			case "inferenceProfileSummaries":
				return 2, s.optional(func() error {
					out.InferenceProfileSummaries = []types.InferenceProfileSummary{}
					return s.array(func() error {
						var p types.InferenceProfileSummary
						err := s.optional(func() error { return profileSummary(&s, &p) })
						out.InferenceProfileSummaries = append(out.InferenceProfileSummaries, p)
						return err
					})
				})
			}
			return 0, notDirect("member "+key, s.pos)
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func profileSummary(s *jsonScan, p *types.InferenceProfileSummary) error {
	return s.object(func(key string) (uint32, error) {
		switch key {
		case "createdAt":
			return 1, s.timePtr(&p.CreatedAt)
		case "updatedAt":
			return 2, s.timePtr(&p.UpdatedAt)
		case "description":
			return 4, s.strPtr(&p.Description)
		case "inferenceProfileArn":
			return 8, s.strPtr(&p.InferenceProfileArn)
		case "inferenceProfileId":
			return 16, s.strPtr(&p.InferenceProfileId)
		case "inferenceProfileName":
			return 32, s.strPtr(&p.InferenceProfileName)
		case "status":
			return 64, enum(s, &p.Status)
		case "type":
			return 128, enum(s, &p.Type)
		case "models":
			return 256, s.optional(func() error {
				p.Models = []types.InferenceProfileModel{}
				return s.array(func() error {
					var m types.InferenceProfileModel
					err := s.optional(func() error {
						return s.object(func(key string) (uint32, error) {
							if key != "modelArn" {
								return 0, notDirect("member "+key, s.pos)
							}
							return 1, s.strPtr(&m.ModelArn)
						})
					})
					p.Models = append(p.Models, m)
					return err
				})
			})
		}
		return 0, notDirect("member "+key, s.pos)
	})
}
