package check_test

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrock/types"

	"github.com/grantwatch/grantwatch/pkg/check"
)

func ExampleClassify() {
	r := check.Classify(check.Evidence{
		Account: "111111111111",
		Region:  "us-east-1",
		Model:   "anthropic.claude-3-5-sonnet-20240620-v1:0",
		Catalog: check.Catalog{"anthropic.claude-3-5-sonnet-20240620-v1:0": {Provider: "Anthropic", Lifecycle: types.FoundationModelLifecycleStatusActive}},
		Availability: &bedrock.GetFoundationModelAvailabilityOutput{
			AgreementAvailability:   &types.AgreementAvailability{Status: types.AgreementStatusAvailable},
			AuthorizationStatus:     types.AuthorizationStatusNotAuthorized,
			EntitlementAvailability: types.EntitlementAvailabilityAvailable,
			RegionAvailability:      types.RegionAvailabilityAvailable,
		},
		// GetUseCaseForModelAccess answered ResourceNotFoundException.
		Form: &check.Form{Found: false},
	})
	fmt.Println(r.Status)
	fmt.Println(r.Cause)
	// Output:
	// NOT_AUTHORIZED
	// GetFoundationModelAvailability: authorizationStatus=NOT_AUTHORIZED; use-case form: missing (GetUseCaseForModelAccess: ResourceNotFoundException)
}
