// Package org finds the accounts of an AWS organization: active accounts only,
// each with the OUs above it and, when asked for, its tags.
package org

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/organizations/types"
)

// API is the part of *organizations.Client that discovery uses.
type API interface {
	organizations.ListRootsAPIClient
	organizations.ListChildrenAPIClient
	organizations.ListAccountsForParentAPIClient
	organizations.ListTagsForResourceAPIClient
}

var _ API = (*organizations.Client)(nil)

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
// accounts that pass f, sorted by id.
func Discover(ctx context.Context, api API, f Filter) ([]Account, error) {
	var accounts []Account
	roots := organizations.NewListRootsPaginator(api, &organizations.ListRootsInput{})
	for roots.HasMorePages() {
		page, err := roots.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list roots: %w", err)
		}
		for _, root := range page.Roots {
			found, err := walk(ctx, api, make(chan struct{}, walkers), aws.ToString(root.Id), nil)
			if err != nil {
				return nil, err
			}
			accounts = append(accounts, found...)
		}
	}

	kept := accounts[:0]
	for _, a := range accounts {
		if len(f.OUs) > 0 && !slices.ContainsFunc(a.OUs, func(ou string) bool { return slices.Contains(f.OUs, ou) }) {
			continue
		}
		if len(f.Tags) > 0 {
			tags, err := listTags(ctx, api, a.ID)
			if err != nil {
				return nil, err
			}
			a.Tags = tags
			if !hasTags(tags, f.Tags) {
				continue
			}
		}
		kept = append(kept, a)
	}
	slices.SortFunc(kept, func(a, b Account) int { return strings.Compare(a.ID, b.ID) })
	return kept, nil
}

// walkers bounds how many OUs are listed at once: Organizations allows few
// requests per second, but a large organization listed one page at a time
// would hold up the whole audit.
const walkers = 4

// walk lists the active accounts directly in parent and in every OU below it.
// Sibling OUs are walked concurrently; sem holds the walkers' slots.
func walk(ctx context.Context, api API, sem chan struct{}, parent string, path []string) ([]Account, error) {
	sem <- struct{}{}
	accounts, ous, err := listParent(ctx, api, parent, path)
	<-sem
	if err != nil {
		return nil, err
	}
	below := make([][]Account, len(ous))
	errs := make([]error, len(ous))
	var wg sync.WaitGroup
	for i, ou := range ous {
		wg.Go(func() { below[i], errs[i] = walk(ctx, api, sem, ou, append(slices.Clone(path), ou)) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, b := range below {
		accounts = append(accounts, b...)
	}
	return accounts, nil
}

// listParent lists the active accounts and the child OUs directly in parent.
func listParent(ctx context.Context, api API, parent string, path []string) ([]Account, []string, error) {
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

func listTags(ctx context.Context, api API, account string) (map[string]string, error) {
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
