package targets

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"golang.org/x/sync/errgroup"
)

// OrganizationsAPI is the part of *organizations.Client that discovery uses.
type OrganizationsAPI interface {
	organizations.ListRootsAPIClient
	organizations.ListChildrenAPIClient
	organizations.ListAccountsForParentAPIClient
	organizations.ListTagsForResourceAPIClient
}

var _ OrganizationsAPI = (*organizations.Client)(nil)

// Account is one account found in the organization.
type Account struct {
	ID   string
	Name string
	// OUs are the ids of the organizational units above the account, outermost first.
	OUs  []string
	Tags map[string]string
}

// Filter narrows discovery. Empty fields keep everything.
type Filter struct {
	// OUs keeps accounts that sit below one of these OUs, at any depth.
	OUs []string
	// Tags keeps accounts that carry every one of these tags with these values.
	Tags map[string]string
}

// Discover walks the organization from its roots and returns its active
// accounts that pass f, sorted by id. The first error ends the walk: the
// calls still in flight are cancelled and only that error is returned.
func Discover(ctx context.Context, api OrganizationsAPI, f Filter) ([]Account, error) {
	g, gctx := errgroup.WithContext(ctx)
	slots := make(chan struct{}, walkers)
	var mu sync.Mutex
	var accounts []Account
	// walk lists the active accounts directly in parent, then walks every OU
	// below it; sibling OUs are listed concurrently, at most walkers at once.
	var walk func(parent string, path []string)
	walk = func(parent string, path []string) {
		g.Go(func() error {
			select {
			case slots <- struct{}{}:
			case <-gctx.Done():
				return gctx.Err()
			}
			found, ous, err := listParent(gctx, api, parent, path)
			<-slots
			if err != nil {
				return err
			}
			mu.Lock()
			accounts = append(accounts, found...)
			mu.Unlock()
			for _, ou := range ous {
				walk(ou, append(slices.Clone(path), ou))
			}
			return nil
		})
	}
	roots := organizations.NewListRootsPaginator(api, &organizations.ListRootsInput{})
	for roots.HasMorePages() {
		page, err := roots.NextPage(gctx)
		if err != nil {
			_ = g.Wait()
			return nil, fmt.Errorf("list roots: %w", err)
		}
		for _, root := range page.Roots {
			walk(aws.ToString(root.Id), nil)
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	kept := accounts[:0]
	for _, a := range accounts {
		if len(f.OUs) == 0 || slices.ContainsFunc(a.OUs, func(ou string) bool { return slices.Contains(f.OUs, ou) }) {
			kept = append(kept, a)
		}
	}
	if len(f.Tags) > 0 {
		var err error
		if kept, err = withTags(ctx, api, kept, f.Tags); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(kept, func(a, b Account) int { return strings.Compare(a.ID, b.ID) })
	return kept, nil
}

// withTags reads the tags of accounts, walkers at a time, and keeps those
// that carry every wanted tag.
func withTags(ctx context.Context, api OrganizationsAPI, accounts []Account, want map[string]string) ([]Account, error) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(walkers)
	for i := range accounts {
		g.Go(func() (err error) {
			accounts[i].Tags, err = listTags(gctx, api, accounts[i].ID)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(accounts, func(a Account) bool { return !hasTags(a.Tags, want) }), nil
}

// walkers bounds how many Organizations calls discovery makes at once:
// Organizations allows few requests per second, but a large organization
// listed one page at a time would hold up the whole audit.
const walkers = 4

// listParent lists the active accounts and the child OUs directly in parent.
func listParent(ctx context.Context, api OrganizationsAPI, parent string, path []string) ([]Account, []string, error) {
	var accounts []Account
	pages := organizations.NewListAccountsForParentPaginator(api, &organizations.ListAccountsForParentInput{ParentId: aws.String(parent)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("list accounts for parent %s: %w", parent, err)
		}
		for _, a := range page.Accounts {
			if active(a) {
				accounts = append(accounts, Account{ID: aws.ToString(a.Id), Name: aws.ToString(a.Name), OUs: path})
			}
		}
	}
	var ous []string
	children := organizations.NewListChildrenPaginator(api, &organizations.ListChildrenInput{
		ParentId: aws.String(parent), ChildType: types.ChildTypeOrganizationalUnit,
	})
	for children.HasMorePages() {
		page, err := children.NextPage(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("list child OUs of %s: %w", parent, err)
		}
		for _, c := range page.Children {
			ous = append(ous, aws.ToString(c.Id))
		}
	}
	return accounts, ous, nil
}

// active reads the account's State, falling back to the deprecated Status.
func active(a types.Account) bool {
	if a.State != "" {
		return a.State == types.AccountStateActive
	}
	return a.Status == types.AccountStatusActive
}

func listTags(ctx context.Context, api OrganizationsAPI, account string) (map[string]string, error) {
	tags := map[string]string{}
	pages := organizations.NewListTagsForResourcePaginator(api, &organizations.ListTagsForResourceInput{ResourceId: aws.String(account)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list tags of account %s: %w", account, err)
		}
		for _, t := range page.Tags {
			tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	return tags, nil
}

func hasTags(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}
