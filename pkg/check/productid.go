package check

// MarketplaceProductID is the AWS Marketplace product id of a foundation
// model, from the Bedrock user guide's list (data/marketplace.json; ledger
// MP-product-id), and whether the list has it. The remediation role scopes
// aws-marketplace:Subscribe with it.
func MarketplaceProductID(model string) (string, bool) {
	id, ok := productIDs[model]
	return id, ok
}
