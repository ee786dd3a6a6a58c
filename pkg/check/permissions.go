// The member (audit) role's permissions: each caller file declares the
// read actions of its own interface, beside it (bedrock.go, account.go,
// iam.go), and MemberReadActions assembles them for the member stack
// (infra), the AccessDenied remediation and the deploy page.

package check

import "strings"

// MemberScope is what the member (audit) role grants an action on.
type MemberScope string

// The scopes of the member role's read actions.
const (
	// ScopeAny is "*": the Service Authorization Reference lists no resource
	// type for the action, so nothing narrower works.
	ScopeAny MemberScope = "*"
	// ScopeOwnApplicationProfiles is the account's own application inference
	// profiles, in any region.
	ScopeOwnApplicationProfiles MemberScope = "application-inference-profile"
	// ScopeOwnAccount is the account's own account ARN.
	ScopeOwnAccount MemberScope = "account"
	// ScopeOwnRoles is the account's own IAM roles.
	ScopeOwnRoles MemberScope = "role"
)

// MemberGrant is when the member stack grants an action.
type MemberGrant string

// The member stack grants an action always, or only for the configuration
// that makes the audit call it.
const (
	// GrantAlways: every audit calls it.
	GrantAlways MemberGrant = ""
	// GrantWithPrincipals: only with principals configured.
	GrantWithPrincipals MemberGrant = "principals"
	// GrantWithPrincipalTags: only when a principal set selects roles by
	// tag.
	GrantWithPrincipalTags MemberGrant = "principal tags"
)

// MemberAction is one read the member role allows, on what and when.
type MemberAction struct {
	Action string
	Scope  MemberScope
	When   MemberGrant
	// Why is what the audit needs it for, the deploy page's "why" column
	// (docs/deploying.md's member-actions and principal-actions sections are
	// generated from these rows: go test ./pkg/check -run DeployPage -update).
	Why string
}

// MemberReadActions are the calls grantwatch makes with the audit role in a
// member account, one row per method of the consumer interfaces BedrockAPI,
// RegionLister and IAMAPI, in the order a check makes them: the one list
// the member stack grants (infra), the AccessDenied remediation names and
// the deploy page's tables are generated from
// (TestDeployPageMatchesMemberReadActions).
func MemberReadActions() []MemberAction {
	var out []MemberAction
	for _, rows := range memberActionTables() {
		out = append(out, rows.actions()...)
	}
	return out
}

// memberActionTable is one consumer interface's permission rows, with the
// IAM prefix of its service.
type memberActionTable struct {
	prefix  string
	actions func() []MemberAction
}

// memberActionTables are the caller files' tables, in the order a check
// calls them; TestEveryMethodHasOnePermissionRow holds each to its
// interface.
func memberActionTables() []memberActionTable {
	return []memberActionTable{
		{prefix: "bedrock", actions: bedrockReadActions},
		{prefix: "account", actions: accountReadActions},
		{prefix: "iam", actions: iamReadActions},
	}
}

// MemberActions are the member role's read actions that keep, in the order
// of MemberReadActions.
func MemberActions(keep func(MemberAction) bool) []string {
	var out []string
	for _, a := range MemberReadActions() {
		if keep(a) {
			out = append(out, a.Action)
		}
	}
	return out
}

// MemberActionsOf are the member role's read actions of one service
// ("bedrock"), in the order of MemberReadActions.
func MemberActionsOf(service string) []string {
	return MemberActions(func(a MemberAction) bool { return strings.HasPrefix(a.Action, service+":") })
}
