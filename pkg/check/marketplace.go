package check

import (
	_ "embed"
	"encoding/json"
	"slices"
)

// marketplaceData is AWS's list of Bedrock model product ids and of the
// providers not sold through AWS Marketplace, with its source.
// ledger: MP-product-id, MP-not-sold-providers
//
//go:embed data/marketplace.json
var marketplaceData []byte

var notSoldProviders, productIDs = loadMarketplace(marketplaceData)

func loadMarketplace(b []byte) ([]string, map[string]string) {
	var d struct {
		Source         string `json:"source"`
		NotSoldThrough struct {
			Providers []string `json:"providers"`
		} `json:"not_sold_through_marketplace"`
		ProductIDs map[string]string `json:"product_ids"`
	}
	if err := json.Unmarshal(b, &d); err != nil || d.Source == "" {
		// Embedded: TestMarketplaceData keeps a broken file from a release.
		return nil, nil
	}
	return d.NotSoldThrough.Providers, d.ProductIDs
}

// notSoldThroughMarketplace reports whether AWS documents the provider's
// models as not sold through AWS Marketplace: they need no Marketplace
// permission.
func notSoldThroughMarketplace(provider string) bool {
	return slices.Contains(notSoldProviders, provider)
}
