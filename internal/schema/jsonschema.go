package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// jsonSchemaBase is the URL a JSON Schema without an $id is compiled at;
// a reference's Name, relative to it, is where its $ref finds it.
const jsonSchemaBase = "mem://evctl/"

// jsonValidator is a compiled JSON Schema, or why it does not compile.
type jsonValidator struct {
	schema *jsonschema.Schema
	err    error
}

// compileJSONSchema compiles JSON Schema text whose $refs may name
// referenced schemas (a reference's Name is the URL a $ref gives, absolute
// or relative to the root), which lookup fetches, recursively. Nothing is
// loaded from files or the network: a $ref that no reference names fails.
// name labels the root in errors.
func compileJSONSchema(name, text string, refs []Reference, lookup ReferenceLookup) (*jsonschema.Schema, error) {
	if err := jsonSyntax(name, "JSON Schema", text); err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	root := jsonSchemaBase + url.PathEscape(name)
	base, _ := url.Parse(root) // a constant prefix and an escaped segment: always parses
	add := func(r Reference, text string) error {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
		if err != nil {
			return fmt.Errorf("invalid JSON Schema: %w", err)
		}
		u, err := url.Parse(r.Name)
		if err != nil {
			return fmt.Errorf("reference name %q is not a URL: %w", r.Name, err)
		}
		return c.AddResource(base.ResolveReference(u).String(), doc)
	}
	p := refParser{add: add, lookup: lookup, done: map[Reference]bool{}, busy: map[Reference]bool{}}
	if err := p.resolve(refs, 0); err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("invalid JSON Schema: %w", err)
	}
	if err := c.AddResource(root, doc); err != nil {
		return nil, fmt.Errorf("invalid JSON Schema: %w", err)
	}
	s, err := c.Compile(root)
	var meta *jsonschema.SchemaValidationError
	var ve *jsonschema.ValidationError
	if errors.As(err, &meta) && errors.As(meta.Err, &ve) {
		return nil, fmt.Errorf("invalid JSON Schema: not valid against its metaschema: %s", validationReason(ve))
	}
	if err != nil {
		return nil, fmt.Errorf("invalid JSON Schema: %s", strings.ReplaceAll(err.Error(), jsonSchemaBase, ""))
	}
	return s, nil
}

// noLoader refuses every URL the compiler would fetch: a registered
// schema's $refs are its references, never files or hosts.
type noLoader struct{}

func (noLoader) Load(u string) (any, error) {
	return nil, fmt.Errorf("no reference of the schema names %s: register it under a subject and reference it", strings.TrimPrefix(u, jsonSchemaBase))
}

// PositionError is an error at a place in a schema's text, which its
// Error names first: "file.avsc:3:14: invalid Avro schema: not JSON: …".
type PositionError struct {
	Pos string // file:line:column
	Err error
}

func (e *PositionError) Error() string { return e.Pos + ": " + e.Err.Error() }

func (e *PositionError) Unwrap() error { return e.Err }

// jsonSyntax reports text that is not JSON with the line and column
// where it stops being JSON, as what (an "Avro schema") that is invalid.
func jsonSyntax(name, what, text string) error {
	var v any
	err := json.Unmarshal([]byte(text), &v)
	var syntax *json.SyntaxError
	if !errors.As(err, &syntax) {
		return nil
	}
	line, col := lineCol(text, syntax.Offset)
	return &PositionError{Pos: fmt.Sprintf("%s:%d:%d", name, line, col), Err: fmt.Errorf("invalid %s: not JSON: %w", what, syntax)}
}

// lineCol is the 1-based line and column of byte offset n in text, which
// is where encoding/json stopped: the byte before n is the bad one.
func lineCol(text string, n int64) (line, col int) {
	n = min(max(n-1, 0), int64(len(text)))
	before := text[:n]
	line = strings.Count(before, "\n") + 1
	col = int(n) - strings.LastIndexByte(before, '\n')
	return line, col
}

// ValidateJSON validates a JSON value against s, a JSON Schema. The error
// says where the value breaks the schema ("/amount: got string, want
// number"), or that the schema itself does not compile.
func (s *Schema) ValidateJSON(value []byte) error {
	if s.Format != FormatJSON {
		return fmt.Errorf("%s is not a JSON Schema", s.Format)
	}
	if s.json.err != nil {
		return s.json.err
	}
	return validateJSON(s.json.schema, value)
}

func validateJSON(s *jsonschema.Schema, value []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(value))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	err = s.Validate(inst)
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		return errors.New(validationReason(ve))
	}
	return err
}

// maxReasons bounds how many of a value's violations a reason lists.
const maxReasons = 3

// validationReason lists a validation error's leaves on one line:
// "/amount: got string, want number; /id: missing".
func validationReason(ve *jsonschema.ValidationError) string {
	var parts []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		// A leaf prints as "at '/amount': got string, want number".
		msg := strings.TrimPrefix(e.Error(), "at ")
		if loc, rest, ok := strings.Cut(msg, ": "); ok {
			loc = strings.Trim(loc, "'")
			if loc == "" {
				loc = "/"
			}
			msg = loc + ": " + rest
		}
		parts = append(parts, msg)
	}
	walk(ve)
	// The validator gathers a value's violations from maps: sorted, the
	// reason (and the log of a CI run) is the same every time.
	slices.Sort(parts)
	if len(parts) > maxReasons {
		parts = append(parts[:maxReasons], fmt.Sprintf("and %d more", len(parts)-maxReasons))
	}
	return strings.Join(parts, "; ")
}
