package config

import (
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// ModelKind is how an application names a model to Bedrock.
type ModelKind string

// The kinds of required model ids.
const (
	// BaseModel is a foundation model id such as anthropic.claude-3-5-sonnet-20240620-v1:0.
	BaseModel ModelKind = "model"
	// SystemProfile is a cross-region inference profile Bedrock defines, such
	// as us.anthropic.claude-sonnet-4-5-20250929-v1:0, or its ARN.
	SystemProfile ModelKind = "inference-profile"
	// ApplicationProfile is an inference profile an account created, named by its ARN.
	ApplicationProfile ModelKind = "application-inference-profile"
)

// Model is a required model id, parsed.
type Model struct {
	// ID is the id as configured, and as results name it.
	ID   string
	Kind ModelKind
	// ProfileID is a system profile's id (also when configured as an ARN).
	ProfileID string
	// Geography is a system profile's prefix: us, eu, apac, global and so on.
	Geography string
	// Region, Account and Partition are an ARN's; an ARN applies to its own
	// account and region only.
	Region, Account, Partition string
}

// geographies are the prefixes of system inference profile ids (Bedrock user
// guide, "Supported Regions and models for inference profiles"); us-gov
// before us so that the longer prefix wins.
var geographies = []string{"us-gov", "us", "eu", "apac", "jp", "au", "ca", "global"}

// ParseModel tells a base model id, a system profile id and a profile ARN apart.
func ParseModel(id string) (Model, error) {
	m := Model{ID: id, Kind: BaseModel}
	if strings.HasPrefix(id, "arn:") {
		a, err := arn.Parse(id)
		if err != nil {
			return m, fmt.Errorf("%q is not an ARN: %w", id, err)
		}
		kind, rest, _ := strings.Cut(a.Resource, "/")
		if a.Service != "bedrock" || rest == "" || (kind != string(SystemProfile) && kind != string(ApplicationProfile)) {
			return m, fmt.Errorf("%q is not an inference profile ARN (arn:aws:bedrock:REGION:ACCOUNT:inference-profile/ID or application-inference-profile/ID)", id)
		}
		if !ValidAccountID(a.AccountID) || !KnownRegion(a.Region) {
			return m, fmt.Errorf("%q names no known region and 12-digit account", id)
		}
		m.Kind, m.Region, m.Account, m.Partition = ModelKind(kind), a.Region, a.AccountID, a.Partition
		if m.Kind == SystemProfile {
			m.ProfileID = rest
			m.Geography = geography(rest)
		}
		return m, nil
	}
	if g := geography(id); g != "" {
		m.Kind, m.ProfileID, m.Geography = SystemProfile, id, g
	}
	return m, nil
}

// IsProfile reports whether the id names an inference profile.
func (m Model) IsProfile() bool { return m.Kind != BaseModel }

// AppliesTo reports whether the model is checked in account and region: an
// ARN only in its own.
func (m Model) AppliesTo(account, region string) bool {
	return m.Region == "" || (m.Region == region && m.Account == account)
}

func geography(id string) string {
	for _, g := range geographies {
		if strings.HasPrefix(id, g+".") {
			return g
		}
	}
	return ""
}

// RegionGeography is the profile prefix of a region's own geography ("" when
// none is known): the one to suggest besides global.
func RegionGeography(region string) string {
	for _, p := range []struct{ prefix, geo string }{
		{"us-gov-", "us-gov"}, {"us-", "us"}, {"ca-", "us"}, {"eu-", "eu"}, {"ap-", "apac"},
	} {
		if strings.HasPrefix(region, p.prefix) {
			return p.geo
		}
	}
	return ""
}

// ServedFrom reports whether a profile of geography g can exist in region:
// false only when it surely cannot (an eu. profile in us-east-1), true when
// the region's geography is not known here.
func ServedFrom(g, region string) bool {
	prefixes := map[string][]string{
		"us": {"us-east-", "us-west-", "ca-"}, "us-gov": {"us-gov-"}, "ca": {"ca-"},
		"eu": {"eu-"}, "apac": {"ap-"}, "jp": {"ap-"}, "au": {"ap-"},
	}[g]
	known := RegionGeography(region) != ""
	if prefixes == nil || !known {
		return true
	}
	for _, p := range prefixes {
		if strings.HasPrefix(region, p) {
			return true
		}
	}
	return false
}
