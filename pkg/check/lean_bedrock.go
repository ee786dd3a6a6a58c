// GetFoundationModelAvailability on the direct path (lean.go).

package check

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/smithy-go/encoding/httpbinding"
)

// directBedrock is a *bedrock.Client whose GetFoundationModelAvailability
// takes the direct path; every other operation is the SDK's.
type directBedrock struct {
	*bedrock.Client
	d *direct
}

var _ BedrockAPI = (*directBedrock)(nil)

const opAvailability = "GetFoundationModelAvailability"

func (c *directBedrock) GetFoundationModelAvailability(ctx context.Context, in *bedrock.GetFoundationModelAvailabilityInput, optFns ...func(*bedrock.Options)) (*bedrock.GetFoundationModelAvailabilityOutput, error) {
	if len(optFns) > 0 || in == nil || aws.ToString(in.ModelId) == "" {
		return c.Client.GetFoundationModelAvailability(ctx, in, optFns...)
	}
	// The SDK's path label: every byte but the unreserved ones escaped,
	// "/" too (restJson1 modelId is a non-greedy label).
	suffix := "/foundation-model-availability/" + httpbinding.EscapePath(*in.ModelId, true)
	t, learn := c.d.template(opAvailability)
	if t == nil {
		if !learn {
			return c.Client.GetFoundationModelAvailability(ctx, in)
		}
		return c.Client.GetFoundationModelAvailability(ctx, in, func(o *bedrock.Options) {
			o.HTTPClient = &learner{next: o.HTTPClient, d: c.d, op: opAvailability, suffix: suffix}
		})
	}
	x := c.d.send(ctx, t, suffix, nil)
	if x.body != nil {
		if out, err := decodeAvailability(x.body); err == nil {
			x.release()
			return out, nil
		}
	}
	return c.Client.GetFoundationModelAvailability(ctx, in, func(o *bedrock.Options) {
		o.HTTPClient = c.d.replay(x, o.HTTPClient)
	})
}

// decodeAvailability decodes the answer Bedrock sends (ledger:
// PROTO-bedrock-availability-wire): one JSON object whose members are
// strings or null, agreementAvailability an object of the same. As the
// SDK's deserializer: a null member is left unset, a string is set (the
// enums as their type), an object is a new AgreementAvailability. Anything
// else (an unknown member, a duplicate, an escape, a non-ASCII byte, text
// after the object, ...) is errNotDirect, and the SDK decodes it.
func decodeAvailability(b []byte) (*bedrock.GetFoundationModelAvailabilityOutput, error) {
	s := jsonScan{b: b}
	out := &bedrock.GetFoundationModelAvailabilityOutput{}
	var seen uint8
	err := s.object(func(key string) error {
		var bit uint8
		switch key {
		case "modelId":
			bit = 1
			v, null, err := s.str()
			if err == nil && !null {
				out.ModelId = aws.String(v)
			}
			if err != nil {
				return err
			}
		case "authorizationStatus":
			bit = 2
			v, _, err := s.str()
			out.AuthorizationStatus = types.AuthorizationStatus(v)
			if err != nil {
				return err
			}
		case "entitlementAvailability":
			bit = 4
			v, _, err := s.str()
			out.EntitlementAvailability = types.EntitlementAvailability(v)
			if err != nil {
				return err
			}
		case "regionAvailability":
			bit = 8
			v, _, err := s.str()
			out.RegionAvailability = types.RegionAvailability(v)
			if err != nil {
				return err
			}
		case "agreementAvailability":
			bit = 16
			if s.null() {
				break
			}
			a := &types.AgreementAvailability{}
			var inner uint8
			if err := s.object(func(key string) error {
				var bit uint8
				switch key {
				case "status":
					bit = 1
					v, _, err := s.str()
					a.Status = types.AgreementStatus(v)
					if err != nil {
						return err
					}
				case "errorMessage":
					bit = 2
					v, null, err := s.str()
					if err != nil {
						return err
					}
					if !null {
						a.ErrorMessage = aws.String(v)
					}
				default:
					return notDirect("member "+key, s.pos)
				}
				if inner&bit != 0 {
					return notDirect("duplicate "+key, s.pos)
				}
				inner |= bit
				return nil
			}); err != nil {
				return err
			}
			out.AgreementAvailability = a
		default:
			return notDirect("member "+key, s.pos)
		}
		if seen&bit != 0 {
			return notDirect("duplicate "+key, s.pos)
		}
		seen |= bit
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.ws()
	if s.pos != len(s.b) {
		return nil, notDirect("text after the object", s.pos)
	}
	return out, nil
}

// jsonScan reads the small subset of JSON the direct decoders take.
type jsonScan struct {
	b   []byte
	pos int
}

func (s *jsonScan) ws() {
	for s.pos < len(s.b) {
		switch s.b[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *jsonScan) take(c byte) bool {
	s.ws()
	if s.pos < len(s.b) && s.b[s.pos] == c {
		s.pos++
		return true
	}
	return false
}

// null takes a null if one is next.
func (s *jsonScan) null() bool {
	s.ws()
	if len(s.b)-s.pos >= 4 && string(s.b[s.pos:s.pos+4]) == "null" {
		s.pos += 4
		return true
	}
	return false
}

// str reads a string without escapes, of printable ASCII, or a null.
func (s *jsonScan) str() (v string, null bool, err error) {
	if s.null() {
		return "", true, nil
	}
	if !s.take('"') {
		return "", false, notDirect("not a string", s.pos)
	}
	start := s.pos
	for s.pos < len(s.b) {
		c := s.b[s.pos]
		switch {
		case c == '"':
			v = string(s.b[start:s.pos])
			s.pos++
			return v, false, nil
		case c == '\\' || c < 0x20 || c >= 0x7f:
			return "", false, notDirect("escape or non-ASCII byte", s.pos)
		}
		s.pos++
	}
	return "", false, notDirect("unterminated string", s.pos)
}

// object reads an object, calling member after each key and its colon;
// member reads the value.
func (s *jsonScan) object(member func(key string) error) error {
	if !s.take('{') {
		return notDirect("not an object", s.pos)
	}
	if s.take('}') {
		return nil
	}
	for {
		key, null, err := s.str()
		if err != nil {
			return err
		}
		if null {
			return notDirect("null key", s.pos)
		}
		if !s.take(':') {
			return notDirect("no colon", s.pos)
		}
		if err := member(key); err != nil {
			return err
		}
		if s.take(',') {
			continue
		}
		if s.take('}') {
			return nil
		}
		return notDirect("no comma or brace", s.pos)
	}
}
