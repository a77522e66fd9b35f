package schema

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// JSON Schema compatibility, as Confluent's Schema Registry judges it: the
// writer's schema (the "original") against the reader's (the "update"),
// keyword by keyword. A schema is first seen the way the registry's
// parser sees it: one type (string, number, object...), an enum, a const,
// a not, or a combination (allOf, anyOf, oneOf); a "type" list is an
// anyOf of one schema per type, and several of those kinds in one object
// are their allOf. $refs are followed, references included.
//
// The content model matters most: an object without additionalProperties
// is open (any other property may appear, of any type), so a property
// added to it may contradict data already written, and is refused; with
// additionalProperties false it is closed, so a property removed from it
// is refused instead.

type jsonKind int

const (
	jkEmpty jsonKind = iota // true, {}: anything
	jkFalse                 // false: nothing
	jkString
	jkNumber // integer too, with jsonNode.integer
	jkBoolean
	jkNull
	jkObject
	jkArray
	jkEnum
	jkConst
	jkNot
	jkAllOf
	jkAnyOf
	jkOneOf
)

var jsonKindNames = [...]string{"anything", "nothing", "string", "number", "boolean", "null", "object", "array",
	"enum", "const", "not", "allOf", "anyOf", "oneOf"}

type jsonNode struct {
	kind    jsonKind
	integer bool
	parts   bool               // the allOf of one schema object's several kinds
	s       *jsonschema.Schema // the keywords
	subs    []*jsonNode        // a combination's branches
}

func (n *jsonNode) describe() string {
	switch {
	case n.kind == jkNumber && n.integer:
		return "integer"
	case n.kind >= jkAllOf:
		sep := " or "
		if n.kind == jkAllOf {
			sep = " and "
		}
		names := make([]string, len(n.subs))
		for i, sub := range n.subs {
			names[i] = sub.describe()
		}
		return jsonKindNames[n.kind] + "(" + strings.Join(names, sep) + ")"
	}
	return jsonKindNames[n.kind]
}

// maxJSONDepth bounds the $ref and combination chains a schema is seen
// through: deeper, it is taken as "anything".
const maxJSONDepth = 64

func jsonNodeOf(s *jsonschema.Schema, depth int) *jsonNode {
	if s == nil {
		return nil
	}
	if s.Bool != nil {
		if *s.Bool {
			return &jsonNode{kind: jkEmpty, s: s}
		}
		return &jsonNode{kind: jkFalse, s: s}
	}
	if depth > maxJSONDepth {
		return &jsonNode{kind: jkEmpty, s: s}
	}
	var parts []*jsonNode
	if s.Ref != nil {
		parts = append(parts, jsonNodeOf(s.Ref, depth+1))
	}
	var typed []*jsonNode
	for _, t := range jsonTypesOf(s) {
		n := &jsonNode{s: s}
		switch t {
		case "string":
			n.kind = jkString
		case "number":
			n.kind = jkNumber
		case "integer":
			n.kind, n.integer = jkNumber, true
		case "boolean":
			n.kind = jkBoolean
		case "null":
			n.kind = jkNull
		case "object":
			n.kind = jkObject
		case "array":
			n.kind = jkArray
		}
		typed = append(typed, n)
	}
	switch len(typed) {
	case 0:
	case 1:
		parts = append(parts, typed[0])
	default:
		parts = append(parts, &jsonNode{kind: jkAnyOf, s: s, subs: typed})
	}
	if s.Enum != nil {
		parts = append(parts, &jsonNode{kind: jkEnum, s: s})
	}
	if s.Const != nil {
		parts = append(parts, &jsonNode{kind: jkConst, s: s})
	}
	if s.Not != nil {
		parts = append(parts, &jsonNode{kind: jkNot, s: s})
	}
	for _, c := range []struct {
		kind jsonKind
		subs []*jsonschema.Schema
	}{{jkAllOf, s.AllOf}, {jkAnyOf, s.AnyOf}, {jkOneOf, s.OneOf}} {
		if len(c.subs) == 0 {
			continue
		}
		n := &jsonNode{kind: c.kind, s: s}
		for _, sub := range c.subs {
			n.subs = append(n.subs, jsonNodeOf(sub, depth+1))
		}
		parts = append(parts, n)
	}
	switch len(parts) {
	case 0:
		return &jsonNode{kind: jkEmpty, s: s}
	case 1:
		return parts[0]
	}
	return &jsonNode{kind: jkAllOf, s: s, subs: parts, parts: true}
}

