// Package check runs the checks of a run's plan: it assumes the audit role
// once in each account, asks the Bedrock control plane about every required
// model in every region with bounded concurrency, and turns the answers into
// results: a status, the signal that decided it, and what a person should do.
//
// A required id may be a base model, a system inference profile or a profile
// ARN: a profile is resolved in its source region (ListInferenceProfiles,
// GetInferenceProfile) and checked through the model it routes to. For
// Anthropic models the account's use-case form is read once per run
// (GetUseCaseForModelAccess) and decides what NOT_AUTHORIZED means.
//
// [Checker.Check] is the run; [Classify] is the verdict on one model's
// evidence.
package check
