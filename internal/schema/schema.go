package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/bufbuild/protocompile/linker"
	"github.com/bufbuild/protocompile/reporter"
	"github.com/hamba/avro/v2"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/internal/record"
)

// Schema formats, as the registry names them.
const (
	FormatAvro     = "AVRO"
	FormatJSON     = "JSON"
	FormatProtobuf = "PROTOBUF"
)

// Reference is a schema reference: the type Name is defined by the schema
// registered under Subject at Version.
type Reference struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// ReferenceLookup returns the text and the references of the schema
// registered under subject at version.
type ReferenceLookup func(subject string, version int) (text string, refs []Reference, err error)

// Schema is a registered (or local) schema, parsed once and ready to decode.
// A Schema is immutable and safe for concurrent use.
type Schema struct {
	ID         int
	GUID       string
	Subject    string
	Version    int
	Format     string // FormatAvro, FormatJSON or FormatProtobuf
	Text       string
	References []Reference

	avro  avro.Schema // parsed Avro schema, references resolved
	node  *avroNode   // the compiled decoder for avro
	title string      // a JSON Schema's title
	proto linker.File // compiled Protobuf schema, imports resolved
	json  jsonValidator
	// local is the message a local Protobuf schema stands for.
	local protoreflect.MessageDescriptor
	ref   *record.SchemaRef
}

// Avro returns the parsed Avro schema, nil for other formats.
func (s *Schema) Avro() avro.Schema { return s.avro }

// Ref returns what a Record shows of the schema. It is shared by every
// record the schema decodes: do not modify it.
func (s *Schema) Ref() *record.SchemaRef { return s.ref }

// maxReferenceDepth bounds chains of references (a references b references c...).
const maxReferenceDepth = 32

// ParseAvro parses an Avro schema whose named types may be defined by
// referenced schemas, which lookup fetches (recursively: references may have
// references). Referenced schemas are parsed first, in order, into a schema
// cache private to this call, so two versions of one referenced type never
// meet: each top-level schema sees exactly the versions it references.
// lookup may be nil when refs is empty.
func ParseAvro(text string, refs []Reference, lookup ReferenceLookup) (avro.Schema, error) {
	cache := &avro.SchemaCache{}
	add := func(_ Reference, text string) error {
		if _, err := avro.ParseWithCache(text, "", cache); err != nil {
			return fmt.Errorf("invalid Avro schema: %w", err)
		}
		return nil
	}
	p := refParser{add: add, lookup: lookup, done: map[Reference]bool{}, busy: map[Reference]bool{}}
	if err := p.resolve(refs, 0); err != nil {
		return nil, err
	}
	s, err := avro.ParseWithCache(text, "", cache)
	if err != nil {
		return nil, fmt.Errorf("invalid Avro schema: %w", err)
	}
	return s, nil
}

// refParser walks references depth first, each subject and version once,
// and hands every referenced schema's text to add after its own references.
type refParser struct {
	add        func(r Reference, text string) error
	lookup     ReferenceLookup
	done, busy map[Reference]bool // keyed by subject and version, Name zeroed
}

func (p *refParser) resolve(refs []Reference, depth int) error {
	for _, r := range refs {
		key := Reference{Subject: r.Subject, Version: r.Version}
		if p.done[key] {
			continue
		}
		if p.busy[key] {
			return fmt.Errorf("reference cycle through subject %q version %d", r.Subject, r.Version)
		}
		if depth >= maxReferenceDepth {
			return fmt.Errorf("references nested deeper than %d at subject %q", maxReferenceDepth, r.Subject)
		}
		if p.lookup == nil {
			return fmt.Errorf("reference %q (subject %q version %d): no registry to resolve it", r.Name, r.Subject, r.Version)
		}
		text, sub, err := p.lookup(r.Subject, r.Version)
		if err != nil {
			return fmt.Errorf("reference %q (subject %q version %d): %w", r.Name, r.Subject, r.Version, err)
		}
		p.busy[key] = true
		if err := p.resolve(sub, depth+1); err != nil {
			return err
		}
		delete(p.busy, key)
		if err := p.add(r, text); err != nil {
			return fmt.Errorf("reference %q (subject %q version %d): %w", r.Name, r.Subject, r.Version, err)
		}
		p.done[key] = true
	}
	return nil
}

// label names the schema in errors: its registry id, or its file.
func (s *Schema) label() string {
	switch {
	case s.ID != 0:
		return "schema id " + strconv.Itoa(s.ID)
	case s.GUID != "":
		return "schema guid " + s.GUID
	}
	return "schema"
}

