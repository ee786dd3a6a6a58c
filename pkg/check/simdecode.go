// A lean decoder for successful SimulatePrincipalPolicy answers (issue 22).
//
// The SDK decodes every answer with its schema-based XML deserializer
// (smithy-go's internal/xml ShapeDeserializer over encoding/xml's Token):
// about 1,400 allocations for one simulation's answer, against 400 for a
// whole Bedrock call, and simulations are a third of the run's calls.
// leanSimulation decodes the one shape IAM sends in a single pass over the
// bytes (ledger: PROTO-iam-simulate-wire names the shape and its sources). It is strict on purpose: any
// input it does not recognise exactly (another element, an attribute,
// a namespace prefix, a comment, CDATA, a non-ASCII byte, a carriage
// return in text, a bool other than true/false, ...) is handed to the
// SDK's own deserializer, unchanged, so the result is always the SDK's:
// either both decoders produce the same value (TestLeanSimulationMatchesSDK,
// FuzzLeanSimulationDecoder) or the SDK decodes it.

package check

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// sdkDeserializerID is the id of the operation deserializer every
// schema-based SDK client (iam v1.65) adds to the Deserialize step.
const sdkDeserializerID = "OperationDeserializer"

// leanSimulation replaces SimulatePrincipalPolicy's deserializer. It
// decodes an HTTP 200 answer itself; everything else (a transport error,
// any other status, an answer it does not recognise) goes through the SDK's
// own deserializer, so error codes (AccessDenied, Throttling, ...) and their
// classification stay the SDK's.
type leanSimulation struct {
	sdk middleware.DeserializeMiddleware
}

func (*leanSimulation) ID() string { return sdkDeserializerID }

// bodies holds the buffers answers are read into; a decoded answer keeps
// only copies (see own).
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (m *leanSimulation) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	out, md, err := next.HandleDeserialize(ctx, in)
	// The SDK's deserializer, given the answer this call already has.
	sdk := func() (middleware.DeserializeOutput, middleware.Metadata, error) {
		return m.sdk.HandleDeserialize(ctx, in, middleware.DeserializeHandlerFunc(func(context.Context, middleware.DeserializeInput) (middleware.DeserializeOutput, middleware.Metadata, error) {
			return out, md, err
		}))
	}
	resp, ok := out.RawResponse.(*smithyhttp.Response)
	if err != nil || !ok || resp.StatusCode != 200 || resp.Body == nil {
		return sdk()
	}
	buf := bodies.Get().(*bytes.Buffer)
	buf.Reset()
	defer bodies.Put(buf)
	_, rerr := buf.ReadFrom(resp.Body)
	_ = resp.Body.Close()
	if rerr != nil {
		// As the SDK reports a body it could not read.
		return out, md, &smithy.DeserializationError{Err: rerr}
	}
	result, derr := decodeSimulation(buf.Bytes(), nil)
	if derr != nil {
		resp.Body = io.NopCloser(bytes.NewReader(bytes.Clone(buf.Bytes())))
		return sdk()
	}
	out.Result = result
	return out, md, nil
}

// leanSimulationStack installs leanSimulation on SimulatePrincipalPolicy's
// stack only; a stack without the SDK's deserializer is left as it is.
func leanSimulationStack(stack *middleware.Stack) error {
	if stack.ID() != "SimulatePrincipalPolicy" {
		return nil
	}
	sdk, ok := stack.Deserialize.Get(sdkDeserializerID)
	if !ok {
		return nil
	}
	_, err := stack.Deserialize.Swap(sdkDeserializerID, &leanSimulation{sdk: sdk})
	return err
}

var errUnrecognised = errors.New("not the recognised SimulatePrincipalPolicy answer")

// simParser reads one answer. src is a transient copy of the body.
type simParser struct {
	src      string
	pos      int
	interned *interner
	// slabs for the answer's pointers, so that each is not an allocation
	strs []string
	orgs []iamtypes.OrganizationsDecisionDetail
	pbs  []iamtypes.PermissionsBoundaryDecisionDetail
	poss []iamtypes.Position
}

