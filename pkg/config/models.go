package config

import (
	"fmt"
	"maps"
	"slices"
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

// Models says which models must be usable. The lists add up: an account must
// have the global models, those of every OU above it and its own.
type Models struct {
	Required  []string            `yaml:"required"`
	ByOU      map[string][]string `yaml:"by_ou"`
	ByAccount map[string][]string `yaml:"by_account"`
}

// validateModels checks every list of required models: the ids, the region
// and partition of ARNs, and where an inference profile ARN may be required.
func (c *Config) validateModels(bad badFunc) {
	checkModels := func(field string, ids []string) {
		if len(ids) == 0 {
			bad(field, "empty model list")
		}
		for i, m := range ids {
			f := fmt.Sprintf("%s[%d]", field, i)
			if !modelIDPattern.MatchString(m) {
				bad(f, "%q is not a model id such as anthropic.claude-3-5-sonnet-20240620-v1:0, an inference profile id such as us.anthropic.claude-sonnet-4-5-20250929-v1:0, or an inference profile ARN", m)
				continue
			}
			ref, err := ParseModel(m)
			switch {
			case err != nil:
				bad(f, "%v", err)
			case ref.Region != "" && !slices.Contains(c.Regions, ref.Region):
				bad(f, "the ARN's region %s is not among regions %v: it would never be checked", ref.Region, c.Regions)
			case ref.Partition != "" && len(c.Regions) > 0 && ref.Partition != Partition(c.Regions[0]):
				bad(f, "the ARN is in partition %s, the audited regions in %s", ref.Partition, Partition(c.Regions[0]))
			}
		}
	}
	if len(c.Models.Required) == 0 && len(c.Models.ByOU) == 0 && len(c.Models.ByAccount) == 0 {
		bad("models.required", "empty model list: require at least one model")
	}
	if len(c.Models.Required) > 0 {
		checkModels("models.required", c.Models.Required)
	}
	scoped(bad, "models", c.Models.ByOU, c.Models.ByAccount, checkModels)
	c.checkPinnedModels(bad)
}

// checkPinnedModels: an inference profile ARN names its account, and only
// that account can call it (an application profile is the account's own; a
// system profile's ARN carries the caller's account). Required anywhere
// but models.by_account[its account], or for an account never audited, it
// would be checked nowhere or reported for accounts that cannot call it:
// each such place is a configuration error.
func (c *Config) checkPinnedModels(bad badFunc) {
	advice := func(ref Model) string {
		if ref.Kind == SystemProfile {
			return fmt.Sprintf("require the profile id %s instead, which every account calls by that id", ref.ProfileID)
		}
		return fmt.Sprintf("list it under models.by_account[%s]", ref.Account)
	}
	pinned := func(field string, ids []string, owner string) {
		for i, m := range ids {
			ref, err := ParseModel(m)
			if err != nil || ref.Account == "" {
				continue
			}
			f := fmt.Sprintf("%s[%d]", field, i)
			switch {
			case owner == "":
				bad(f, "the inference profile ARN %s belongs to account %s and can be called only there, but %s requires it of every account in scope: %s", m, ref.Account, field, advice(ref))
			case owner != ref.Account:
				bad(f, "the inference profile ARN %s belongs to account %s, not %s, which cannot call it: %s", m, ref.Account, owner, advice(ref))
			case slices.Contains(c.Accounts.Exclude, owner):
				bad(f, "account %s is in accounts.exclude, so its inference profile ARN %s would never be checked", owner, m)
			case !c.Accounts.Organizations.Enabled && !slices.Contains(c.Accounts.Static, owner):
				bad(f, "account %s is not in accounts.static (and accounts.organizations is not enabled), so its inference profile ARN %s would never be checked", owner, m)
			}
		}
	}
	pinned("models.required", c.Models.Required, "")
	for _, ou := range slices.Sorted(maps.Keys(c.Models.ByOU)) {
		pinned(fmt.Sprintf("models.by_ou[%s]", ou), c.Models.ByOU[ou], "")
	}
	for _, id := range slices.Sorted(maps.Keys(c.Models.ByAccount)) {
		pinned(fmt.Sprintf("models.by_account[%s]", id), c.Models.ByAccount[id], id)
	}
}
