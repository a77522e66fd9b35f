package registry

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// maxReferenceDepth bounds reference chains; deeper means a cycle.
const maxReferenceDepth = 32

// validate parses s as the registry would before storing it.
func (r *Registry) validate(s sr.Schema) error {
	switch s.Type {
	case sr.TypeAvro:
		_, err := r.parseAvro(s)
		return err
	case sr.TypeJSON:
		if !json.Valid([]byte(s.Schema)) {
			return invalidSchema("Invalid schema: JSON Schema is not valid JSON")
		}
		if err := r.checkReferences(s.References); err != nil {
			return err
		}
		return r.compile("JSON", s)
	case sr.TypeProtobuf:
		if strings.TrimSpace(s.Schema) == "" {
			return invalidSchema("Invalid schema: empty Protobuf schema")
		}
		if err := r.checkReferences(s.References); err != nil {
			return err
		}
		return r.compile("PROTOBUF", s)
	default:
		return invalidSchema("Invalid schema: unsupported schema type %s", s.Type)
	}
}

// Lookup returns the text and references of subject's version.
type Lookup func(subject string, version int) (string, []sr.SchemaReference, error)

// Compiler parses and compares Protobuf and JSON Schema schemas (format is
// "PROTOBUF" or "JSON") as a real registry does. Compile says why a
// schema does not compile: a .proto's imports resolved through refs and
// lookup, a JSON Schema's $refs likewise. Incompatibilities lists why
// data written with writer cannot be read with reader, under Confluent's
// rules for the format (nil: compatible). The sandbox gives
// internal/schema's (SetCompiler); this package cannot import it, whose
// tests run on this registry.
type Compiler interface {
	Compile(format, text string, refs []sr.SchemaReference, lookup Lookup) error
	Incompatibilities(format string, writer, reader sr.Schema, lookup Lookup) ([]string, error)
}

// SetCompiler makes register refuse, as invalid, the Protobuf and JSON
// Schema schemas c refuses, and check their compatibility with c. Without
// one they are stored unparsed, and any is compatible.
func (r *Registry) SetCompiler(c Compiler) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.compiler = c
}

// lookupReference is the Lookup a Compiler gets: this registry's versions.
func (r *Registry) lookupReference(subject string, version int) (string, []sr.SchemaReference, error) {
	ss, err := r.reference(sr.SchemaReference{Name: subject, Subject: subject, Version: version})
	if err != nil {
		return "", nil, err
	}
	return ss.Schema.Schema, ss.References, nil
}

// compile runs the Compiler, if there is one: without it, a schema that no
// client can use was registered with exit status 0.
func (r *Registry) compile(format string, s sr.Schema) error {
	if r.compiler == nil {
		return nil
	}
	if err := r.compiler.Compile(format, s.Schema, s.References, r.lookupReference); err != nil {
		return invalidSchema("Invalid schema: %v", err)
	}
	return nil
}

// parseAvro parses an Avro schema with its references, each parsed first,
// depth first, into a cache of its own so versions never leak into each
// other.
func (r *Registry) parseAvro(s sr.Schema) (avro.Schema, error) {
	cache := &avro.SchemaCache{}
	if err := r.addReferences(cache, s.References, map[string]bool{}, 0); err != nil {
		return nil, err
	}
	parsed, err := avro.ParseWithCache(s.Schema, "", cache)
	if err != nil {
		return nil, invalidSchema("Invalid schema: %v", err)
	}
	return parsed, nil
}

func (r *Registry) addReferences(cache *avro.SchemaCache, refs []sr.SchemaReference, done map[string]bool, depth int) error {
	if depth > maxReferenceDepth {
		return invalidSchema("Invalid schema: references nest deeper than %d (a cycle?)", maxReferenceDepth)
	}
	for _, ref := range refs {
		key := fmt.Sprintf("%s\x00%d", ref.Subject, ref.Version)
		if done[key] {
			continue
		}
		ss, err := r.reference(ref)
		if err != nil {
			return err
		}
		if ss.Type != sr.TypeAvro {
			return invalidSchema("Invalid schema: reference %q is %s, not AVRO", ref.Name, typeName(ss.Type))
		}
		if err := r.addReferences(cache, ss.References, done, depth+1); err != nil {
			return err
		}
		if _, err := avro.ParseWithCache(ss.Schema.Schema, "", cache); err != nil {
			return invalidSchema("Invalid schema: reference %q (%s version %d): %v", ref.Name, ref.Subject, ref.Version, err)
		}
		done[key] = true
	}
	return nil
}

