package schema

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/evctl/evctl/internal/record"
)

// WriterCensus is what a census found of the values one writer schema
// wrote: how many, how many the candidate reads, and the first it cannot.
type WriterCensus struct {
	ID      int    `json:"id,omitempty"`
	GUID    string `json:"guid,omitempty"`
	Subject string `json:"subject,omitempty"`
	Version int    `json:"version,omitempty"`
	Records int64  `json:"records"`
	OK      int64  `json:"ok"`
	Fail    int64  `json:"wouldFail"`
	// First is the first value the candidate cannot read, Reason why.
	First  *StoredAt `json:"firstFailure,omitempty"`
	Reason string    `json:"reason,omitempty"`
}

// StoredAt is where a record is stored.
type StoredAt struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// Census reads stored values with a candidate Avro reader schema, each
// resolved against the schema that wrote it (Avro schema resolution:
// fields the reader adds need defaults, promotions only where Avro allows
// them, enum symbols and union branches must be known), and counts per
// writer schema what would fail. Values without a registry schema id and
// tombstones are counted apart: there is nothing to resolve.
type Census struct {
	reader avro.Schema
	reg    Registry

	writers  map[string]*writer
	order    []*writer
	Unframed int64 // values without a schema id
	Nulls    int64 // tombstones
}

type writer struct {
	count    WriterCensus
	resolved avro.Schema // nil when the candidate cannot read this writer at all
	why      string

	// A writer union is resolved branch by branch, as Avro resolves it
	// when it reads: a value of a branch the candidate reads is read,
	// whatever other branches the candidate dropped or broke.
	union    *avro.UnionSchema
	branches map[int64]branch
}

type branch struct {
	resolved avro.Schema
	why      string
}

// NewCensus starts a census of values read with the candidate reader.
func NewCensus(reader avro.Schema, reg Registry) *Census {
	return &Census{reader: reader, reg: reg, writers: map[string]*writer{}}
}

// Add counts one stored value. Its error is only for a registry that could
// not say which schema wrote the value (*UnavailableError): the census
// cannot go on without it.
func (c *Census) Add(ctx context.Context, m *record.Message) error {
	if m.Value == nil {
		c.Nulls++
		return nil
	}
	key, payload, lookup := c.writerOf(m)
	if lookup == nil {
		c.Unframed++
		return nil
	}
	w, ok := c.writers[key]
	if !ok {
		var err error
		if w, err = c.newWriter(ctx, lookup); err != nil {
			return err
		}
		c.writers[key] = w
		c.order = append(c.order, w)
	}
	w.count.Records++
	why := w.why
	resolved := w.resolved
	if w.union != nil {
		resolved, payload, why = c.branchOf(w, payload)
	}
	if resolved != nil {
		var v any
		if err := avro.Unmarshal(resolved, payload, &v); err != nil {
			why = err.Error()
		}
	}
	if why == "" {
		w.count.OK++
		return nil
	}
	w.count.Fail++
	if w.count.First == nil {
		w.count.First = &StoredAt{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset}
		w.count.Reason = why
	}
	return nil
}

// writerOf finds how to look up the schema that wrote m's value: the
// schema-id header, else the Confluent prefix.
func (c *Census) writerOf(m *record.Message) (key string, payload []byte, lookup func(context.Context) (*Schema, error)) {
	if h, ok := lastHeader(m.Headers, "__value_schema_id"); ok {
		if guid, err := parseSchemaIDHeader(h); err == nil {
			return "guid:" + guid, m.Value, func(ctx context.Context) (*Schema, error) { return c.reg.SchemaByGUID(ctx, guid) }
		}
	}
	if id, rest, ok := splitConfluent(m.Value); ok {
		return "id:" + strconv.Itoa(id), rest, func(ctx context.Context) (*Schema, error) { return c.reg.SchemaByID(ctx, id) }
	}
	return "", nil, nil
}

func (c *Census) newWriter(ctx context.Context, lookup func(context.Context) (*Schema, error)) (*writer, error) {
	s, err := lookup(ctx)
	var unavailable *UnavailableError
	if errors.As(err, &unavailable) {
		return nil, err
	}
	w := &writer{}
	switch {
	case err != nil:
		w.why = "writer schema: " + err.Error()
	case s.Format != FormatAvro:
		w.why = "written as " + s.Format + ", the candidate is AVRO"
	default:
		if u, ok := s.Avro().(*avro.UnionSchema); ok {
			w.union, w.branches = u, map[int64]branch{}
			break
		}
		if w.resolved, err = avro.NewSchemaCompatibility().Resolve(c.reader, s.Avro()); err != nil {
			w.why = err.Error()
		}
	}
	if s != nil {
		w.count.ID, w.count.GUID, w.count.Subject, w.count.Version = s.ID, s.GUID, s.Subject, s.Version
	}
	return w, nil
}

