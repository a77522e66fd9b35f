package schema

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Kinds of SchemaChange that only JSON Schema has.
const (
	ChangeRequiredAdded   = "required added"
	ChangeRequiredRemoved = "required removed"
	ChangeFormat          = "format changed"
	ChangeAdditional      = "additionalProperties changed"
	ChangeRef             = "$ref changed"
)

// DiffJSONSchema compares two JSON Schema documents keyword by keyword:
// type, properties (added, removed, and each compared down), required,
// enum values, format, default, $ref, items, additionalProperties, the
// branches of oneOf, anyOf and allOf (as wholes), and the definitions
// under $defs and definitions. Paths: ".prop" steps into a property,
// "[]" into items, "{}" into additionalProperties, "/oneOf" to a
// combinator's branches, "#/$defs/Name" starts at a definition; "." is
// the top. Properties come in sorted order. Annotations (title, description,
// examples) are not changes.
func DiffJSONSchema(from, to string) ([]SchemaChange, error) {
	var a, b any
	if err := json.Unmarshal([]byte(from), &a); err != nil {
		return nil, fmt.Errorf("invalid JSON Schema: %w", err)
	}
	if err := json.Unmarshal([]byte(to), &b); err != nil {
		return nil, fmt.Errorf("invalid JSON Schema: %w", err)
	}
	d := &jsonDiffer{}
	d.schema(".", a, b)
	for _, defs := range []string{"$defs", "definitions"} {
		da, db := objectAt(a, defs), objectAt(b, defs)
		for _, name := range unionKeys(da, db) {
			path := "#/" + defs + "/" + name
			xa, ina := da[name]
			xb, inb := db[name]
			switch {
			case !inb:
				d.add(path, ChangeFieldRemoved, describeJSON(xa), "")
			case !ina:
				d.add(path, ChangeFieldAdded, "", describeJSON(xb))
			default:
				d.schema(path, xa, xb)
			}
		}
	}
	return d.out, nil
}

type jsonDiffer struct{ out []SchemaChange }

func (d *jsonDiffer) add(path, kind, from, to string) {
	d.out = append(d.out, SchemaChange{Path: path, Kind: kind, From: from, To: to})
}

func (d *jsonDiffer) schema(path string, a, b any) {
	ma, oka := a.(map[string]any)
	mb, okb := b.(map[string]any)
	if !oka || !okb { // true, false, or not a schema: compare as values
		if ja, jb := canonicalJSON(a), canonicalJSON(b); ja != jb {
			d.add(path, ChangeType, ja, jb)
		}
		return
	}
	if ta, tb := jsonTypes(ma), jsonTypes(mb); ta != tb {
		d.add(path, ChangeType, orNone(ta), orNone(tb))
	}
	for _, kw := range []struct{ key, kind string }{{"$ref", ChangeRef}, {"format", ChangeFormat}, {"default", ChangeDefault}} {
		if va, vb := keyword(ma, kw.key), keyword(mb, kw.key); va != vb {
			d.add(path, kw.kind, orNone(va), orNone(vb))
		}
	}
	d.values(path, ma["enum"], mb["enum"], ChangeSymbolRemoved, ChangeSymbolAdded)
	for _, k := range []string{"oneOf", "anyOf", "allOf"} {
		d.values(join(path, "/"+k), ma[k], mb[k], ChangeBranchRemoved, ChangeBranchAdded)
	}
	ra, rb := canonicalList(ma["required"]), canonicalList(mb["required"])
	for _, name := range ra {
		if !slices.Contains(rb, name) {
			d.add(join(path, "."+name), ChangeRequiredRemoved, "", "")
		}
	}
	for _, name := range rb {
		if !slices.Contains(ra, name) {
			d.add(join(path, "."+name), ChangeRequiredAdded, "", "")
		}
	}

	pa, pb := objectAt(ma, "properties"), objectAt(mb, "properties")
	for _, name := range unionKeys(pa, pb) {
		ppath := join(path, "."+name)
		xa, ina := pa[name]
		xb, inb := pb[name]
		switch {
		case !inb:
			d.add(ppath, ChangeFieldRemoved, describeJSON(xa), "")
		case !ina:
			d.add(ppath, ChangeFieldAdded, "", describeJSON(xb))
		default:
			d.schema(ppath, xa, xb)
		}
	}
	if ia, ib := ma["items"], mb["items"]; ia != nil || ib != nil {
		switch {
		case ia == nil || ib == nil:
			d.add(join(path, "[]"), ChangeType, orNone(describeJSON(ia)), orNone(describeJSON(ib)))
		default:
			d.schema(join(path, "[]"), ia, ib)
		}
	}
	aa, ab := ma["additionalProperties"], mb["additionalProperties"]
	_, sa := aa.(map[string]any)
	_, sb := ab.(map[string]any)
	if sa && sb {
		d.schema(join(path, "{}"), aa, ab)
	} else if ja, jb := canonicalJSON(aa), canonicalJSON(ab); ja != jb {
		d.add(path, ChangeAdditional, orNone(ja), orNone(jb))
	}
}

// values reports the members of list a missing from b, then those new in b.
func (d *jsonDiffer) values(path string, a, b any, removed, added string) {
	la, lb := canonicalList(a), canonicalList(b)
	for _, v := range la {
		if !slices.Contains(lb, v) {
			d.add(path, removed, v, "")
		}
	}
	for _, v := range lb {
		if !slices.Contains(la, v) {
			d.add(path, added, "", v)
		}
	}
}

func canonicalList(v any) []string {
	l, _ := v.([]any)
	out := make([]string, len(l))
	for i, x := range l {
		out[i] = canonicalJSON(x)
		if s, ok := x.(string); ok {
			out[i] = s // names read better bare: required "id", enum CARD
		}
	}
	return out
}

// canonicalJSON is v as JSON with sorted keys (encoding/json sorts map
// keys), "" for nil.
func canonicalJSON(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func keyword(m map[string]any, k string) string {
	v, ok := m[k]
	if !ok {
		return ""
	}
	if s, ok := v.(string); ok && k != "default" {
		return s
	}
	return canonicalJSON(v)
}

// jsonTypes is a schema's type keyword: "string", "[null, string]".
func jsonTypes(m map[string]any) string {
	switch t := m["type"].(type) {
	case string:
		return t
	case []any:
		names := canonicalList(t)
		slices.Sort(names)
		return "[" + strings.Join(names, ", ") + "]"
	}
	return ""
}

// describeJSON names a property's schema briefly: its type, $ref or JSON.
func describeJSON(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return canonicalJSON(v)
	}
	if t := jsonTypes(m); t != "" {
		if f, ok := m["format"].(string); ok {
			return t + "(" + f + ")"
		}
		return t
	}
	if r, ok := m["$ref"].(string); ok {
		return r
	}
	return canonicalJSON(v)
}

func objectAt(v any, k string) map[string]any {
	m, _ := v.(map[string]any)
	o, _ := m[k].(map[string]any)
	return o
}

// unionKeys lists the keys of a then those only in b, each sorted: a JSON
// object's order is not kept by encoding/json.
func unionKeys(a, b map[string]any) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var extra []string
	for k := range b {
		if _, ok := a[k]; !ok {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	return append(keys, extra...)
}
