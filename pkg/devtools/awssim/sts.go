package awssim

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// stsProtocol is the AWS query protocol: form-encoded POST, XML answers.
type stsProtocol struct{}

// The operations stsProtocol answers.
const (
	OpAssumeRole        = "AssumeRole"
	OpGetCallerIdentity = "GetCallerIdentity"
)

func (stsProtocol) operations() []string {
	return []string{OpAssumeRole, OpGetCallerIdentity}
}

const stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

func (stsProtocol) operation(req *request) string {
	form, err := url.ParseQuery(string(req.body))
	if err != nil {
		return ""
	}
	return form.Get("Action")
}

var (
	roleARN     = regexp.MustCompile(`^arn:aws:iam::([0-9]{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]{1,64})$`)
	sessionName = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
)

func (stsProtocol) serve(s *Server, w http.ResponseWriter, req *request) {
	form, _ := url.ParseQuery(string(req.body))
	if form.Get("Version") != "2011-06-15" {
		stsProtocol{}.writeError(w, &apiError{status: 400, code: "InvalidParameterValue", message: "unsupported Version", sender: true})
		return
	}
	switch req.op {
	case OpGetCallerIdentity:
		writeXML(w, struct {
			XMLName xml.Name `xml:"GetCallerIdentityResponse"`
			NS      string   `xml:"xmlns,attr"`
			Result  struct {
				Arn     string
				UserId  string
				Account string
			} `xml:"GetCallerIdentityResult"`
			Meta responseMetadata `xml:"ResponseMetadata"`
		}{NS: stsNamespace, Result: struct {
			Arn     string
			UserId  string
			Account string
		}{req.caller.ARN, userID(req.caller), req.caller.Account}, Meta: newMetadata()})
	case OpAssumeRole:
		out, err := s.assumeRole(req, form)
		if err != nil {
			stsProtocol{}.writeError(w, err)
			return
		}
		writeXML(w, out)
	default:
		stsProtocol{}.writeError(w, &apiError{status: 400, code: "InvalidAction", message: fmt.Sprintf("Could not find operation %s for version 2011-06-15", req.op), sender: true})
	}
}

type assumeRoleResponse struct {
	XMLName xml.Name `xml:"AssumeRoleResponse"`
	NS      string   `xml:"xmlns,attr"`
	Result  struct {
		Credentials struct {
			AccessKeyId     string
			SecretAccessKey string
			SessionToken    string
			Expiration      string
		}
		AssumedRoleUser struct {
			AssumedRoleId string
			Arn           string
		}
		// PackedPolicySize is there only when the request passed session
		// policies or tags: the API reference defines it as their packed
		// size; that it is absent otherwise is inferred from CLI captures
		// of assume-role, which show no such field.
		PackedPolicySize *int `xml:",omitempty"`
	} `xml:"AssumeRoleResult"`
	Meta responseMetadata `xml:"ResponseMetadata"`
}

// ledger: STS-assume-role
func (s *Server) assumeRole(req *request, form url.Values) (*assumeRoleResponse, error) {
	arn, name := form.Get("RoleArn"), form.Get("RoleSessionName")
	m := roleARN.FindStringSubmatch(arn)
	if m == nil {
		return nil, &apiError{status: 400, code: "ValidationError", message: fmt.Sprintf("%s is invalid", arn), sender: true}
	}
	if !sessionName.MatchString(name) {
		return nil, &apiError{status: 400, code: "ValidationError", message: "1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint", sender: true}
	}
	account, role := m[1], m[2]
	counter, _ := s.assumes.LoadOrStore(account, new(atomic.Int64))
	counter.(*atomic.Int64).Add(1)

	duration := time.Hour
	if v := form.Get("DurationSeconds"); v != "" {
		secs, err := strconv.Atoi(v)
		if err != nil || secs < 900 || secs > 43200 {
			return nil, &apiError{status: 400, code: "ValidationError", message: "1 validation error detected: Value at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200", sender: true}
		}
		duration = time.Duration(secs) * time.Second
	}
	// ledger: STS-assume-role-denied
	denied := accessDenied("AccessDenied", fmt.Sprintf("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", req.caller.ARN, arn))
	a, ok := s.accounts[account]
	switch {
	case !ok, !s.sc.trusts(a, role):
		return nil, denied
	case s.sc.Role.ExternalID != "" && form.Get("ExternalId") != s.sc.Role.ExternalID:
		return nil, denied
	case a.State != "" && a.State != "ACTIVE":
		return nil, denied
	// ledger: STS-duration
	case chained(req.caller.ARN) && duration > time.Hour:
		// Role chaining: the caller is itself a role session (a Lambda function's
		// execution role is). Source: STS API reference, AssumeRole
		// DurationSeconds ("if you assume a role using role chaining and provide
		// a DurationSeconds parameter value greater than one hour, the operation
		// fails"); the message as public CLI captures show it (e.g.
		// prowler-cloud/prowler#7721, aws/eks-anywhere#9485).
		return nil, &apiError{status: 400, code: "ValidationError", message: "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.", sender: true}
	case duration > time.Duration(s.sc.Role.MaxSessionDuration):
		return nil, &apiError{status: 400, code: "ValidationError", message: "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.", sender: true}
	}

	assumed := "arn:aws:sts::" + account + ":assumed-role/" + role + "/" + name
	sess := s.issue(Principal{Account: account, ARN: assumed}, duration)
	out := &assumeRoleResponse{NS: stsNamespace, Meta: newMetadata()}
	out.Result.Credentials.AccessKeyId = sess.principal.AccessKeyID
	out.Result.Credentials.SecretAccessKey = sess.secret
	out.Result.Credentials.SessionToken = sess.sessionToken
	out.Result.Credentials.Expiration = sess.expires.Format(time.RFC3339)
	out.Result.AssumedRoleUser.AssumedRoleId = uniqueID("AROA", "arn:aws:iam::"+account+":role/"+role) + ":" + name
	out.Result.AssumedRoleUser.Arn = assumed
	if policy := form.Get("Policy"); policy != "" || form.Get("PolicyArns.member.1.arn") != "" || form.Get("Tags.member.1.Key") != "" {
		// A rough share of the 2,048 packed bytes AWS allows.
		size := min(100, 1+len(policy)*100/2048)
		out.Result.PackedPolicySize = &size
	}
	return out, nil
}