func (p *simParser) fail(what string) error {
	return fmt.Errorf("%w: %s at byte %d", errUnrecognised, what, p.pos)
}

func (p *simParser) str(v string) *string {
	if len(p.strs) == cap(p.strs) {
		p.strs = make([]string, 0, 32)
	}
	p.strs = append(p.strs, v)
	return &p.strs[len(p.strs)-1]
}

func (p *simParser) org(v bool) *iamtypes.OrganizationsDecisionDetail {
	if len(p.orgs) == cap(p.orgs) {
		p.orgs = make([]iamtypes.OrganizationsDecisionDetail, 0, 16)
	}
	p.orgs = append(p.orgs, iamtypes.OrganizationsDecisionDetail{AllowedByOrganizations: v})
	return &p.orgs[len(p.orgs)-1]
}

func (p *simParser) pb(v bool) *iamtypes.PermissionsBoundaryDecisionDetail {
	if len(p.pbs) == cap(p.pbs) {
		p.pbs = make([]iamtypes.PermissionsBoundaryDecisionDetail, 0, 16)
	}
	p.pbs = append(p.pbs, iamtypes.PermissionsBoundaryDecisionDetail{AllowedByPermissionsBoundary: v})
	return &p.pbs[len(p.pbs)-1]
}

func (p *simParser) position(v iamtypes.Position) *iamtypes.Position {
	if len(p.poss) == cap(p.poss) {
		p.poss = make([]iamtypes.Position, 0, 16)
	}
	p.poss = append(p.poss, v)
	return &p.poss[len(p.poss)-1]
}

const (
	xmlProlog    = `<?xml version="1.0" encoding="UTF-8"?>`
	responseOpen = `<SimulatePrincipalPolicyResponse`
	iamXMLNS     = ` xmlns="https://iam.amazonaws.com/doc/2010-05-08/"`
	resultOpen   = `<SimulatePrincipalPolicyResult>`
)

// decodeSimulation decodes a successful SimulatePrincipalPolicy answer
// (ledger: PROTO-iam-simulate-wire) as the SDK's deserializer does (every field of the output, not only those
// grantwatch reads), or returns errUnrecognised.
// strs, when set, gives one shared copy of each string (resource names
// repeat in every account's answers).
func decodeSimulation(body []byte, strs *interner) (*iam.SimulatePrincipalPolicyOutput, error) {
	// A view of the body, not a copy: no decoded value points into it
	// (TestLeanSimulationKeepsNoAnswer), and the caller keeps the body
	// until this returns.
	return decodeAnswer(unsafe.String(unsafe.SliceData(body), len(body)), strs)
}

