package config

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// unknownKeys is a file of n top-level keys grantwatch does not know.
func unknownKeys(n int) []byte {
	var b strings.Builder
	b.WriteString(minimal)
	for i := range n {
		fmt.Fprintf(&b, "unknown_%07d: x\n", i)
	}
	return []byte(b.String())
}

// A megabyte of unknown keys is refused with a short error that names 20
// of them and counts the rest, instead of listing all (an error of a
// megabyte) after yaml.v3's quadratic duplicate check (most of a minute).
func TestParseRefusesAMegabyteOfUnknownKeysShortly(t *testing.T) {
	n := (MaxFileBytes - len(minimal)) / len("unknown_0000000: x\n")
	b := unknownKeys(n)
	if len(b) > MaxFileBytes || len(b) < MaxFileBytes-100 {
		t.Fatalf("fixture: got %d bytes; want just under %d", len(b), MaxFileBytes)
	}
	_, err := Parse(b)
	if err == nil {
		t.Fatal("got no error; want the unknown keys refused")
	}
	msg := err.Error()
	if got := strings.Count(msg, "not found"); got != maxKeysListed {
		t.Errorf("keys named: got %d; want %d", got, maxKeysListed)
	}
	if want := fmt.Sprintf("and %d more", n-maxKeysListed); !strings.Contains(msg, want) {
		t.Errorf("error %q: want it to count the rest, %q", clip(msg), want)
	}
	if !strings.Contains(msg, "line 7: field unknown_0000000 not found in the top level") {
		t.Errorf("error %q: want the first key named with its line", clip(msg))
	}
	if len(msg) > 4096 {
		t.Errorf("error: got %d bytes; want at most 4096", len(msg))
	}
}

// BenchmarkParseUnknownKeys measures refusing a megabyte of unknown keys:
// linear, a fraction of a second (quadratic, it took 43-52 s).
func BenchmarkParseUnknownKeys(b *testing.B) {
	in := unknownKeys((MaxFileBytes - len(minimal)) / len("unknown_0000000: x\n"))
	for b.Loop() {
		if _, err := Parse(in); err == nil {
			b.Fatal("no error")
		}
	}
}

// Duplicate keys are found with a set per mapping, named with both lines.
func TestParseRefusesRepeatedKeys(t *testing.T) {
	_, err := Parse([]byte(minimal + "role:\n  name: A\n  name: B\n"))
	if err == nil || !strings.Contains(err.Error(), `line 9: key "name" of role already defined at line 8`) {
		t.Errorf("got %v; want the repeated key named with both lines", err)
	}
}

// checkKeys walks the tree once: the work is the number of keys, whatever
// their number, and a mapping larger than MaxMappingKeys is refused before
// yaml.v3 compares its keys pairwise.
func TestParseRefusesAnOversizedMapping(t *testing.T) {
	var b strings.Builder
	b.WriteString(minimal + "  by_account:\n")
	for i := range MaxMappingKeys + 1 {
		fmt.Fprintf(&b, "    \"%012d\": [amazon.nova-pro-v1:0]\n", i)
	}
	_, err := Parse([]byte(b.String()))
	want := fmt.Sprintf("models.by_account has %d keys, more than %d", MaxMappingKeys+1, MaxMappingKeys)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v; want %q", err, want)
	}
}

func list(prefix string, n int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return "[" + strings.Join(items, ", ") + "]"
}

func accounts(n int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf("%q", fmt.Sprintf("%012d", i+1))
	}
	return "[" + strings.Join(items, ", ") + "]"
}