// ParseSchema parses a schema that is not registered (a candidate, a local
// file) by its format, references resolved through lookup (nil when refs
// is empty). name labels it in errors, which give the line and column
// where the parser does: a file that is not JSON, a .proto that does not
// compile. A JSON Schema must compile.
func ParseSchema(format, name, text string, refs []Reference, lookup ReferenceLookup) (*Schema, error) {
	s, err := parseSchema(format, name, text, refs, lookup)
	var pos *PositionError
	if err != nil && !errors.As(err, &pos) {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, err
}

func parseSchema(format, name, text string, refs []Reference, lookup ReferenceLookup) (*Schema, error) {
	s := &Schema{Format: format, Text: text, References: refs}
	switch format {
	case FormatAvro:
		if err := jsonSyntax(name, "Avro schema", text); err != nil {
			return nil, err
		}
		a, err := ParseAvro(text, refs, lookup)
		if err != nil {
			return nil, avroPosition(name, text, err)
		}
		s.avro, s.node = a, compileAvro(a)
	case FormatProtobuf:
		f, err := compileProtobufNamed(name, text, refs, lookup)
		var located reporter.ErrorWithPos
		if errors.As(err, &located) && located.GetPosition().Filename == name {
			return nil, &PositionError{Pos: located.GetPosition().String(), Err: fmt.Errorf("invalid Protobuf schema: %w", located.Unwrap())}
		}
		if err != nil {
			return nil, err
		}
		s.proto = f
	case FormatJSON:
		js, err := compileJSONSchema(name, text, refs, lookup)
		if err != nil {
			return nil, err
		}
		s.json.schema = js
		var doc struct {
			Title string `json:"title"`
		}
		_ = json.Unmarshal([]byte(text), &doc) // compiled: it is JSON
		s.title = doc.Title
	default:
		return nil, fmt.Errorf("%w %q", errUnknownFormat, format)
	}
	s.ref = &record.SchemaRef{Format: format, Local: name}
	return s, nil
}

// errUnknownFormat reports a schema type evctl does not know.
var errUnknownFormat = errors.New("unknown schema format")

// prepare parses s.Text by its format, resolving references through lookup,
// and fills the unexported fields. It is called once per schema.
func (s *Schema) prepare(lookup ReferenceLookup) error {
	switch s.Format {
	case FormatAvro:
		a, err := ParseAvro(s.Text, s.References, lookup)
		if err != nil {
			return err
		}
		s.avro = a
		s.node = compileAvro(a)
	case FormatJSON:
		var doc struct {
			Title string `json:"title"`
		}
		// The title only names the event type: a schema that is not an
		// object (or not JSON) just has none.
		_ = json.Unmarshal([]byte(s.Text), &doc)
		s.title = doc.Title
		// A schema that does not compile still decodes its values: only
		// validating them needs it, and says why it cannot.
		s.json.schema, s.json.err = compileJSONSchema(s.label(), s.Text, s.References, lookup)
	case FormatProtobuf:
		f, err := compileProtobuf(s.Text, s.References, lookup)
		if err != nil {
			return err
		}
		s.proto = f
	default:
		return fmt.Errorf("%w %q", errUnknownFormat, s.Format)
	}
	s.ref = &record.SchemaRef{ID: s.ID, GUID: s.GUID, Subject: s.Subject, Version: s.Version, Format: s.Format}
	return nil
}

// avroNamed find the name an Avro parser error is about, in this order:
// "unknown type: strin", "duplicate field name \"a\"", "invalid default
// for field a.".
var avroNamed = []*regexp.Regexp{
	regexp.MustCompile(`unknown type: (\S+)$`),
	regexp.MustCompile(`"([^"]+)"`),
	regexp.MustCompile(`for field (\S+?)\.? `),
}

// avroPosition gives err, an Avro schema's parse error, the line and
// column of the name it is about, as hamba's errors have none: the first
// place the name is a JSON string of text (for a duplicate, the second).
// err is returned as it is when no such name is found.
func avroPosition(name, text string, err error) error {
	if strings.HasPrefix(err.Error(), "reference ") { // in another schema's text
		return err
	}
	var token string
	for _, re := range avroNamed {
		if m := re.FindStringSubmatch(err.Error()); m != nil {
			token = m[1]
			break
		}
	}
	if token == "" {
		return err
	}
	var at []int64
	d := json.NewDecoder(strings.NewReader(text))
	for {
		t, terr := d.Token()
		if terr != nil {
			break
		}
		if str, ok := t.(string); ok && str == token {
			quoted, _ := json.Marshal(str)
			at = append(at, d.InputOffset()-int64(len(quoted))+1)
		}
	}
	if len(at) == 0 {
		return err
	}
	off := at[0]
	if strings.Contains(err.Error(), "duplicate") && len(at) > 1 {
		off = at[1]
	}
	line, col := lineCol(text, off)
	return &PositionError{Pos: fmt.Sprintf("%s:%d:%d", name, line, col), Err: err}
}
