package check

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/grantwatch/grantwatch/pkg/devtools/docsection"
)

// memberInterfaces are the consumer interfaces the member role's
// credentials call, by the IAM prefix of their service.
var memberInterfaces = map[string]reflect.Type{
	"bedrock": reflect.TypeFor[BedrockAPI](),
	"account": reflect.TypeFor[RegionLister](),
	"iam":     reflect.TypeFor[IAMAPI](),
}

// Every method of a member-role interface has exactly one permission row in
// its file's table, and every row is a method: a new call without its
// permission (or a permission nothing calls) fails here, before the
// template tests in ./infra. An IAM action is the operation's name with
// the service's prefix (Service Authorization Reference) for each of them.
func TestEveryMethodHasOnePermissionRow(t *testing.T) {
	tables := memberActionTables()
	if len(tables) != len(memberInterfaces) {
		t.Errorf("got %d permission tables; want one per member-role interface (%d)", len(tables), len(memberInterfaces))
	}
	total := 0
	for _, table := range tables {
		iface, ok := memberInterfaces[table.prefix]
		if !ok {
			t.Errorf("%s: a permission table without its interface in memberInterfaces", table.prefix)
			continue
		}
		rows := map[string]int{}
		for _, a := range table.actions() {
			rows[a.Action]++
			total++
			if !strings.HasPrefix(a.Action, table.prefix+":") {
				t.Errorf("%s: in the %s table; want only %s: actions there", a.Action, table.prefix, table.prefix)
			}
		}
		methods := map[string]bool{}
		for i := range iface.NumMethod() {
			action := table.prefix + ":" + iface.Method(i).Name
			methods[action] = true
			if rows[action] != 1 {
				t.Errorf("%v.%s: got %d rows for %s; want exactly one", iface, iface.Method(i).Name, rows[action], action)
			}
		}
		for action := range rows {
			if !methods[action] {
				t.Errorf("%s: a permission row without a method in %v; want the call it grants", action, iface)
			}
		}
	}
	if got := len(MemberReadActions()); got != total {
		t.Errorf("MemberReadActions: got %d rows; want the tables' %d", got, total)
	}
}

// memberScopeResource is what the deploy page says each scope grants on.
var memberScopeResource = map[MemberScope]string{
	ScopeAny:                    "`*`",
	ScopeOwnApplicationProfiles: "`arn:PARTITION:bedrock:*:ACCOUNT:application-inference-profile/*`",
	ScopeOwnAccount:             "the account's own `arn:<partition>:account::<account>:account`",
	ScopeOwnRoles:               "`arn:PARTITION:iam::ACCOUNT:role/*`",
}

// memberGrantText is what the deploy page says of an action granted only
// for some configurations.
var memberGrantText = map[MemberGrant]string{
	GrantAlways:            "",
	GrantWithPrincipals:    "only when `principals` are configured: ",
	GrantWithPrincipalTags: "only when a principal set uses `tag`: ",
}

// The deploy page's tables of the member role's read actions are
// MemberReadActions, row for row: the ones every stack grants in the
// member-actions section, those granted with principals in the
// principal-actions one. So a new AWS call cannot be deployed
// undocumented; -update rewrites them.
func TestDeployPageMatchesMemberReadActions(t *testing.T) {
	const header = "| action | resource | why |\n|---|---|---|\n"
	always, principals := strings.Builder{}, strings.Builder{}
	always.WriteString(header)
	principals.WriteString(header)
	for _, a := range MemberReadActions() {
		resource, ok := memberScopeResource[a.Scope]
		if !ok {
			t.Fatalf("%s: scope %q has no text in memberScopeResource; want what it grants on", a.Action, a.Scope)
		}
		when, ok := memberGrantText[a.When]
		if !ok {
			t.Fatalf("%s: grant %q has no text in memberGrantText; want when the stack grants it", a.Action, a.When)
		}
		if a.Why == "" {
			t.Errorf("%s: empty Why; want what the audit needs it for", a.Action)
		}
		b := &always
		if a.When != GrantAlways {
			b = &principals
		}
		fmt.Fprintf(b, "| `%s` | %s | %s%s |\n", a.Action, resource, when, a.Why)
	}
	docsection.Check(t, "../../docs/deploying.md", "member-actions", always.String())
	docsection.Check(t, "../../docs/deploying.md", "principal-actions", principals.String())
}