// jsonTypesOf is the schema's "type", or the type its keywords imply.
func jsonTypesOf(s *jsonschema.Schema) []string {
	if s.Types != nil && !s.Types.IsEmpty() {
		types := s.Types.ToStrings()
		if slices.Contains(types, "number") { // number takes integer in
			types = slices.DeleteFunc(types, func(t string) bool { return t == "integer" })
		}
		return types
	}
	var types []string
	if s.Properties != nil || s.Required != nil || s.AdditionalProperties != nil || s.PatternProperties != nil ||
		s.MinProperties != nil || s.MaxProperties != nil {
		types = append(types, "object")
	}
	if s.Items != nil || s.PrefixItems != nil || s.Items2020 != nil || s.MinItems != nil || s.MaxItems != nil || s.UniqueItems {
		types = append(types, "array")
	}
	if s.MinLength != nil || s.MaxLength != nil || s.Pattern != nil {
		types = append(types, "string")
	}
	if s.Minimum != nil || s.Maximum != nil || s.ExclusiveMinimum != nil || s.ExclusiveMaximum != nil || s.MultipleOf != nil {
		types = append(types, "number")
	}
	return types
}

type jsonCompat struct {
	busy map[jsonPair]bool // pairs being compared: a recursive schema ends there
}

// jsonPair names a comparison: one schema object stands for several nodes.
type jsonPair struct {
	o, u           *jsonschema.Schema
	ok, uk         jsonKind
	oparts, uparts bool
}

func jsonIncompatibilities(writer, reader *jsonschema.Schema) []Incompatibility {
	c := &jsonCompat{busy: map[jsonPair]bool{}}
	return c.compare("#", jsonNodeOf(writer, 0), jsonNodeOf(reader, 0))
}

func incompat(path, kind, reason string) []Incompatibility {
	return []Incompatibility{{Kind: kind, Path: path, Reason: reason}}
}

// compare returns what keeps the reader u from reading what the writer o
// allowed.
func (c *jsonCompat) compare(path string, o, u *jsonNode) []Incompatibility {
	switch {
	case o == nil && u == nil:
		return nil
	case o == nil:
		return incompat(path, "SCHEMA_ADDED", "a schema was added where there was none")
	case u == nil:
		return nil
	}
	combined := func(n *jsonNode) bool { return n.kind >= jkAllOf }
	switch {
	case !combined(o) && combined(u):
		if len(u.subs) == 1 {
			if out := c.compare(path, o, u.subs[0]); len(out) == 0 {
				return nil
			}
		} else if u.kind != jkAllOf {
			for _, sub := range u.subs {
				if len(c.compare(path, o, sub)) == 0 {
					return nil // the reader takes the writer's type among others
				}
			}
		}
	case combined(o) && !combined(u) && len(o.subs) == 1:
		if len(c.compare(path, o.subs[0], u)) == 0 {
			return nil
		}
	}
	if o.kind != u.kind {
		if o.kind == jkFalse || u.kind == jkEmpty {
			return nil
		}
		return incompat(path, "TYPE_CHANGED", "written as "+o.describe()+", read as "+u.describe())
	}
	key := jsonPair{o.s, u.s, o.kind, u.kind, o.parts, u.parts}
	if c.busy[key] {
		return nil
	}
	c.busy[key] = true
	defer delete(c.busy, key)

	switch o.kind {
	case jkString:
		return c.text(path, o.s, u.s)
	case jkNumber:
		return c.numbers(path, o, u)
	case jkEnum:
		return enumValues(path+"/enum", o.s.Enum.Values, u.s.Enum.Values)
	case jkConst:
		if canonical(*o.s.Const) != canonical(*u.s.Const) {
			return incompat(path+"/const", "ENUM_ARRAY_CHANGED",
				"const "+canonical(*o.s.Const)+" became "+canonical(*u.s.Const))
		}
	case jkNot:
		// Reversed: the reader refuses less if its "not" matches less.
		if len(c.compare(path+"/not", jsonNodeOf(u.s.Not, 0), jsonNodeOf(o.s.Not, 0))) > 0 {
			return incompat(path+"/not", "NOT_TYPE_EXTENDED", "the reader's not refuses values the writer allowed")
		}
	case jkAllOf, jkAnyOf, jkOneOf:
		return c.combination(path, o, u)
	case jkObject:
		return c.object(path, o.s, u.s)
	case jkArray:
		return c.array(path, o.s, u.s)
	}
	return nil
}