func (r *Registry) checkReferences(refs []sr.SchemaReference) error {
	for _, ref := range refs {
		if _, err := r.reference(ref); err != nil {
			return err
		}
	}
	return nil
}

func (r *Registry) reference(ref sr.SchemaReference) (sr.SubjectSchema, error) {
	if ref.Name == "" || ref.Subject == "" || ref.Version < 1 {
		return sr.SubjectSchema{}, invalidSchema("Invalid schema: reference %+v needs a name, a subject and a version", ref)
	}
	ss, ok := r.fake.GetSchema(ref.Subject, ref.Version)
	if !ok {
		return sr.SubjectSchema{}, invalidSchema("Invalid schema: reference %q: subject %q version %d not found",
			ref.Name, ref.Subject, ref.Version)
	}
	return ss, nil
}

// againstForLevel picks the versions a new schema is checked against.
func againstForLevel(previous []sr.SubjectSchema, level sr.CompatibilityLevel) []sr.SubjectSchema {
	switch {
	case level == sr.CompatNone || len(previous) == 0:
		return nil
	case transitive(level):
		return previous
	default:
		return previous[len(previous)-1:]
	}
}

func transitive(level sr.CompatibilityLevel) bool {
	switch level {
	case sr.CompatBackwardTransitive, sr.CompatForwardTransitive, sr.CompatFullTransitive:
		return true
	}
	return false
}

// incompatibilities checks s against each of against, newest first, in the
// level's direction: BACKWARD means s reads what an earlier version wrote,
// FORWARD that an earlier version reads what s writes, FULL both. Avro is
// checked with hamba's schema resolution, Protobuf and JSON Schema with
// the Compiler (without one they are accepted as they are).
func (r *Registry) incompatibilities(s sr.Schema, against []sr.SubjectSchema, level sr.CompatibilityLevel) []string {
	if level == sr.CompatNone || len(against) == 0 {
		return nil
	}
	backward, forward := true, false
	switch level {
	case sr.CompatForward, sr.CompatForwardTransitive:
		backward, forward = false, true
	case sr.CompatFull, sr.CompatFullTransitive:
		forward = true
	}

	var msgs []string
	for i := len(against) - 1; i >= 0; i-- {
		prev := against[i]
		if prev.Type != s.Type {
			msgs = append(msgs, fmt.Sprintf("version %d: schema type changed from %s to %s",
				prev.Version, typeName(prev.Type), typeName(s.Type)))
			continue
		}
		if s.Type != sr.TypeAvro {
			msgs = append(msgs, r.compiledIncompatibilities(s, prev, level, backward, forward)...)
			continue
		}
		// Parse both per comparison: hamba's compatibility cache is keyed by
		// fingerprints, which do not cover what references resolve to.
		news, err := r.parseAvro(s)
		if err != nil {
			msgs = append(msgs, err.Error())
			continue
		}
		old, err := r.parseAvro(prev.Schema)
		if err != nil {
			msgs = append(msgs, fmt.Sprintf("version %d: %v", prev.Version, err))
			continue
		}
		compat := avro.NewSchemaCompatibility()
		if backward {
			if err := compat.Compatible(news, old); err != nil {
				msgs = append(msgs, fmt.Sprintf("%s: the new schema cannot read data written with version %d: %v", level, prev.Version, err))
			}
		}
		if forward {
			if err := compat.Compatible(old, news); err != nil {
				msgs = append(msgs, fmt.Sprintf("%s: version %d cannot read data written with the new schema: %v", level, prev.Version, err))
			}
		}
	}
	return msgs
}

// compiledIncompatibilities is incompatibilities for Protobuf and JSON
// Schema: the Compiler's reasons, one message per direction that fails.
func (r *Registry) compiledIncompatibilities(s sr.Schema, prev sr.SubjectSchema, level sr.CompatibilityLevel, backward, forward bool) []string {
	if r.compiler == nil {
		return nil
	}
	format := typeName(s.Type)
	var msgs []string
	check := func(writer, reader sr.Schema, say string) {
		reasons, err := r.compiler.Incompatibilities(format, writer, reader, r.lookupReference)
		switch {
		case err != nil:
			msgs = append(msgs, fmt.Sprintf("version %d: %v", prev.Version, err))
		case len(reasons) > 0:
			msgs = append(msgs, fmt.Sprintf("%s: %s: %s", level, say, strings.Join(reasons, "; ")))
		}
	}
	if backward {
		check(prev.Schema, s, fmt.Sprintf("the new schema cannot read data written with version %d", prev.Version))
	}
	if forward {
		check(s, prev.Schema, fmt.Sprintf("version %d cannot read data written with the new schema", prev.Version))
	}
	return msgs
}
