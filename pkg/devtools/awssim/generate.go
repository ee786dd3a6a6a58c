package awssim

import (
	"fmt"
	"time"
)

// Generated is a large organization for benchmarks: accounts spread over
// ous OUs under the root, every model offered in every region, and a fixed
// latency on every call.
func Generated(accounts, ous int, regions, models []string, latency time.Duration) *Scenario {
	sc := &Scenario{
		Latency:    Latency{Fixed: Duration(latency)},
		Pagination: Pagination{PageSize: 20},
	}
	for i := range ous {
		sc.Organization.OUs = append(sc.Organization.OUs, OU{ID: fmt.Sprintf("ou-bench-%08d", i)})
	}
	for i := range accounts {
		a := Account{ID: fmt.Sprintf("%012d", 100000000000+i)}
		if ous > 0 {
			a.Parent = fmt.Sprintf("ou-bench-%08d", i%ous)
		}
		sc.Accounts = append(sc.Accounts, a)
	}
	for _, m := range models {
		sc.Catalog = append(sc.Catalog, CatalogModel{ID: m, Provider: "Bench", Regions: regions})
	}
	return sc
}
