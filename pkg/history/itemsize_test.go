package history

import (
	"context"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/grantwatch/grantwatch/pkg/changes"
	"github.com/grantwatch/grantwatch/pkg/result"
)

// The texts of a Marketplace problem of an Anthropic model in an opt-in
// region, as the check writes them: the longest a typical run stores.
const (
	typicalCause       = "GetFoundationModelAvailability: agreementAvailability.status=NOT_AVAILABLE; use-case form of opt-in region ap-southeast-7: found (GetUseCaseForModelAccess)"
	typicalRemediation = "No Marketplace subscription for anthropic.claude-3-5-sonnet-20240620-v1:0 in account 111111111111: normal until someone calls it, since the first call by a principal allowed aws-marketplace:Subscribe, aws-marketplace:Unsubscribe and aws-marketplace:ViewSubscriptions subscribes the account (about 2 minutes; meanwhile MPAgreementBeingCreated). Give the first caller in ap-southeast-7 those permissions, or subscribe ahead: one call from an administrator role, or a managed entitlement shared from the management account (AWS License Manager). Cancelled before? The same first call renews it."
)

// itemSize is an item's size as DynamoDB counts it for write units (names
// plus values; ledger: DDB-item-size-400kb).
func itemSize(item map[string]types.AttributeValue) int {
	n := 0
	for name, v := range item {
		n += len(name) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return len(v.Value)/2 + 1
	case *types.AttributeValueMemberM:
		n := 3
		for k, x := range v.Value {
			n += len(k) + valueSize(x) + 1
		}
		return n
	}
	return 1
}

func accountItems(t *testing.T, client *dynamodb.Client, table, account, prefix string) []map[string]types.AttributeValue {
	t.Helper()
	out, err := client.Query(context.Background(), &dynamodb.QueryInput{TableName: &table,
		KeyConditionExpression: awssdk.String("pk = :pk AND begins_with(sk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: "ACCOUNT#" + account}, ":p": &types.AttributeValueMemberS{Value: prefix}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Items
}

// A steady run writes one event and one latest-state item per change: each
// costs one write unit per started KB, so the event of a typical problem
// must stay under 1 KB (the bench's write-unit budget counts on it), and a
// latest item of usable checks must too.
func TestTypicalItemsFitOneWriteUnit(t *testing.T) {
	client, table := newTable(t)
	s := New(client, table, 400*24*time.Hour)
	ctx := context.Background()
	ar := AccountRegion{"111111111111", "ap-southeast-7"}
	models := []string{"amazon.nova-pro-v1:0", "amazon.nova-lite-v1:0", "anthropic.claude-3-5-sonnet-20240620-v1:0", "meta.llama3-1-70b-instruct-v1:0", "mistral.mistral-large-2407-v1:0"}
	next := map[changes.Key]changes.State{}
	for _, m := range models {
		next[changes.Key{Account: ar.Account, Region: ar.Region, Model: m}] = changes.State{Status: result.Enabled, Since: t0, CheckedAt: t0}
	}
	event := changes.Event{At: t0, Previous: result.Enabled, Result: result.Result{Account: ar.Account, Region: ar.Region,
		Model: models[2], Status: result.AgreementMissing, Cause: typicalCause, Remediation: typicalRemediation}}
	if err := s.save(ctx, "run-20261101T040000Z", t0, nil, next, []changes.Event{event}); err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"LATEST#", "EVENT#"} {
		items := accountItems(t, client, table, ar.Account, prefix)
		if len(items) != 1 {
			t.Fatalf("%s items: got %d; want 1", prefix, len(items))
		}
		if size := itemSize(items[0]); size > 1024 {
			t.Errorf("%s item: got %d bytes; want at most 1024 (one write unit)", prefix, size)
		}
	}
	got, _, err := s.History(ctx, Query{Account: ar.Account})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Remediation != typicalRemediation || got[0].Cause != typicalCause {
		t.Errorf("history read back: got %+v; want the event's cause and remediation as written", got)
	}
}

// Items written before the compact forms (zero times in latest states, a
// plain remediation in events) read as they did.
func TestItemsOfTheOlderFormatRead(t *testing.T) {
	client, table := newTable(t)
	s := New(client, table, 400*24*time.Hour)
	ctx := context.Background()
	ar := AccountRegion{"111111111111", "us-east-1"}
	st := changes.State{Status: result.AgreementMissing, Cause: "c", Remediation: typicalRemediation, Since: t0, CheckedAt: t0}
	latest, err := attributevalue.MarshalMap(latestItem{PK: "ACCOUNT#" + ar.Account, SK: "LATEST#" + ar.Region + "#0", Type: "LATEST",
		Account: ar.Account, Region: ar.Region, Chunks: 1, RunID: "old", Models: map[string]changes.State{"m": st}, ExpiresAt: t0.Unix()})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := latest["models"].(*types.AttributeValueMemberM).Value["m"].(*types.AttributeValueMemberM).Value["as"]; !ok {
		t.Fatal("the older latest item has no zero AuditSince: the test no longer writes the older format")
	}
	event, err := attributevalue.MarshalMap(eventItem{PK: "ACCOUNT#" + ar.Account, SK: "EVENT#" + formatTime(t0) + "#" + ar.Region + "#m", Type: "EVENT",
		ExpiresAt: t0.Unix(), Entry: Entry{At: t0, RunID: "old", Account: ar.Account, Region: ar.Region, Model: "m", Status: result.AgreementMissing, Cause: "c", Remediation: typicalRemediation}})
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range []map[string]types.AttributeValue{latest, event} {
		if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := s.Latest(ctx, []AccountRegion{ar})
	if err != nil {
		t.Fatal(err)
	}
	if got := snap.States[changes.Key{Account: ar.Account, Region: ar.Region, Model: "m"}]; !unchanged(got, st) || !got.AuditSince.IsZero() {
		t.Errorf("older latest state: got %+v; want %+v", got, st)
	}
	entries, _, err := s.History(ctx, Query{Account: ar.Account})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Remediation != typicalRemediation {
		t.Errorf("older event: got %+v; want its remediation as written", entries)
	}
}
