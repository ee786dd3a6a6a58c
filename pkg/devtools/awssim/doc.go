// Package awssim is a local HTTP simulator of the AWS APIs grantwatch calls:
// STS (AssumeRole, GetCallerIdentity; query protocol), Organizations (the
// tree, accounts and tags; JSON 1.1, paginated) and the Bedrock control
// plane (ListFoundationModels, GetFoundationModelAvailability,
// ListInferenceProfiles, GetInferenceProfile, GetUseCaseForModelAccess;
// REST-JSON) and the Account Management API (ListRegions,
// GetRegionOptStatus; REST-JSON).
// The real aws-sdk-go-v2 clients talk to it through AWS_ENDPOINT_URL.
//
// It verifies every SigV4 signature, knows the calling account from the
// access key it issued, and answers from a [Scenario]: the organization,
// the model catalog with its inference types and profiles, use-case forms,
// model states per account and region, its clock, latency, throttling and
// faults. Each
// behaviour names its source (API reference, SDK deserializer, a public
// report) in a comment, and says so where it is inferred.
//
// It is a test and demo fixture that ships with the binary: `grantwatch sim`
// serves it, and `grantwatch demo` audits [Demo], its built-in organization.
package awssim
