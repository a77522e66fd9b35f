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

// Compiler parses a Protobuf or JSON Schema schema (format is "PROTOBUF"
// or "JSON") as a real registry does before it stores one: a .proto must
// compile, its imports resolved through refs and lookup; a JSON Schema
// must compile. The sandbox gives internal/schema's parsers (SetCompiler);
// this package cannot import them, whose tests run on this registry.
type Compiler func(format, text string, refs []sr.SchemaReference, lookup func(subject string, version int) (string, []sr.SchemaReference, error)) error

// SetCompiler makes register refuse, as invalid, the Protobuf and JSON
// Schema schemas c refuses. Without one they are stored unparsed.
func (r *Registry) SetCompiler(c Compiler) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.compiler = c
}

// compile runs the Compiler, if there is one: without it, a schema that no
// client can use was registered with exit status 0.
func (r *Registry) compile(format string, s sr.Schema) error {
	if r.compiler == nil {
		return nil
	}
	err := r.compiler(format, s.Schema, s.References, func(subject string, version int) (string, []sr.SchemaReference, error) {
		ss, err := r.reference(sr.SchemaReference{Name: subject, Subject: subject, Version: version})
		if err != nil {
			return "", nil, err
		}
		return ss.Schema.Schema, ss.References, nil
	})
	if err != nil {
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
// FORWARD that an earlier version reads what s writes, FULL both. Only Avro
// is checked; JSON Schema and Protobuf are accepted as they are.
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
