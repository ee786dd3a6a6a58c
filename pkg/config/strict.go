package config

import (
	"fmt"
	"reflect"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// MaxMappingKeys bounds the keys of one YAML mapping (such as
// models.by_account): yaml.v3 compares every key of a mapping with every
// other to find duplicates, so a mapping of 100,000 keys would take the
// decoder minutes. No configuration names 10,000 OUs or accounts one by one.
const MaxMappingKeys = 10_000

// maxKeysListed is how many unknown or repeated keys an error names; the
// rest are counted.
const maxKeysListed = 20

// checkKeys walks the YAML tree once against the Go type it decodes into and
// reports unknown and repeated keys, and mappings larger than
// MaxMappingKeys, before yaml.v3 decodes it: each mapping's keys go through a
// set, so the check is linear in the size of the file, and the error names at
// most maxKeysListed keys and counts the rest (a file of 100,000 unknown keys
// would otherwise take yaml.v3 most of a minute and an error of a megabyte).
func checkKeys(root *yaml.Node, t reflect.Type) error {
	k := keyCheck{}
	k.walk(root, t, "")
	if k.found == 0 {
		return nil
	}
	msg := strings.Join(k.listed, "; ")
	if more := k.found - len(k.listed); more > 0 {
		msg += fmt.Sprintf("; and %d more", more)
	}
	return fmt.Errorf("parse yaml: %d bad keys: %s", k.found, msg)
}

type keyCheck struct {
	found  int
	listed []string
}

func (k *keyCheck) bad(format string, args ...any) {
	k.found++
	if len(k.listed) < maxKeysListed {
		k.listed = append(k.listed, fmt.Sprintf(format, args...))
	}
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

func (k *keyCheck) walk(n *yaml.Node, t reflect.Type, path string) {
	if n == nil || t == nil {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || t.Kind() == reflect.Interface {
		return // decodes itself, or takes anything
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			k.walk(c, t, path)
		}
	case yaml.SequenceNode:
		if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
			return // yaml.v3 reports the type mismatch
		}
		for i, c := range n.Content {
			k.walk(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case yaml.MappingNode:
		k.mapping(n, t, path)
	}
	// Aliases are left to yaml.v3, which decodes them with KnownFields too.
}

func (k *keyCheck) mapping(n *yaml.Node, t reflect.Type, path string) {
	var fields map[string]reflect.Type
	switch t.Kind() {
	case reflect.Struct:
		fields = structFields(t)
	case reflect.Map:
	default:
		return // yaml.v3 reports the type mismatch
	}
	if t.Kind() == reflect.Map && len(n.Content)/2 > MaxMappingKeys {
		k.bad("line %d: %s has %d keys, more than %d", n.Line, cmpPath(path), len(n.Content)/2, MaxMappingKeys)
		return
	}
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		if key.Kind != yaml.ScalarNode || key.Value == "<<" {
			continue // merge keys and complex keys: yaml.v3 decides
		}
		name := key.Value
		if line, dup := seen[name]; dup {
			k.bad("line %d: key %q of %s already defined at line %d", key.Line, clip(name), cmpPath(path), line)
			continue
		}
		seen[name] = key.Line
		child := joinPath(path, name)
		if t.Kind() == reflect.Map {
			k.walk(val, t.Elem(), child)
			continue
		}
		ft, ok := fields[name]
		if !ok {
			k.bad("line %d: field %s not found in %s", key.Line, clip(name), cmpPath(path))
			continue
		}
		k.walk(val, ft, child)
	}
}

func joinPath(path, name string) string {
	if path == "" {
		return clip(name)
	}
	return path + "." + clip(name)
}

func cmpPath(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

// clip shortens a key for an error message: a key may be a kilobyte long.
func clip(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("%s... (%d bytes)", strings.ToValidUTF8(s[:n], ""), len(s))
}

var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

// structFields maps the YAML keys of a struct to their types, inline
// structs' keys included, as yaml.v3 names them (its tag, or the field name
// in lower case).
func structFields(t reflect.Type) map[string]reflect.Type {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]reflect.Type)
	}
	fields := map[string]reflect.Type{}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(","+opts+",", ",inline,") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range structFields(ft) {
					fields[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	fieldCache.Store(t, fields)
	return fields
}
