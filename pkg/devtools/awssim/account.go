package awssim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/grantwatch/grantwatch/pkg/config"
)

// accountProtocol is the Account Management API's REST-JSON: POST to the
// operation's path (/listRegions, /getRegionOptStatus) with a JSON body,
// errors with their code in X-Amzn-ErrorType (aws-sdk-go-v2 service/account
// v1.32 serializers.go and deserializers.go; API reference, ListRegions and
// GetRegionOptStatus). ledger: ACC-list-regions
type accountProtocol struct{}

// The operations accountProtocol answers.
const (
	OpListRegions        = "ListRegions"
	OpGetRegionOptStatus = "GetRegionOptStatus"
)

func (accountProtocol) operations() []string {
	return []string{OpListRegions, OpGetRegionOptStatus}
}

func (accountProtocol) operation(req *request) string {
	if req.http.Method != http.MethodPost {
		return ""
	}
	switch req.http.URL.EscapedPath() {
	case "/listRegions":
		return OpListRegions
	case "/getRegionOptStatus":
		return OpGetRegionOptStatus
	}
	return ""
}

type accountInput struct {
	AccountID               *string  `json:"AccountId"`
	MaxResults              *int     `json:"MaxResults"`
	NextToken               *string  `json:"NextToken"`
	RegionOptStatusContains []string `json:"RegionOptStatusContains"`
	RegionName              string   `json:"RegionName"`
}

type regionOpt struct {
	RegionName      string `json:"RegionName"`
	RegionOptStatus string `json:"RegionOptStatus"`
}

func (p accountProtocol) serve(s *Server, w http.ResponseWriter, req *request) {
	if req.op == "" {
		p.writeError(w, &apiError{status: 404, code: "UnknownOperationException", message: "no such operation: " + req.http.Method + " " + req.http.URL.Path})
		return
	}
	var in accountInput
	if err := json.Unmarshal(req.body, &in); err != nil {
		p.writeError(w, &apiError{status: 400, code: "ValidationException", message: "could not parse the request body: " + err.Error()})
		return
	}
	// A member account's audit role asks about its own account, without
	// AccountId; naming another account needs the management account or a
	// delegated administrator (API reference, AccountId), which the audit
	// role is not.
	if in.AccountID != nil && *in.AccountID != req.caller.Account {
		p.writeError(w, accessDenied("AccessDeniedException", fmt.Sprintf("User: %s is not authorized to perform: account:%s on resource: arn:aws:account::%s:account", req.caller.ARN, req.op, *in.AccountID)))
		return
	}
	// An SCP's explicit deny says so in the message (IAM user guide,
	// "Troubleshoot access denied error messages": "... with an explicit
	// deny in a service control policy"). ledger: ACC-list-regions
	if a, ok := s.accounts[req.caller.Account]; ok {
		switch {
		case slices.Contains(a.SCPDeniedActions, "account:"+req.op):
			p.writeError(w, accessDenied("AccessDeniedException", fmt.Sprintf("User: %s is not authorized to perform: account:%s with an explicit deny in a service control policy", req.caller.ARN, req.op)))
			return
		case slices.Contains(a.MissingPermissions, "account:"+req.op):
			p.writeError(w, accessDenied("AccessDeniedException", fmt.Sprintf("User: %s is not authorized to perform: account:%s because no identity-based policy allows the account:%s action", req.caller.ARN, req.op, req.op)))
			return
		}
	}
	var out any
	var err error
	switch req.op {
	case OpListRegions:
		out, err = s.listRegions(req, in)
	case OpGetRegionOptStatus:
		out, err = s.regionOptStatus(req, in)
	}
	if err != nil {
		p.writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// regionsOf lists every region of the caller's partition with its opt-in
// status for account: ENABLED_BY_DEFAULT unless the scenario makes it an
// opt-in region, then ENABLED, or DISABLED where the account has not
// enabled it (disabled_regions).
func (s *Server) regionsOf(account, partition string) []regionOpt {
	var out []regionOpt
	for _, r := range config.KnownRegions() {
		if config.Partition(r) != partition {
			continue
		}
		st := "ENABLED_BY_DEFAULT"
		if s.sc.optIn(r) {
			st = "ENABLED"
			if s.regionDisabled(account, r) {
				st = "DISABLED"
			}
		}
		out = append(out, regionOpt{RegionName: r, RegionOptStatus: st})
	}
	return out
}

// listRegions answers ListRegions a page at a time: MaxResults 1-50 (API
// reference), the scenario's page size otherwise; RegionOptStatusContains
// filters by status.
func (s *Server) listRegions(req *request, in accountInput) (any, error) {
	size := s.sc.Pagination.PageSize
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 50 {
			return nil, &apiError{status: 400, code: "ValidationException", message: fmt.Sprintf("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50", *in.MaxResults)}
		}
		size = min(size, *in.MaxResults)
	}
	all := s.regionsOf(req.caller.Account, config.Partition(req.region))
	if len(in.RegionOptStatusContains) > 0 {
		all = slices.DeleteFunc(all, func(r regionOpt) bool { return !slices.Contains(in.RegionOptStatusContains, r.RegionOptStatus) })
	}
	start := 0
	if in.NextToken != nil {
		n, err := strconv.Atoi(strings.TrimPrefix(*in.NextToken, "rg-"))
		if err != nil || !strings.HasPrefix(*in.NextToken, "rg-") || n < 0 || n > len(all) {
			return nil, &apiError{status: 400, code: "ValidationException", message: "The NextToken is not valid."}
		}
		start = n
	}
	end := min(start+size, len(all))
	out := map[string]any{"Regions": all[start:end]}
	if end < len(all) {
		out["NextToken"] = "rg-" + strconv.Itoa(end)
	}
	return out, nil
}

// regionOptStatus answers GetRegionOptStatus for one region.
func (s *Server) regionOptStatus(req *request, in accountInput) (any, error) {
	for _, r := range s.regionsOf(req.caller.Account, config.Partition(req.region)) {
		if r.RegionName == in.RegionName {
			return r, nil
		}
	}
	return nil, &apiError{status: 400, code: "ValidationException", message: fmt.Sprintf("1 validation error detected: Value '%s' at 'regionName' failed to satisfy constraint", in.RegionName)}
}

func (accountProtocol) writeError(w http.ResponseWriter, err error) {
	var e *apiError
	if !errors.As(err, &e) {
		e = &apiError{status: 500, code: "InternalServerException", message: err.Error()}
	}
	writeRESTError(w, e.status, e.code, e.message)
}

// regionDisabled reports whether account has not enabled the opt-in region.
func (s *Server) regionDisabled(account, region string) bool {
	a, ok := s.accounts[account]
	return ok && slices.Contains(a.DisabledRegions, region)
}
