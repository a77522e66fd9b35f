package schema

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/bufbuild/protocompile/linker"
	"github.com/hamba/avro/v2"

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