// branchOf reads the union branch a value was written as, and returns the
// schema that reads the rest of it with the candidate.
func (c *Census) branchOf(w *writer, payload []byte) (avro.Schema, []byte, string) {
	u, n := binary.Varint(payload) // Avro writes the branch index as a zig-zag long
	if n <= 0 || u < 0 || int(u) >= len(w.union.Types()) {
		return nil, nil, "invalid union branch index"
	}
	b, ok := w.branches[u]
	if !ok {
		b = c.resolveBranch(w.union.Types()[u])
		w.branches[u] = b
	}
	return b.resolved, payload[n:], b.why
}

// resolveBranch resolves one branch of a writer union against the
// candidate: a reader union's branch of the same name first, then any
// branch that reads it, as Avro's resolution picks.
func (c *Census) resolveBranch(wb avro.Schema) branch {
	compat := avro.NewSchemaCompatibility()
	ru, ok := c.reader.(*avro.UnionSchema)
	if !ok {
		r, err := compat.Resolve(c.reader, wb)
		if err != nil {
			return branch{why: err.Error()}
		}
		return branch{resolved: r}
	}
	var firstErr error
	try := func(rb avro.Schema) (branch, bool) {
		r, err := compat.Resolve(rb, wb)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			return branch{}, false
		}
		return branch{resolved: r}, true
	}
	named := false
	for _, rb := range ru.Types() {
		if branchKey(rb) == branchKey(wb) {
			named = true
			if b, ok := try(rb); ok {
				return b
			}
		}
	}
	for _, rb := range ru.Types() {
		if branchKey(rb) != branchKey(wb) {
			if b, ok := try(rb); ok {
				return b
			}
		}
	}
	if !named {
		return branch{why: "the candidate has no branch for " + avroTypeName(wb)}
	}
	return branch{why: avroTypeName(wb) + ": " + firstErr.Error()}
}

// Writers returns the counts per writer schema, in the order first met.
func (c *Census) Writers() []WriterCensus {
	out := make([]WriterCensus, len(c.order))
	for i, w := range c.order {
		out[i] = w.count
	}
	return out
}

// Failed is the number of values the candidate would fail to read.
func (c *Census) Failed() int64 {
	var n int64
	for _, w := range c.order {
		n += w.count.Fail
	}
	return n
}

// CompatibilityVerdict is the registry's answer to "may this schema be
// registered under the subject?", at the subject's level.
type CompatibilityVerdict struct {
	Compatible bool     `json:"compatible"`
	Messages   []string `json:"messages,omitempty"`
}

// CheckCompatibility asks the registry whether the schema could be
// registered under subject, against the versions its level names (all of
// them for a _TRANSITIVE level). A subject without versions takes
// anything.
func (c *RegistryClient) CheckCompatibility(ctx context.Context, subject, format, text string, refs []Reference) (CompatibilityVerdict, error) {
	var typ sr.SchemaType
	if err := typ.UnmarshalText([]byte(format)); err != nil {
		return CompatibilityVerdict{}, fmt.Errorf("schema type %q: %w", format, err)
	}
	s := sr.Schema{Schema: text, Type: typ}
	for _, r := range refs {
		s.References = append(s.References, sr.SchemaReference{Name: r.Name, Subject: r.Subject, Version: r.Version})
	}
	bctx, cancel := c.bounded(ctx)
	defer cancel()
	res, err := c.cl.CheckCompatibility(sr.WithParams(bctx, sr.Verbose), subject, -2, s)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) {
			switch {
			case re.StatusCode == http.StatusNotFound && re.ErrorCode == codeSubjectNotFound:
				return CompatibilityVerdict{Compatible: true}, nil
			case re.StatusCode == http.StatusUnprocessableEntity:
				return CompatibilityVerdict{}, &InvalidSchemaError{Message: re.Message}
			}
		}
		return CompatibilityVerdict{}, c.classify(err, "compatibility of "+subject)
	}
	return CompatibilityVerdict{Compatible: res.Is, Messages: res.Messages}, nil
}