// decodeAnswer is decodeSimulation over a string no decoded value shares.
func decodeAnswer(src string, strs *interner) (*iam.SimulatePrincipalPolicyOutput, error) {
	p := &simParser{src: src, interned: strs}
	if strings.HasPrefix(p.rest(), xmlProlog) {
		p.pos += len(xmlProlog)
		p.ws()
	}
	if !p.skipPrefix(responseOpen) {
		return nil, p.fail("no SimulatePrincipalPolicyResponse")
	}
	p.skipPrefix(iamXMLNS)
	if !p.skipPrefix(">") {
		return nil, p.fail("attributes on SimulatePrincipalPolicyResponse")
	}
	p.ws()
	if !p.skipPrefix(resultOpen) {
		return nil, p.fail("no SimulatePrincipalPolicyResult")
	}
	out := &iam.SimulatePrincipalPolicyOutput{}
	// The SDK reads nothing after the result's end tag (ResponseMetadata
	// included: the request id comes from the x-amzn-RequestId header).
	var seen uint8
	err := p.children("SimulatePrincipalPolicyResult", false, func(name string, empty bool) (err error) {
		switch name {
		case "EvaluationResults":
			err = p.once(&seen, 1)
			if err == nil {
				out.EvaluationResults, err = p.evaluationResults(empty)
			}
		case "IsTruncated":
			err = p.once(&seen, 2)
			if err == nil {
				out.IsTruncated, err = p.boolean(name, empty)
			}
		case "Marker":
			err = p.once(&seen, 4)
			if err == nil {
				var s string
				s, err = p.text(name, empty)
				out.Marker = p.str(s)
			}
		default:
			return p.fail("unknown element " + name)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (p *simParser) rest() string { return p.src[p.pos:] }

func (p *simParser) skipPrefix(s string) bool {
	if strings.HasPrefix(p.rest(), s) {
		p.pos += len(s)
		return true
	}
	return false
}

// once refuses a repeated element: the SDK keeps the last of a repeated
// scalar but replaces a repeated list, which a single pass need not copy.
func (p *simParser) once(seen *uint8, bit uint8) error {
	if *seen&bit != 0 {
		return p.fail("repeated element")
	}
	*seen |= bit
	return nil
}

// ws skips the white space between elements (XML's S production).
func (p *simParser) ws() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// tag reads the next start or end tag after white space: its name, and
// whether it is empty (<X/>) or an end tag (</X>). Names are ASCII letters
// only; attributes, prefixes and white space inside tags are refused.
func (p *simParser) tag() (name string, empty, end bool, err error) {
	p.ws()
	if p.pos >= len(p.src) || p.src[p.pos] != '<' {
		return "", false, false, p.fail("expected a tag")
	}
	p.pos++
	if p.pos < len(p.src) && p.src[p.pos] == '/' {
		end = true
		p.pos++
	}
	start := p.pos
	for p.pos < len(p.src) && (p.src[p.pos] >= 'a' && p.src[p.pos] <= 'z' || p.src[p.pos] >= 'A' && p.src[p.pos] <= 'Z') {
		p.pos++
	}
	name = p.src[start:p.pos]
	if name == "" {
		return "", false, false, p.fail("expected a name")
	}
	if !end && p.skipPrefix("/>") {
		return name, true, false, nil
	}
	if !p.skipPrefix(">") {
		return "", false, false, p.fail("unexpected byte in tag")
	}
	return name, false, end, nil
}

// endTag reads </name>.
func (p *simParser) endTag(name string) error {
	got, _, end, err := p.tag()
	if err != nil {
		return err
	}
	if !end || got != name {
		return p.fail("expected </" + name + ">")
	}
	return nil
}

// text reads an element's character data and its end tag, as a string of
// its own: nothing decoded keeps the body alive (a decision that holds a
// resource name would otherwise hold its whole answer).
func (p *simParser) text(name string, empty bool) (string, error) {
	s, err := p.view(name, empty)
	if err != nil {
		return "", err
	}
	return p.own(s), nil
}

// own returns s as a string that shares no memory with the body: the
// values every answer repeats are constants, others a copy (the
// interner's, when the parser has one).
func (p *simParser) own(s string) string {
	switch s {
	case "":
		return ""
	case "allowed":
		return "allowed"
	case "implicitDeny":
		return "implicitDeny"
	case "explicitDeny":
		return "explicitDeny"
	case "*":
		return "*"
	case "bedrock:InvokeModel":
		return "bedrock:InvokeModel"
	case "bedrock:InvokeModelWithResponseStream":
		return "bedrock:InvokeModelWithResponseStream"
	case "bedrock:CallWithBearerToken":
		return "bedrock:CallWithBearerToken"
	case "aws-marketplace:Subscribe":
		return "aws-marketplace:Subscribe"
	case "aws-marketplace:ViewSubscriptions":
		return "aws-marketplace:ViewSubscriptions"
	case "aws-marketplace:Unsubscribe":
		return "aws-marketplace:Unsubscribe"
	}
	return p.interned.getString(s)
}

// view reads an element's character data and its end tag. It decodes
// XML's five named entities and character references to ASCII; anything
// else (non-ASCII, control bytes, a carriage return, which encoding/xml
// would normalise, CDATA, comments, child elements) is refused.
func (p *simParser) view(name string, empty bool) (string, error) {
	if empty {
		return "", nil
	}
	start := p.pos
	plain := true
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == '<' {
			break
		}
		if c == '&' {
			plain = false
		} else if c < 0x20 && c != '\t' && c != '\n' || c >= 0x7f {
			return "", p.fail("unsupported byte in text")
		}
		p.pos++
	}
	raw := p.src[start:p.pos]
	if err := p.endTag(name); err != nil {
		return "", err
	}
	if plain {
		return raw, nil
	}
	return p.unescape(raw)
}

func (p *simParser) unescape(raw string) (string, error) {
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '&' {
			b.WriteByte(c)
			i++
			continue
		}
		semi := strings.IndexByte(raw[i:], ';')
		if semi < 0 {
			return "", p.fail("unterminated entity")
		}
		ent := raw[i+1 : i+semi]
		i += semi + 1
		switch ent {
		case "amp":
			b.WriteByte('&')
		case "lt":
			b.WriteByte('<')
		case "gt":
			b.WriteByte('>')
		case "apos":
			b.WriteByte('\'')
		case "quot":
			b.WriteByte('"')
		default:
			r, ok := charRef(ent)
			if !ok {
				return "", p.fail("unsupported entity")
			}
			b.WriteByte(r)
		}
	}
	return b.String(), nil
}

// charRef decodes #NN or #xHH to an ASCII byte XML allows in text
// (tab, line feed, carriage return, printable); anything else is refused.
func charRef(ent string) (byte, bool) {
	if len(ent) < 2 || ent[0] != '#' {
		return 0, false
	}
	digits, base := ent[1:], 10
	if digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	if len(digits) == 0 || len(digits) > 3 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		var d int
		switch {
		case c >= '0' && c <= '9':
			d = int(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = int(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = int(c-'A') + 10
		default:
			return 0, false
		}
		n = n*base + d
	}
	if n == '\t' || n == '\n' || n == '\r' || n >= 0x20 && n < 0x7f {
		return byte(n), true
	}
	return 0, false
}

// boolean reads true or false (the SDK's strconv.ParseBool takes more
// spellings; those go to the SDK).
func (p *simParser) boolean(name string, empty bool) (bool, error) {
	s, err := p.view(name, empty)
	if err != nil {
		return false, err
	}
	switch s {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, p.fail("unsupported bool")
}

// int32 reads 1 to 9 decimal digits (the SDK's strconv.ParseInt takes
// signs and larger numbers too; those go to the SDK).
func (p *simParser) int32(name string, empty bool) (int32, error) {
	s, err := p.view(name, empty)
	if err != nil {
		return 0, err
	}
	if len(s) == 0 || len(s) > 9 {
		return 0, p.fail("unsupported number")
	}
	var n int32
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, p.fail("unsupported number")
		}
		n = n*10 + int32(s[i]-'0')
	}
	return n, nil
}

// members reads a wrapped list's <member> items, calling item for each;
// the list's end tag ends it. As the SDK does, a present list is non-nil.
func (p *simParser) members(list string, empty bool, item func(empty bool) error) error {
	return p.children(list, empty, func(name string, e bool) error {
		if name != "member" {
			return p.fail("list item not named member")
		}
		return item(e)
	})
}

// children reads the child elements of the element name, just opened (or
// empty), up to its end tag: child is called at each child's start tag
// and reads the child, end tag included.
func (p *simParser) children(name string, empty bool, child func(name string, empty bool) error) error {
	if empty {
		return nil
	}
	for {
		got, e, end, err := p.tag()
		if err != nil {
			return err
		}
		if end {
			if got != name {
				return p.fail("mismatched end tag")
			}
			return nil
		}
		if err := child(got, e); err != nil {
			return err
		}
	}
}

// fields reads a structure's members up to its end tag </name>: field
// reads one member and returns its bit, or returns 0 without reading an
// unknown one. A member may stand once; a repeated one is refused once
// read.
func (p *simParser) fields(name string, empty bool, field func(name string, empty bool) (bit uint16, err error)) error {
	var seen uint16
	return p.children(name, empty, func(got string, e bool) error {
		bit, err := field(got, e)
		if bit == 0 {
			return p.fail("unknown element " + got)
		}
		if seen&bit != 0 {
			return p.fail("repeated element")
		}
		seen |= bit
		return err
	})
}

func (p *simParser) evaluationResults(empty bool) ([]iamtypes.EvaluationResult, error) {
	out := make([]iamtypes.EvaluationResult, 0, strings.Count(p.rest(), "<EvalActionName>"))
	err := p.members("EvaluationResults", empty, func(e bool) error {
		var r iamtypes.EvaluationResult
		if err := p.evaluationResult(&r, e); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

func (p *simParser) evaluationResult(r *iamtypes.EvaluationResult, empty bool) error {
	return p.fields("member", empty, func(name string, e bool) (bit uint16, err error) {
		var s string
		switch name {
		case "EvalActionName":
			bit = 1
			s, err = p.text(name, e)
			r.EvalActionName = p.str(s)
		case "EvalDecision":
			bit = 2
			s, err = p.text(name, e)
			r.EvalDecision = iamtypes.PolicyEvaluationDecisionType(s)
		case "EvalDecisionDetails":
			bit = 4
			r.EvalDecisionDetails, err = p.decisionDetails(e)
		case "EvalResourceName":
			bit = 8
			s, err = p.text(name, e)
			r.EvalResourceName = p.str(s)
		case "MatchedStatements":
			bit = 16
			r.MatchedStatements, err = p.statements(name, e)
		case "MissingContextValues":
			bit = 32
			r.MissingContextValues, err = p.strings(name, e)
		case "OrganizationsDecisionDetail":
			bit = 64
			var v bool
			v, err = p.detail(name, "AllowedByOrganizations", e)
			r.OrganizationsDecisionDetail = p.org(v)
		case "PermissionsBoundaryDecisionDetail":
			bit = 128
			var v bool
			v, err = p.detail(name, "AllowedByPermissionsBoundary", e)
			r.PermissionsBoundaryDecisionDetail = p.pb(v)
		case "ResourceSpecificResults":
			bit = 256
			r.ResourceSpecificResults, err = p.resourceResults(e)
		default:
			return 0, nil // fields refuses it
		}
		return bit, err
	})
}

func (p *simParser) resourceResults(empty bool) ([]iamtypes.ResourceSpecificResult, error) {
	out := []iamtypes.ResourceSpecificResult{}
	err := p.members("ResourceSpecificResults", empty, func(e bool) error {
		var r iamtypes.ResourceSpecificResult
		if err := p.resourceResult(&r, e); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

func (p *simParser) resourceResult(r *iamtypes.ResourceSpecificResult, empty bool) error {
	return p.fields("member", empty, func(name string, e bool) (bit uint16, err error) {
		var s string
		switch name {
		case "EvalDecisionDetails":
			bit = 1
			r.EvalDecisionDetails, err = p.decisionDetails(e)
		case "EvalResourceDecision":
			bit = 2
			s, err = p.text(name, e)
			r.EvalResourceDecision = iamtypes.PolicyEvaluationDecisionType(s)
		case "EvalResourceName":
			bit = 4
			s, err = p.text(name, e)
			r.EvalResourceName = p.str(s)
		case "MatchedStatements":
			bit = 8
			r.MatchedStatements, err = p.statements(name, e)
		case "MissingContextValues":
			bit = 16
			r.MissingContextValues, err = p.strings(name, e)
		case "PermissionsBoundaryDecisionDetail":
			bit = 32
			var v bool
			v, err = p.detail(name, "AllowedByPermissionsBoundary", e)
			r.PermissionsBoundaryDecisionDetail = p.pb(v)
		default:
			return 0, nil // fields refuses it
		}
		return bit, err
	})
}

func (p *simParser) strings(list string, empty bool) ([]string, error) {
	out := []string{}
	err := p.members(list, empty, func(e bool) error {
		s, err := p.text("member", e)
		out = append(out, s)
		return err
	})
	return out, err
}

// detail reads a decision detail: one optional bool member.
func (p *simParser) detail(name, field string, empty bool) (bool, error) {
	v, seen := false, false
	err := p.children(name, empty, func(got string, e bool) (err error) {
		if got != field || seen {
			return p.fail("unknown or repeated element " + got)
		}
		seen = true
		v, err = p.boolean(got, e)
		return err
	})
	if err != nil {
		return false, err
	}
	return v, nil
}

// decisionDetails reads the EvalDecisionDetails map: <entry><key>K</key>
// <value>V</value></entry> items, in that order. A repeated key keeps its
// last value, as in the SDK.
func (p *simParser) decisionDetails(empty bool) (map[string]iamtypes.PolicyEvaluationDecisionType, error) {
	out := map[string]iamtypes.PolicyEvaluationDecisionType{}
	err := p.children("EvalDecisionDetails", empty, func(name string, e bool) error {
		if name != "entry" || e {
			return p.fail("map item not an entry")
		}
		var k, v string
		name, e, end, err := p.tag()
		if err != nil || end || name != "key" {
			return p.fail("entry without key first")
		}
		if k, err = p.text("key", e); err != nil {
			return err
		}
		if name, e, end, err = p.tag(); err != nil || end || name != "value" {
			return p.fail("entry without value second")
		}
		if v, err = p.text("value", e); err != nil {
			return err
		}
		if err := p.endTag("entry"); err != nil {
			return err
		}
		out[k] = iamtypes.PolicyEvaluationDecisionType(v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (p *simParser) statements(list string, empty bool) ([]iamtypes.Statement, error) {
	out := []iamtypes.Statement{}
	err := p.members(list, empty, func(e bool) error {
		var st iamtypes.Statement
		if err := p.statement(&st, e); err != nil {
			return err
		}
		out = append(out, st)
		return nil
	})
	return out, err
}

func (p *simParser) statement(st *iamtypes.Statement, empty bool) error {
	return p.fields("member", empty, func(name string, e bool) (bit uint16, err error) {
		var s string
		switch name {
		case "EndPosition":
			bit = 1
			var pos iamtypes.Position
			pos, err = p.positionOf(name, e)
			st.EndPosition = p.position(pos)
		case "SourcePolicyId":
			bit = 2
			s, err = p.text(name, e)
			st.SourcePolicyId = p.str(s)
		case "SourcePolicyType":
			bit = 4
			s, err = p.text(name, e)
			st.SourcePolicyType = iamtypes.PolicySourceType(s)
		case "StartPosition":
			bit = 8
			var pos iamtypes.Position
			pos, err = p.positionOf(name, e)
			st.StartPosition = p.position(pos)
		default:
			return 0, nil // fields refuses it
		}
		return bit, err
	})
}

func (p *simParser) positionOf(name string, empty bool) (iamtypes.Position, error) {
	var pos iamtypes.Position
	err := p.fields(name, empty, func(got string, e bool) (bit uint16, err error) {
		switch got {
		case "Column":
			bit = 1
			pos.Column, err = p.int32(got, e)
		case "Line":
			bit = 2
			pos.Line, err = p.int32(got, e)
		default:
			return 0, nil // fields refuses it
		}
		return bit, err
	})
	return pos, err
}