func (c *jsonCompat) text(path string, o, u *jsonschema.Schema) []Incompatibility {
	var out []Incompatibility
	out = append(out, limit(path+"/maxLength", "MAX_LENGTH", intRat(o.MaxLength), intRat(u.MaxLength), true)...)
	out = append(out, limit(path+"/minLength", "MIN_LENGTH", intRat(o.MinLength), intRat(u.MinLength), false)...)
	switch po, pu := regexpText(o.Pattern), regexpText(u.Pattern); {
	case po == "" && pu != "":
		out = append(out, incompat(path+"/pattern", "PATTERN_ADDED", "pattern "+strconv.Quote(pu)+" added")...)
	case po != "" && pu != "" && po != pu:
		out = append(out, incompat(path+"/pattern", "PATTERN_CHANGED",
			"pattern "+strconv.Quote(po)+" became "+strconv.Quote(pu))...)
	}
	return out
}

func regexpText(r jsonschema.Regexp) string {
	if r == nil {
		return ""
	}
	return r.String()
}

func (c *jsonCompat) numbers(path string, o, u *jsonNode) []Incompatibility {
	var out []Incompatibility
	out = append(out, limit(path+"/maximum", "MAXIMUM", o.s.Maximum, u.s.Maximum, true)...)
	out = append(out, limit(path+"/minimum", "MINIMUM", o.s.Minimum, u.s.Minimum, false)...)
	out = append(out, limit(path+"/exclusiveMaximum", "EXCLUSIVE_MAXIMUM", o.s.ExclusiveMaximum, u.s.ExclusiveMaximum, true)...)
	out = append(out, limit(path+"/exclusiveMinimum", "EXCLUSIVE_MINIMUM", o.s.ExclusiveMinimum, u.s.ExclusiveMinimum, false)...)
	if mo, mu := o.s.MultipleOf, u.s.MultipleOf; mu != nil {
		switch {
		case mo == nil:
			out = append(out, incompat(path+"/multipleOf", "MULTIPLE_OF_ADDED", "multipleOf "+mu.RatString()+" added")...)
		case mo.Cmp(mu) != 0 && !isMultiple(mo, mu):
			out = append(out, incompat(path+"/multipleOf", "MULTIPLE_OF_CHANGED",
				"multipleOf "+mo.RatString()+" became "+mu.RatString())...)
		}
	}
	if !o.integer && u.integer {
		out = append(out, incompat(path, "TYPE_NARROWED", "written as number, read as integer")...)
	}
	return out
}

// isMultiple reports whether a is a whole multiple of b: every multiple of
// a is then one of b.
func isMultiple(a, b *big.Rat) bool {
	q := new(big.Rat).Quo(a, b)
	return q.IsInt()
}

// limit compares a bound: a reader that adds one, or tightens it (lowers a
// maximum, raises a minimum), refuses values the writer allowed.
func limit(path, name string, o, u *big.Rat, upper bool) []Incompatibility {
	switch {
	case u == nil:
		return nil
	case o == nil:
		return incompat(path, name+"_ADDED", fmt.Sprintf("bound %s added", u.RatString()))
	case upper && u.Cmp(o) < 0:
		return incompat(path, name+"_DECREASED", fmt.Sprintf("lowered from %s to %s", o.RatString(), u.RatString()))
	case !upper && u.Cmp(o) > 0:
		return incompat(path, name+"_INCREASED", fmt.Sprintf("raised from %s to %s", o.RatString(), u.RatString()))
	}
	return nil
}