// Hostile sizes fail in validation, naming the field and the limit.
func TestParseRefusesHostileSizes(t *testing.T) {
	suppression := "{account: \"111111111111\", reason: r, owner: o, until: 2027-01-01}"
	many := func(item string, n int) string { return "[" + strings.Repeat(item+", ", n-1) + item + "]" }
	base := "accounts:\n  static: [\"111111111111\"]\nregions: [us-east-1]\n"
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{name: "too many required models", yaml: base + "models:\n  required: " + list("amazon.model-", MaxModelsPerList+1) + "\n",
			want: "models.required: 501 model ids, more than 500 (config.MaxModelsPerList)"},
		{name: "too many distinct models", yaml: base + "models:\n  required: [m]\n  by_account:\n" + func() string {
			var b strings.Builder
			for i := range 41 {
				fmt.Fprintf(&b, "    \"%012d\": %s\n", i+1, list(fmt.Sprintf("a%d.m-", i), 500))
			}
			return b.String()
		}(), want: "models: 20501 distinct model ids, more than 20000 (config.MaxModelIDs)"},
		{name: "too many principals in a set", yaml: minimal + "principals:\n  roles: " + list("Role", MaxPrincipalsPerSet+1) + "\n",
			want: "principals: 101 roles and ARN templates, more than 100 (config.MaxPrincipalsPerSet)"},
		{name: "too many principals in all", yaml: minimal + "principals:\n  by_account:\n" + func() string {
			var b strings.Builder
			for i := range 501 {
				fmt.Fprintf(&b, "    \"%012d\": {roles: %s}\n", i+1, list("R", 100))
			}
			return b.String()
		}(), want: "principals: 50100 roles and ARN templates in all, more than 50000 (config.MaxPrincipalNames)"},
		{name: "too many suppressions", yaml: minimal + "suppressions: " + many(suppression, MaxSuppressions+1) + "\n",
			want: "suppressions: 1001 suppressions, more than 1000 (config.MaxSuppressions)"},
		{name: "a suppression reason of a megabyte", yaml: minimal + "suppressions: [{account: \"111111111111\", owner: o, until: 2027-01-01, reason: " + strings.Repeat("x", 700_000) + "}]\n",
			want: "suppressions[0].reason: 700000 bytes, more than 1024 (config.MaxSuppressionText)"},
		{name: "one account with too many results", yaml: "accounts:\n  static: [\"111111111111\"]\nregions: [us-east-1, us-east-2, us-west-1, us-west-2, eu-west-1, eu-west-2, eu-west-3, eu-central-1, eu-north-1, ap-northeast-1]\nmodels:\n  required: " + list("amazon.m-", MaxModelsPerList) +
			"\nprincipals:\n  roles: " + list("Role", MaxPrincipalsPerSet) + "\n",
			want: "accounts.static[0]: account 111111111111 alone has 505000 results (10 regions x 500 required models x one plus its 100 principals), more than 500000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v; want %q", clipErr(err), tt.want)
			}
		})
	}
}

// A static list whose checks together pass MaxResults is accepted: the
// sharded run audits it in batches, each bounded when it runs, and the
// whole run refuses it when it starts (check.TestRunRefusesAPlanLargerThanMaxResults).
func TestParseAcceptsAStaticListLargerThanOneRun(t *testing.T) {
	y := "accounts:\n  static: " + accounts(5000) + "\nregions: [us-east-1, us-west-2, eu-west-1, eu-central-1, ap-northeast-1]\nmodels:\n  required: " + list("amazon.m-", 21) + "\n"
	if _, err := Parse([]byte(y)); err != nil {
		t.Errorf("got %v; want 5,000 accounts x 5 regions x 21 models (525,000 results, 2,625 per batch of 50 accounts) accepted", clipErr(err))
	}
}

