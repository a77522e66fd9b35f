package schema

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// Referenced is one schema a subject version references, directly or
// through its references: the name it is known by (an Avro type, a
// .proto's import path, a JSON Schema $ref), where it is registered, and
// its text.
type Referenced struct {
	Reference
	Text string
}

// Referenced fetches every schema v references, its references' own
// included, each once, depth first: a schema comes after those it needs.
func (c *RegistryClient) Referenced(ctx context.Context, v SubjectVersion) ([]Referenced, error) {
	bctx, cancel := c.bounded(ctx)
	defer cancel()
	var out []Referenced
	p := refParser{
		add: func(r Reference, text string) error {
			out = append(out, Referenced{Reference: r, Text: text})
			return nil
		},
		lookup: func(subject string, version int) (string, []Reference, error) {
			return c.reference(bctx, subject, version)
		},
		done: map[Reference]bool{}, busy: map[Reference]bool{},
	}
	if err := p.resolve(v.References, 0); err != nil {
		return nil, err
	}
	return out, nil
}

// BundleJSONSchema makes a JSON Schema whose $refs name referenced
// schemas self-contained, as JSON Schema's bundling does: each referenced
// schema is embedded under $defs (definitions before draft 2019-09) with
// its reference's name as its $id, so every $ref resolves unchanged and
// the bundle compiles without a registry.
func BundleJSONSchema(name, text string, refs []Referenced) (string, error) {
	var root map[string]any
	if err := json.Unmarshal([]byte(text), &root); err != nil {
		return "", fmt.Errorf("invalid JSON Schema: only an object schema can hold its references: %w", err)
	}
	key := "$defs"
	if d, _ := root["$schema"].(string); strings.Contains(d, "draft-0") {
		key = "definitions"
	}
	defs, _ := root[key].(map[string]any)
	if defs == nil {
		defs = map[string]any{}
	}
	for _, r := range refs {
		if _, taken := defs[r.Name]; taken {
			return "", fmt.Errorf("the schema's %s already has %q, the name of a reference", key, r.Name)
		}
		var doc any
		if err := json.Unmarshal([]byte(r.Text), &doc); err != nil {
			return "", fmt.Errorf("reference %q (subject %q version %d): invalid JSON Schema: %w", r.Name, r.Subject, r.Version, err)
		}
		if m, ok := doc.(map[string]any); ok {
			if _, has := m["$id"]; !has {
				m["$id"] = r.Name
			}
			delete(m, "$schema") // the bundle's root names the dialect
		}
		defs[r.Name] = doc
	}
	root[key] = defs
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(root); err != nil {
		return "", err
	}
	bundle := strings.TrimSpace(buf.String())
	// The bundle must stand alone: compiled without references, its $refs
	// find what the registry's references gave.
	if _, err := compileJSONSchema(name, bundle, nil, nil); err != nil {
		return "", fmt.Errorf("the bundled schema does not compile: %w", err)
	}
	return bundle, nil
}

// ProtobufWithImports is a .proto schema followed by every file it imports
// through references, each headed by a comment naming its import path and
// its subject: Protobuf cannot inline an import into the file that
// imports it, so the text holds one file per header, ready to be split
// into the tree --proto-path reads.
func ProtobufWithImports(text string, refs []Referenced) string {
	var b strings.Builder
	b.WriteString(strings.TrimRight(text, "\n"))
	b.WriteByte('\n')
	for _, r := range refs {
		fmt.Fprintf(&b, "\n// ---- import %q: subject %s version %d ----\n", r.Name, r.Subject, r.Version)
		b.WriteString(strings.TrimRight(r.Text, "\n"))
		b.WriteByte('\n')
	}
	return b.String()
}