func intRat(n *int) *big.Rat {
	if n == nil {
		return nil
	}
	return new(big.Rat).SetInt64(int64(*n))
}

func enumValues(path string, o, u []any) []Incompatibility {
	var missing []string
	for _, v := range o {
		cv := canonical(v)
		if !slices.ContainsFunc(u, func(w any) bool { return canonical(w) == cv }) {
			missing = append(missing, cv)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	kind := "ENUM_ARRAY_CHANGED"
	if len(u) < len(o) && len(missing) == len(o)-len(u) {
		kind = "ENUM_ARRAY_NARROWED"
	}
	return incompat(path, kind, "the reader refuses values the writer allows: "+strings.Join(missing, ", "))
}

func canonical(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// combination compares two allOf, anyOf or oneOf: the criteria, then the
// branches, each writer branch matched to a reader branch that reads it.
func (c *jsonCompat) combination(path string, o, u *jsonNode) []Incompatibility {
	crit := func(n *jsonNode) string { return jsonKindNames[n.kind] }
	if o.kind != u.kind {
		ok := u.kind == jkAnyOf ||
			(u.kind == jkOneOf && len(o.subs) == 1) ||
			(u.kind == jkAllOf && len(o.subs) == 1 && len(u.subs) == 1)
		if !ok {
			return incompat(path, "COMBINED_TYPE_CHANGED", crit(o)+" became "+crit(u))
		}
	}
	var out []Incompatibility
	switch {
	case len(o.subs) < len(u.subs) && u.kind == jkAllOf:
		out = append(out, incompat(path, "PRODUCT_TYPE_EXTENDED", fmt.Sprintf("allOf grew from %d to %d schemas", len(o.subs), len(u.subs)))...)
	case len(o.subs) > len(u.subs) && u.kind != jkAllOf:
		out = append(out, incompat(path, "SUM_TYPE_NARROWED", fmt.Sprintf("%s shrank from %d to %d schemas", crit(u), len(o.subs), len(u.subs)))...)
	}
	// reads[i] lists the reader branches that read writer branch i.
	reads := make([][]int, len(o.subs))
	for i, x := range o.subs {
		for j, y := range u.subs {
			if len(c.compare(fmt.Sprintf("%s/%s/%d", path, crit(o), i), x, y)) == 0 {
				reads[i] = append(reads[i], j)
			}
		}
	}
	if matched := maxMatching(reads, len(u.subs)); matched < min(len(o.subs), len(u.subs)) {
		out = append(out, incompat(path, "COMBINED_TYPE_SUBSCHEMAS_CHANGED",
			fmt.Sprintf("only %d of the writer's %d %s schemas have a reader schema that reads them", matched, len(o.subs), crit(o)))...)
	}
	return out
}

// maxMatching is the size of a maximum matching of the bipartite graph
// edges (left i to right edges[i]) by augmenting paths: combinations have
// a handful of branches.
func maxMatching(edges [][]int, right int) int {
	owner := make([]int, right)
	for j := range owner {
		owner[j] = -1
	}
	var try func(i int, seen []bool) bool
	try = func(i int, seen []bool) bool {
		for _, j := range edges[i] {
			if seen[j] {
				continue
			}
			seen[j] = true
			if owner[j] < 0 || try(owner[j], seen) {
				owner[j] = i
				return true
			}
		}
		return false
	}
	n := 0
	for i := range edges {
		if try(i, make([]bool, right)) {
			n++
		}
	}
	return n
}

// additional is an object's additionalProperties: whether it permits other
// properties, and the schema they must match.
func additional(v any) (permits bool, s *jsonschema.Schema) {
	switch v := v.(type) {
	case bool:
		return v, nil
	case *jsonschema.Schema:
		if v.Bool != nil {
			return *v.Bool, nil
		}
		return true, v
	}
	return true, nil
}

func openObject(s *jsonschema.Schema) bool {
	permits, schema := additional(s.AdditionalProperties)
	return len(s.PatternProperties) == 0 && schema == nil && permits
}

// partialSchema is the schema a property not listed in s must match when
// s is partly open: a matching patternProperties, or additionalProperties.
func partialSchema(s *jsonschema.Schema, name string) *jsonschema.Schema {
	for re, sub := range s.PatternProperties {
		if re.MatchString(name) {
			return sub
		}
	}
	_, schema := additional(s.AdditionalProperties)
	return schema
}

func (c *jsonCompat) object(path string, o, u *jsonschema.Schema) []Incompatibility {
	var out []Incompatibility
	for _, name := range slices.Sorted(maps.Keys(o.Properties)) {
		if _, ok := u.Properties[name]; ok && !slices.Contains(o.Required, name) && slices.Contains(u.Required, name) &&
			u.Properties[name].Default == nil {
			out = append(out, incompat(path+"/required/"+name, "REQUIRED_ATTRIBUTE_ADDED",
				"property "+name+" became required, without a default: data written without it is refused")...)
		}
	}
	props := slices.Sorted(maps.Keys(o.Properties))
	for _, name := range slices.Sorted(maps.Keys(u.Properties)) {
		if _, ok := o.Properties[name]; !ok {
			props = append(props, name)
		}
	}
	for _, name := range props {
		ppath := path + "/properties/" + name
		xo, ino := o.Properties[name]
		xu, inu := u.Properties[name]
		switch {
		case !inu:
			if openObject(u) {
				continue
			}
			if partial := partialSchema(u, name); partial != nil {
				if sub := c.compare(ppath, jsonNodeOf(xo, 0), jsonNodeOf(partial, 0)); len(sub) > 0 {
					out = append(out, sub...)
					out = append(out, incompat(ppath, "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
						"property removed, and the reader's patternProperties or additionalProperties do not read it")...)
				}
				continue
			}
			if xo.Bool != nil && !*xo.Bool {
				continue
			}
			out = append(out, incompat(ppath, "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",
				"property removed from a closed content model (additionalProperties false): data that has it is refused")...)
		case !ino:
			if openObject(o) {
				if jsonNodeOf(xu, 0).kind != jkEmpty {
					out = append(out, incompat(ppath, "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL",
						"property added to an open content model (no additionalProperties false): data written may already have it, of any type")...)
				}
				continue
			}
			if partial := partialSchema(o, name); partial != nil {
				if sub := c.compare(ppath, jsonNodeOf(partial, 0), jsonNodeOf(xu, 0)); len(sub) > 0 {
					out = append(out, sub...)
					out = append(out, incompat(ppath, "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
						"property added that the writer's patternProperties or additionalProperties allowed otherwise")...)
				}
			}
			if slices.Contains(u.Required, name) && xu.Default == nil {
				out = append(out, incompat(ppath, "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
					"required property added without a default: data written without it is refused")...)
			}
		default:
			out = append(out, c.compare(ppath, jsonNodeOf(xo, 0), jsonNodeOf(xu, 0))...)
		}
	}
	apath := path + "/additionalProperties"
	po, so := additional(o.AdditionalProperties)
	pu, su := additional(u.AdditionalProperties)
	switch {
	case po && !pu:
		out = append(out, incompat(apath, "ADDITIONAL_PROPERTIES_REMOVED",
			"additionalProperties became false: data with other properties is refused")...)
	case po != pu:
	case so == nil && su != nil:
		out = append(out, incompat(apath, "ADDITIONAL_PROPERTIES_NARROWED",
			"additionalProperties gained a schema: other properties written may not match it")...)
	case so != nil && su != nil:
		out = append(out, c.compare(apath, jsonNodeOf(so, 0), jsonNodeOf(su, 0))...)
	}
	out = append(out, limit(path+"/maxProperties", "MAX_PROPERTIES", intRat(o.MaxProperties), intRat(u.MaxProperties), true)...)
	out = append(out, limit(path+"/minProperties", "MIN_PROPERTIES", intRat(o.MinProperties), intRat(u.MinProperties), false)...)
	return out
}

// arrayItems is an array's items in every draft: a schema for all items,
// or a tuple's schemas and a schema for the rest (additionalItems before
// 2020-12, items after), which may be false.
func arrayItems(s *jsonschema.Schema) (all *jsonschema.Schema, tuple []*jsonschema.Schema, permits bool, rest *jsonschema.Schema) {
	permits = true
	switch items := s.Items.(type) {
	case *jsonschema.Schema:
		all = items
	case []*jsonschema.Schema:
		tuple = items
		permits, rest = additional(s.AdditionalItems)
	}
	if s.PrefixItems != nil {
		tuple = s.PrefixItems
		permits, rest = additional(s.Items2020)
		if s.Items2020 == nil {
			permits = true
		}
	} else if s.Items2020 != nil {
		all = s.Items2020
	}
	return all, tuple, permits, rest
}

func (c *jsonCompat) array(path string, o, u *jsonschema.Schema) []Incompatibility {
	var out []Incompatibility
	ao, to, po, ro := arrayItems(o)
	au, tu, pu, ru := arrayItems(u)
	out = append(out, c.compare(path+"/items", jsonNodeOf(ao, 0), jsonNodeOf(au, 0))...)
	for i := range max(len(to), len(tu)) {
		ipath := fmt.Sprintf("%s/items/%d", path, i)
		switch {
		case i < len(to) && i < len(tu):
			out = append(out, c.compare(ipath, jsonNodeOf(to[i], 0), jsonNodeOf(tu[i], 0))...)
		case i < len(to): // the reader's tuple is shorter
			switch {
			case pu && ru == nil:
			case ru != nil:
				if sub := c.compare(ipath, jsonNodeOf(to[i], 0), jsonNodeOf(ru, 0)); len(sub) > 0 {
					out = append(out, sub...)
					out = append(out, incompat(ipath, "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
						"tuple item removed, and the reader's schema for further items does not read it")...)
				}
			case to[i].Bool == nil || *to[i].Bool:
				out = append(out, incompat(ipath, "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL",
					"tuple item removed from a closed content model: data that has it is refused")...)
			}
		default: // the reader's tuple is longer
			switch {
			case po && ro == nil:
				if jsonNodeOf(tu[i], 0).kind != jkEmpty {
					out = append(out, incompat(ipath, "ITEM_ADDED_TO_OPEN_CONTENT_MODEL",
						"tuple item added to an open content model: data written may already have it, of any type")...)
				}
			case ro != nil:
				if sub := c.compare(ipath, jsonNodeOf(ro, 0), jsonNodeOf(tu[i], 0)); len(sub) > 0 {
					out = append(out, sub...)
					out = append(out, incompat(ipath, "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
						"tuple item added that the writer's schema for further items allowed otherwise")...)
				}
			}
		}
	}
	apath := path + "/additionalItems"
	switch {
	case po && !pu:
		out = append(out, incompat(apath, "ADDITIONAL_ITEMS_REMOVED", "further items became refused")...)
	case po != pu:
	case ro == nil && ru != nil:
		out = append(out, incompat(apath, "ADDITIONAL_ITEMS_NARROWED", "further items gained a schema")...)
	case ro != nil && ru != nil:
		out = append(out, c.compare(apath, jsonNodeOf(ro, 0), jsonNodeOf(ru, 0))...)
	}
	out = append(out, limit(path+"/maxItems", "MAX_ITEMS", intRat(o.MaxItems), intRat(u.MaxItems), true)...)
	out = append(out, limit(path+"/minItems", "MIN_ITEMS", intRat(o.MinItems), intRat(u.MinItems), false)...)
	if !o.UniqueItems && u.UniqueItems {
		out = append(out, incompat(path+"/uniqueItems", "UNIQUE_ITEMS_ADDED", "items must now be unique")...)
	}
	return out
}