// A large organization that lists each account's application inference
// profile and roles is accepted: 5,000 accounts give 5,000 distinct model
// ids (each profile's ARN names its account) and 15,000 roles.
func TestParseAcceptsPerAccountProfilesAndRolesOfALargeOrganization(t *testing.T) {
	var b strings.Builder
	b.WriteString("accounts:\n  organizations: {enabled: true}\nregions: [us-east-1]\nmodels:\n  required: [amazon.nova-pro-v1:0]\n  by_account:\n")
	for i := range 5000 {
		id := fmt.Sprintf("%012d", 100000000000+i)
		fmt.Fprintf(&b, "    %q: [\"arn:aws:bedrock:us-east-1:%s:application-inference-profile/chat%08d\"]\n", id, id, i)
	}
	b.WriteString("principals:\n  by_account:\n")
	for i := range 5000 {
		fmt.Fprintf(&b, "    \"%012d\": {roles: [ChatApp, BatchJobs, Etl]}\n", 100000000000+i)
	}
	if _, err := Parse([]byte(b.String())); err != nil {
		t.Errorf("got %v; want 5,000 per-account profiles and 15,000 roles accepted", clipErr(err))
	}
}

// A configuration at the limits is accepted: the limits are far from what
// an organization writes.
func TestParseAcceptsSizesAtTheLimits(t *testing.T) {
	y := "accounts:\n  static: " + accounts(4000) + "\nregions: [us-east-1, us-west-2]\nmodels:\n  required: " + list("amazon.m-", 25) +
		"\nprincipals:\n  roles: " + list("Role", 1) + "\n"
	if _, err := Parse([]byte(y)); err != nil {
		t.Errorf("got %v; want 4000 accounts x 2 regions x 25 models x 2 (400,000 results) accepted", clipErr(err))
	}
}

// Validation names at most 50 problems and counts the rest.
func TestValidateCountsProblemsBeyondFifty(t *testing.T) {
	_, err := Parse([]byte(minimal + "principals:\n  roles: " + list("bad role ", 80) + "\n"))
	if err == nil {
		t.Fatal("got no error")
	}
	if got := len(regexp.MustCompile(`is not a role name`).FindAllString(err.Error(), -1)); got != maxProblemsListed {
		t.Errorf("problems named: got %d; want %d", got, maxProblemsListed)
	}
	if !strings.Contains(err.Error(), "and 30 more problems") {
		t.Errorf("got %v; want the other 30 counted", clipErr(err))
	}
}

func clipErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	s := err.Error()
	if len(s) > 2000 {
		return s[:2000] + "..."
	}
	return s
}

// A suppression's until is at most a year ahead, so that a time-boxed
// suppression cannot become permanent by a far date; permanent: true says so.
func TestSuppressionUntilIsBounded(t *testing.T) {
	sel := `account: "111111111111", reason: r, owner: o`
	soon := time.Now().AddDate(0, 11, 0).Format(time.DateOnly)
	tests := []struct {
		name, suppression, wantErr string
	}{
		{name: "far future", suppression: "{" + sel + ", until: 9999-12-31}", wantErr: "suppressions[0].until: 9999-12-31 is more than a year ahead (config.MaxSuppressionAhead)"},
		{name: "two years ahead", suppression: "{" + sel + ", until: " + time.Now().AddDate(2, 0, 0).Format(time.DateOnly) + "}", wantErr: "is more than a year ahead"},
		{name: "permanent and until", suppression: "{" + sel + ", until: " + soon + ", permanent: true}", wantErr: "is set with permanent: true; give one of them"},
		{name: "neither", suppression: "{" + sel + "}", wantErr: `suppressions[0].until: "" is not a date`},
		{name: "permanent without reason", suppression: `{account: "111111111111", owner: o, permanent: true}`, wantErr: "suppressions[0].reason: empty"},
		{name: "within a year", suppression: "{" + sel + ", until: " + soon + "}", wantErr: ""},
		{name: "permanent with a reason", suppression: "{" + sel + ", permanent: true}", wantErr: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(minimal + "suppressions: [" + tt.suppression + "]\n"))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("got %v; want it accepted", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("got %v; want %q", err, tt.wantErr)
			case tt.wantErr == "" && !c.Suppressions[0].Active(time.Now()):
				t.Errorf("accepted suppression is not active today")
			}
		})
	}
	if !(Suppression{Permanent: true}).Active(time.Now().AddDate(50, 0, 0)) {
		t.Error("a permanent suppression ended")
	}
}