// userID is GetCallerIdentity's UserId: "AROA...:session" for a role
// session, "AIDA..." for an IAM user, the account id for its root user (STS
// API reference, GetCallerIdentity examples; IAM user guide, "Unique
// identifiers": role ids begin AROA, user ids AIDA). The ids are stable per
// role or user, as AWS's are.
// ledger: STS-get-caller-identity
func userID(p Principal) string {
	rest, _ := strings.CutPrefix(p.ARN, "arn:aws:")
	switch _, resource, _ := strings.Cut(rest, ":"+p.Account+":"); {
	case strings.HasPrefix(resource, "assumed-role/"):
		parts := strings.SplitN(strings.TrimPrefix(resource, "assumed-role/"), "/", 2)
		session := ""
		if len(parts) == 2 {
			session = parts[1]
		}
		return uniqueID("AROA", "arn:aws:iam::"+p.Account+":role/"+parts[0]) + ":" + session
	case strings.HasPrefix(resource, "role/"):
		return uniqueID("AROA", p.ARN)
	case resource == "root":
		return p.Account
	}
	return uniqueID("AIDA", p.ARN)
}

// uniqueID is an IAM unique id: a prefix and 17 characters, derived from the
// ARN so that it stays the same for one role or user.
func uniqueID(prefix, arn string) string {
	sum := sha256.Sum256([]byte(arn))
	return prefix + base32.StdEncoding.EncodeToString(sum[:])[:17]
}

// chained reports whether a caller is a role session, so that AssumeRole with
// its credentials is role chaining.
func chained(callerARN string) bool { return strings.Contains(callerARN, ":assumed-role/") }

type responseMetadata struct {
	RequestId string
}

func newMetadata() responseMetadata { return responseMetadata{RequestId: requestID()} }

func requestID() string {
	r := randomString(26)
	return strings.ToLower(r[:8] + "-" + r[8:12] + "-" + r[12:16] + "-" + r[16:20] + "-" + r[20:26])
}

func writeXML(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "text/xml")
	b, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = w.Write(append([]byte(xml.Header), b...))
}

func (stsProtocol) writeError(w http.ResponseWriter, err error) {
	writeQueryError(w, stsNamespace, err)
}

// writeQueryError writes the query protocol's error envelope, STS's and
// IAM's alike: ErrorResponse/Error{Type, Code, Message}/RequestId.
// ledger: PROTO-query-envelope
func writeQueryError(w http.ResponseWriter, namespace string, err error) {
	var e *apiError
	if !errors.As(err, &e) {
		e = &apiError{status: 500, code: "InternalFailure", message: err.Error()}
	}
	kind := "Receiver"
	if e.sender {
		kind = "Sender"
	}
	var body struct {
		XMLName xml.Name `xml:"ErrorResponse"`
		NS      string   `xml:"xmlns,attr"`
		Error   struct {
			Type    string
			Code    string
			Message string
		}
		RequestId string
	}
	body.NS, body.RequestId = namespace, requestID()
	body.Error.Type, body.Error.Code, body.Error.Message = kind, e.code, e.message
	b, _ := xml.Marshal(body)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.status)
	_, _ = w.Write(b)
}
