// The small subset of JSON the direct decoders take (lean_bedrock.go):
// objects, arrays, strings of printable ASCII without escapes, booleans
// and null. Anything else is errNotDirect, and the SDK decodes the answer.

package check

import (
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	smithytime "github.com/aws/smithy-go/time"
)

// jsonScan reads the small subset of JSON the direct decoders take.
type jsonScan struct {
	b   []byte
	pos int
	// strs, when set, gives one shared copy of each string read.
	strs *interner
	// ptrs is a slab for the strings the output points to, so that each
	// is not an allocation of its own.
	ptrs []string
}

// interner keeps one copy of each short string the direct decoders read:
// every account's answers repeat the same model ids, names, ARNs and
// states, and a run holds what it read until it ends. It stops adding at
// maxInterned strings; a string it does not hold is a copy as before.
type interner struct {
	mu sync.RWMutex
	m  map[string]string
}

const maxInterned, maxInternedLen = 1 << 14, 256

func newInterner() *interner { return &interner{m: map[string]string{}} }

// getString is get for a string that may share memory with an answer: what
// it returns never does.
func (in *interner) getString(s string) string {
	if in == nil || len(s) > maxInternedLen {
		return strings.Clone(s)
	}
	in.mu.RLock()
	v, ok := in.m[s]
	in.mu.RUnlock()
	if ok {
		return v
	}
	v = strings.Clone(s)
	in.mu.Lock()
	if len(in.m) < maxInterned {
		in.m[v] = v
	}
	in.mu.Unlock()
	return v
}

func (in *interner) get(b []byte) string {
	if in == nil || len(b) > maxInternedLen {
		return string(b)
	}
	in.mu.RLock()
	s, ok := in.m[string(b)] // no allocation for the lookup
	in.mu.RUnlock()
	if ok {
		return s
	}
	s = string(b)
	in.mu.Lock()
	if len(in.m) < maxInterned {
		in.m[s] = s
	}
	in.mu.Unlock()
	return s
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
			v = s.strs.get(s.b[start:s.pos])
			s.pos++
			return v, false, nil
		case c == '\\' || c < 0x20 || c >= 0x7f:
			return "", false, notDirect("escape or non-ASCII byte", s.pos)
		}
		s.pos++
	}
	return "", false, notDirect("unterminated string", s.pos)
}

// object reads an object. member reads the value after each key and says
// which bit of the object's members it was, so that a duplicate is caught.
func (s *jsonScan) object(member func(key string) (uint32, error)) error {
	if !s.take('{') {
		return notDirect("not an object", s.pos)
	}
	if s.take('}') {
		return nil
	}
	var seen uint32
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
		bit, err := member(key)
		if err != nil {
			return err
		}
		if seen&bit != 0 {
			return notDirect("duplicate "+key, s.pos)
		}
		seen |= bit
		if s.take(',') {
			continue
		}
		if s.take('}') {
			return nil
		}
		return notDirect("no comma or brace", s.pos)
	}
}

// array reads an array, calling elem for each element.
func (s *jsonScan) array(elem func() error) error {
	if !s.take('[') {
		return notDirect("not an array", s.pos)
	}
	if s.take(']') {
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		if s.take(',') {
			continue
		}
		if s.take(']') {
			return nil
		}
		return notDirect("no comma or bracket", s.pos)
	}
}

// whole reads one value and nothing after it but white space.
func (s *jsonScan) whole(value func() error) error {
	if err := value(); err != nil {
		return err
	}
	s.ws()
	if s.pos != len(s.b) {
		return notDirect("text after the value", s.pos)
	}
	return nil
}

// optional reads a null (leaving everything unset, as the SDK does) or the
// value.
func (s *jsonScan) optional(value func() error) error {
	if s.null() {
		return nil
	}
	return value()
}

func (s *jsonScan) strPtr(dst **string) error {
	v, null, err := s.str()
	if err == nil && !null {
		if len(s.ptrs) == cap(s.ptrs) {
			s.ptrs = make([]string, 0, 16)
		}
		s.ptrs = append(s.ptrs, v)
		*dst = &s.ptrs[len(s.ptrs)-1]
	}
	return err
}

func enum[T ~string](s *jsonScan, dst *T) error {
	v, null, err := s.str()
	if err == nil && !null {
		*dst = T(v)
	}
	return err
}

// list reads a list of strings: null leaves it nil, [] is empty, a null
// element is the zero value (the SDK's list deserializers).
func list[T ~string](s *jsonScan, dst *[]T) error {
	return s.optional(func() error {
		*dst = []T{}
		return s.array(func() error {
			var v T
			err := enum(s, &v)
			*dst = append(*dst, v)
			return err
		})
	})
}

func (s *jsonScan) boolPtr(dst **bool) error {
	s.ws()
	switch {
	case s.null():
	case len(s.b)-s.pos >= 4 && string(s.b[s.pos:s.pos+4]) == "true":
		s.pos += 4
		*dst = aws.Bool(true)
	case len(s.b)-s.pos >= 5 && string(s.b[s.pos:s.pos+5]) == "false":
		s.pos += 5
		*dst = aws.Bool(false)
	default:
		return notDirect("not a boolean", s.pos)
	}
	return nil
}

// timePtr reads a date-time string with smithy's ParseDateTime, the
// function the SDK's deserializer calls; one it refuses is the SDK's to
// report.
func (s *jsonScan) timePtr(dst **time.Time) error {
	v, null, err := s.str()
	if err != nil || null {
		return err
	}
	t, err := smithytime.ParseDateTime(v)
	if err != nil {
		return notDirect("date-time "+err.Error(), s.pos)
	}
	*dst = aws.Time(t)
	return nil
}
