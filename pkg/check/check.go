// Package check runs the checks of a run's plan: it assumes the audit role
// once in each account, asks the Bedrock control plane about every required
// model in every region with bounded concurrency, and turns the answers into
// results: a status, the signal that decided it, and what a person should do.
//
// [Checker.Check] is the run; [Classify] is the verdict on one model's
// evidence.
package check

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrock/types"
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

// BedrockAPI is all a check needs from Bedrock.
type BedrockAPI interface {
	ModelLister
	AvailabilityGetter
}

var _ BedrockAPI = (*bedrock.Client)(nil)

// Model is what ListFoundationModels says of one model in one region.
type Model struct {
	Provider  string
	Lifecycle types.FoundationModelLifecycleStatus
	LegacyAt  *time.Time
	EndOfLife *time.Time
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

// anthropic reports whether model is one of Anthropic's, which need the
// first-time-use form. Inference profile ids carry a geography prefix.
func anthropic(model string) bool {
	return strings.HasPrefix(model, "anthropic.") || strings.Contains(model, ".anthropic.")
}
