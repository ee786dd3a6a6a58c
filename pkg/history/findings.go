package history

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/grantwatch/grantwatch/pkg/result"
)

// Finding is what grantwatch keeps of a Security Hub finding it created:
// enough to update, archive and resolve it later without the check that
// produced it (a dropped model, region, principal or account produces
// none), and its first sighting, which stays its CreatedAt for good.
type Finding struct {
	Model     string        `dynamodbav:"m"`
	Principal string        `dynamodbav:"p,omitempty"`
	Status    result.Status `dynamodbav:"s"`
	CreatedAt time.Time     `dynamodbav:"c"`
	// Workflow is the workflow status grantwatch last set or knows Security
	// Hub set (NEW on creation and on reactivation), RESOLVED once archived.
	Workflow string `dynamodbav:"w"`
	// ArchivedAt is set once the finding is archived and resolved; the
	// entry stays, for its CreatedAt, until ArchivedAt is a retention old.
	ArchivedAt time.Time `dynamodbav:"a,omitempty"`
}

// Open says whether the finding is active in Security Hub.
func (f Finding) Open() bool { return f.ArchivedAt.IsZero() }

// Findings are the findings of one account-region, by finding id.
type Findings struct {
	AccountRegion
	ByID      map[string]Finding
	expiresAt int64
}

// findingsItem holds the findings of an account-region. Its gsi1 key puts
// every such item in one index partition, FINDINGS, which only a complete
// run reads whole (to find the findings of accounts and regions it no
// longer audits).
//
//	pk ACCOUNT#<account>  sk FINDINGS#<region>  gsi1pk FINDINGS  gsi1sk <account>#<region>
//
// Size: an entry is about 150 bytes; 400 KB (ledger: DDB-item-size-400kb)
// holds some 2,500 findings of one account-region (models x (1 +
// principals)), far more than grantwatch checks.
type findingsItem struct {
	PK        string             `dynamodbav:"pk"`
	SK        string             `dynamodbav:"sk"`
	GSI1PK    string             `dynamodbav:"gsi1pk"`
	GSI1SK    string             `dynamodbav:"gsi1sk"`
	Type      string             `dynamodbav:"type"`
	Account   string             `dynamodbav:"account"`
	Region    string             `dynamodbav:"region"`
	Findings  map[string]Finding `dynamodbav:"findings"`
	ExpiresAt int64              `dynamodbav:"expires_at"`
}

const findingsIndexPK = "FINDINGS"

func findingsKey(ar AccountRegion) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "ACCOUNT#" + ar.Account},
		"sk": &types.AttributeValueMemberS{Value: "FINDINGS#" + ar.Region},
	}
}

func decodeFindings(av map[string]types.AttributeValue, into map[AccountRegion]*Findings) error {
	var it findingsItem
	if err := attributevalue.UnmarshalMap(av, &it); err != nil {
		return fmt.Errorf("decode findings %v: %w", av["sk"], err)
	}
	ar := AccountRegion{it.Account, it.Region}
	if it.Findings == nil {
		it.Findings = map[string]Finding{}
	}
	into[ar] = &Findings{AccountRegion: ar, ByID: it.Findings, expiresAt: it.ExpiresAt}
	return nil
}

// FindingsOf reads the findings of the given accounts, every region: one
// Query per account.
func (s *Store) FindingsOf(ctx context.Context, accounts []string) (map[AccountRegion]*Findings, error) {
	out := map[AccountRegion]*Findings{}
	for _, a := range accounts {
		pages := dynamodb.NewQueryPaginator(s.api, &dynamodb.QueryInput{
			TableName: &s.table, ConsistentRead: aws.Bool(true),
			KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :sk)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": &types.AttributeValueMemberS{Value: "ACCOUNT#" + a},
				":sk": &types.AttributeValueMemberS{Value: "FINDINGS#"},
			},
		})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("read the security hub findings of account %s: %w", a, err)
			}
			for _, it := range page.Items {
				if err := decodeFindings(it, out); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// AllFindings reads the findings of every account-region, from gsi1. The
// index is eventually consistent: an item written a moment ago may be
// missing, which costs an archive one run's delay, never a wrong one.
func (s *Store) AllFindings(ctx context.Context) (map[AccountRegion]*Findings, error) {
	out := map[AccountRegion]*Findings{}
	pages := dynamodb.NewQueryPaginator(s.api, &dynamodb.QueryInput{
		TableName: &s.table, IndexName: aws.String("gsi1"),
		KeyConditionExpression:    aws.String("gsi1pk = :f"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":f": &types.AttributeValueMemberS{Value: findingsIndexPK}},
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the security hub findings: %w", err)
		}
		for _, it := range page.Items {
			if err := decodeFindings(it, out); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// StaleFindings reports whether fs would expire within half the retention
// if not rewritten: SaveFindings rewrites it then.
func (s *Store) StaleFindings(fs *Findings, at time.Time) bool {
	return fs.expiresAt == 0 || time.Unix(fs.expiresAt, 0).Before(at.Add(s.retention/2))
}

// SaveFindings writes the findings of each account-region in sets, less
// the entries archived more than a retention ago; a set left empty is
// deleted.
func (s *Store) SaveFindings(ctx context.Context, sets []*Findings, at time.Time) error {
	slices.SortFunc(sets, func(a, b *Findings) int {
		return cmp.Or(strings.Compare(a.Account, b.Account), strings.Compare(a.Region, b.Region))
	})
	var requests []types.WriteRequest
	for _, fs := range sets {
		kept := map[string]Finding{}
		for _, id := range slices.Sorted(maps.Keys(fs.ByID)) {
			if f := fs.ByID[id]; f.Open() || f.ArchivedAt.Add(s.retention).After(at) {
				kept[id] = f
			}
		}
		if len(kept) == 0 {
			requests = append(requests, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: findingsKey(fs.AccountRegion)}})
			continue
		}
		av, err := attributevalue.MarshalMap(findingsItem{
			PK: "ACCOUNT#" + fs.Account, SK: "FINDINGS#" + fs.Region, GSI1PK: findingsIndexPK, GSI1SK: fs.Account + "#" + fs.Region,
			Type: "FINDINGS", Account: fs.Account, Region: fs.Region, Findings: kept, ExpiresAt: s.expires(at),
		})
		if err != nil {
			return fmt.Errorf("marshal the security hub findings of %s/%s: %w", fs.Account, fs.Region, err)
		}
		requests = append(requests, types.WriteRequest{PutRequest: &types.PutRequest{Item: av}})
	}
	if err := s.batchWrite(ctx, requests); err != nil {
		return fmt.Errorf("security hub findings: %w", err)
	}
	return nil
}
