package awssim

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// orgProtocol is AWS JSON 1.1: POST with X-Amz-Target, JSON both ways.
type orgProtocol struct{}

// The operations orgProtocol answers.
const (
	OpListAccounts          = "ListAccounts"
	OpListAccountsForParent = "ListAccountsForParent"
	OpListChildren          = "ListChildren"
	OpListParents           = "ListParents"
	OpListRoots             = "ListRoots"
	OpListTagsForResource   = "ListTagsForResource"
)

func (orgProtocol) operations() []string {
	return []string{OpListAccounts, OpListAccountsForParent, OpListChildren, OpListParents, OpListRoots, OpListTagsForResource}
}

const orgTargetPrefix = "AWSOrganizationsV20161128."

func (orgProtocol) operation(req *request) string {
	return strings.TrimPrefix(req.http.Header.Get("X-Amz-Target"), orgTargetPrefix)
}

type orgInput struct {
	ParentId   string
	ChildId    string
	ChildType  string
	ResourceId string
	NextToken  *string
	MaxResults *int
}

func (p orgProtocol) serve(s *Server, w http.ResponseWriter, req *request) {
	var in orgInput
	if err := json.Unmarshal(req.body, &in); err != nil {
		p.writeError(w, &apiError{status: 400, code: "SerializationException", message: err.Error()})
		return
	}
	if req.caller.Account != s.sc.Organization.ManagementAccount {
		// ledger: ORG-access
		p.writeError(w, accessDenied("AccessDeniedException", "You don't have permissions to access this resource."))
		return
	}
	out, err := s.organizations(req.op, in)
	if err != nil {
		p.writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

func (s *Server) organizations(op string, in orgInput) (any, error) {
	root := s.sc.Organization.Root
	switch op {
	case OpListRoots:
		roots := []map[string]any{{"Id": root, "Name": "Root", "Arn": s.arn("root", root), "PolicyTypes": []any{}}}
		return page(s, "Roots", roots, in)
	case OpListAccounts:
		accounts := make([]map[string]any, 0, len(s.sc.Accounts))
		for i := range s.sc.Accounts {
			accounts = append(accounts, s.accountJSON(&s.sc.Accounts[i]))
		}
		return page(s, "Accounts", accounts, in)
	case OpListAccountsForParent:
		if err := s.knownParent(in.ParentId); err != nil {
			return nil, err
		}
		var accounts []map[string]any
		for _, c := range s.children[in.ParentId] {
			if c.kind == "ACCOUNT" {
				accounts = append(accounts, s.accountJSON(s.accounts[c.id]))
			}
		}
		return page(s, "Accounts", accounts, in)
	case OpListChildren:
		if err := s.knownParent(in.ParentId); err != nil {
			return nil, err
		}
		if in.ChildType != "ACCOUNT" && in.ChildType != "ORGANIZATIONAL_UNIT" {
			return nil, &apiError{status: 400, code: "InvalidInputException", message: "ChildType must be ACCOUNT or ORGANIZATIONAL_UNIT"}
		}
		var children []map[string]any
		for _, c := range s.children[in.ParentId] {
			if c.kind == in.ChildType {
				children = append(children, map[string]any{"Id": c.id, "Type": c.kind})
			}
		}
		return page(s, "Children", children, in)
	case OpListParents:
		parent, ok := s.parentOf[in.ChildId]
		if !ok {
			return nil, &apiError{status: 400, code: "ChildNotFoundException", message: "We can't find an organizational unit (OU) or AWS account with the ChildId that you specified."}
		}
		kind := "ORGANIZATIONAL_UNIT"
		if parent == root {
			kind = "ROOT"
		}
		return page(s, "Parents", []map[string]any{{"Id": parent, "Type": kind}}, in)
	case OpListTagsForResource:
		a, ok := s.accounts[in.ResourceId]
		if !ok {
			return nil, &apiError{status: 400, code: "TargetNotFoundException", message: "We can't find a target with the TargetId that you specified."}
		}
		tags := make([]map[string]any, 0, len(a.Tags))
		for _, k := range slices.Sorted(maps.Keys(a.Tags)) {
			tags = append(tags, map[string]any{"Key": k, "Value": a.Tags[k]})
		}
		return page(s, "Tags", tags, in)
	}
	return nil, &apiError{status: 400, code: "UnknownOperationException", message: "unknown operation " + op}
}

// ledger: ORG-errors
func (s *Server) knownParent(id string) error {
	_, inTree := s.parentOf[id]
	_, isAccount := s.accounts[id]
	if id == s.sc.Organization.Root || inTree && !isAccount {
		return nil
	}
	return &apiError{status: 400, code: "ParentNotFoundException", message: "We can't find a root or OU with the ParentId that you specified."}
}

func (s *Server) arn(kind, id string) string {
	org := s.sc.Organization
	switch kind {
	case "root":
		return fmt.Sprintf("arn:aws:organizations::%s:root/%s/%s", org.ManagementAccount, org.ID, id)
	}
	return fmt.Sprintf("arn:aws:organizations::%s:account/%s/%s", org.ManagementAccount, org.ID, id)
}

var joined = time.Date(2024, 1, 15, 9, 0, 0, 0, time.UTC)

func (s *Server) accountJSON(a *Account) map[string]any {
	state := a.State
	if state == "" {
		state = "ACTIVE"
	}
	status := state // the deprecated Status knows only ACTIVE, SUSPENDED, PENDING_CLOSURE
	if status == "CLOSED" {
		status = "SUSPENDED"
	}
	name, email := a.Name, a.Email
	if name == "" {
		name = "account-" + a.ID
	}
	if email == "" {
		email = "aws+" + a.ID + "@example.com"
	}
	return map[string]any{
		"Id": a.ID, "Arn": s.arn("account", a.ID), "Name": name, "Email": email,
		"State": state, "Status": status, "JoinedMethod": "CREATED",
		"JoinedTimestamp": float64(joined.Unix()),
	}
}

// page cuts items into pages. Its token is the offset, and whether the empty
// page that may precede each page was already served.
// ledger: ORG-pages
func page(s *Server, key string, items []map[string]any, in orgInput) (map[string]any, error) {
	size := s.sc.Pagination.PageSize
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 20 {
			return nil, &apiError{status: 400, code: "InvalidInputException", message: "MaxResults must be between 1 and 20"}
		}
		size = min(size, *in.MaxResults)
	}
	offset, emptyServed := 0, false
	if in.NextToken != nil {
		raw, err := base64.RawURLEncoding.DecodeString(*in.NextToken)
		o, flag, _ := strings.Cut(string(raw), ":")
		n, convErr := strconv.Atoi(o)
		if err != nil || convErr != nil || n < 0 || n > len(items) {
			return nil, &apiError{status: 400, code: "InvalidInputException", message: "The provided NextToken is not valid."}
		}
		offset, emptyServed = n, flag == "e"
	}
	out := map[string]any{key: []map[string]any{}}
	if s.sc.Pagination.EmptyPages && !emptyServed && offset < len(items) {
		out["NextToken"] = token(offset, true)
		return out, nil
	}
	end := min(offset+size, len(items))
	out[key] = items[offset:end]
	if end < len(items) {
		out["NextToken"] = token(end, false)
	}
	return out, nil
}

func token(offset int, emptyServed bool) string {
	flag := "p"
	if emptyServed {
		flag = "e"
	}
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(offset) + ":" + flag))
}

// ledger: PROTO-rest-json-envelope
func (orgProtocol) writeError(w http.ResponseWriter, err error) {
	var e *apiError
	if !errors.As(err, &e) {
		e = &apiError{status: 500, code: "ServiceException", message: err.Error()}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.code, "Message": e.message})
}
