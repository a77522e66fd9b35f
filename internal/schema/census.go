package schema

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/bufbuild/protocompile/linker"
	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

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

// CensusOptions say which stored payloads a census reads.
type CensusOptions struct {
	// Key reads the keys (a <topic>-key subject), and their
	// __key_schema_id header, instead of the values.
	Key bool
	// Subject and IDs, when IDs is not nil, keep the census to the
	// payloads the subject describes, as the RecordNameStrategy and the
	// TopicRecordNameStrategy write them: those whose writer schema is
	// one of IDs (the subject's versions), and those a writer union
	// writes as a branch it takes from a reference to Subject. Other
	// payloads are counted in Census.Other.
	Subject string
	IDs     map[int]bool
}

// Census reads stored payloads with a candidate schema as a consumer
// would after it is deployed, and counts per writer schema what would
// fail. Avro: each payload is resolved from the schema that wrote it to
// the candidate (fields the reader adds need defaults, promotions only
// where Avro allows them, enum symbols and union branches must be
// known). Protobuf: the payload is decoded as the candidate's message of
// the same full name; a field the candidate declares but cannot read from
// what was written (another wire type) fails, as does a string that is
// not UTF-8. JSON Schema: the value is validated against the candidate.
// Payloads without a registry schema id and nulls (tombstones) are
// counted apart: there is nothing to resolve.
type Census struct {
	candidate *Schema
	reg       Registry
	opts      CensusOptions

	writers  map[string]*writer
	order    []*writer
	topics   []string
	seen     map[string]bool
	Unframed int64 // payloads without a schema id
	Nulls    int64 // tombstones, or null keys
	Other    int64 // payloads of other subjects' schemas (CensusOptions.IDs)
}

type writer struct {
	count   WriterCensus
	schema  *Schema
	why     string // set when the candidate cannot read this writer at all
	skip    bool   // another subject's schema
	only    string // with a subject: only this union branch is the subject's
	counted bool   // in Census.order

	// Avro. A writer union is resolved branch by branch, as Avro resolves
	// it when it reads: a value of a branch the candidate reads is read,
	// whatever other branches the candidate dropped or broke.
	resolved avro.Schema
	union    *avro.UnionSchema
	branches map[int64]branch

	// Protobuf: the candidate's message for each writer message.
	messages map[protoreflect.FullName]protoreflect.MessageDescriptor
}

type branch struct {
	resolved avro.Schema
	name     string
	why      string
}

// NewCensus starts a census of payloads read with candidate, a schema
// ParseSchema parsed.
func NewCensus(candidate *Schema, reg Registry, opts CensusOptions) *Census {
	return &Census{candidate: candidate, reg: reg, opts: opts, writers: map[string]*writer{}, seen: map[string]bool{}}
}

// errOther marks a payload that is not the census's subject's.
const errOther = "\x00other"

// Add counts one stored payload. Its error is only for a registry that
// could not say which schema wrote the payload (*UnavailableError): the
// census cannot go on without it.
func (c *Census) Add(ctx context.Context, m *record.Message) error {
	payload, header := m.Value, ValueSchemaIDHeader
	if c.opts.Key {
		payload, header = m.Key, KeySchemaIDHeader
	}
	if payload == nil {
		c.Nulls++
		return nil
	}
	key, id, rest, lookup := c.writerOf(m.Headers, header, payload)
	if lookup == nil {
		c.Unframed++
		return nil
	}
	w, ok := c.writers[key]
	if !ok {
		var err error
		if w, err = c.newWriter(ctx, id, lookup); err != nil {
			return err
		}
		c.writers[key] = w
	}
	if w.skip {
		c.Other++
		return nil
	}
	why := w.why
	if why == "" {
		why = c.read(w, rest)
	}
	if why == errOther {
		c.Other++
		return nil
	}
	if !w.counted {
		w.counted = true
		c.order = append(c.order, w)
	}
	if !c.seen[m.Topic] {
		c.seen[m.Topic] = true
		c.topics = append(c.topics, m.Topic)
	}
	w.count.Records++
	if why == "" {
		w.count.OK++
		return nil
	}
	w.count.Fail++
	at := StoredAt{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset}
	if w.count.First == nil || at.before(*w.count.First) {
		w.count.First, w.count.Reason = &at, why
	}
	return nil
}

// before orders records by topic, partition and offset: the census names
// the first failure in that order, however the partitions' records
// arrived, so every run names the same one.
func (a StoredAt) before(b StoredAt) bool {
	return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset)) < 0
}

// writerOf finds how to look up the schema that wrote a payload: the
// schema-id header, else the Confluent prefix.
func (c *Census) writerOf(hs []record.RawHeader, header string, b []byte) (key string, id int, payload []byte, lookup func(context.Context) (*Schema, error)) {
	id, guid, rest, ok := WriterOf(hs, header, b)
	switch {
	case !ok:
		return "", 0, nil, nil
	case guid != "":
		return "guid:" + guid, 0, rest, func(ctx context.Context) (*Schema, error) { return c.reg.SchemaByGUID(ctx, guid) }
	}
	return "id:" + strconv.Itoa(id), id, rest, func(ctx context.Context) (*Schema, error) { return c.reg.SchemaByID(ctx, id) }
}

// WriterOf names the schema that wrote a payload, as a decoder finds it:
// header's schema-id header (a GUID; the payload is all rest), else the
// Confluent prefix (an id; rest follows it). ok is false for a payload
// that names none.
func WriterOf(hs []record.RawHeader, header string, b []byte) (id int, guid string, rest []byte, ok bool) {
	if h, found := lastHeader(hs, header); found {
		if guid, err := parseSchemaIDHeader(h); err == nil {
			return 0, guid, b, true
		}
	}
	if id, rest, found := splitConfluent(b); found {
		return id, "", rest, true
	}
	return 0, "", nil, false
}

func (c *Census) newWriter(ctx context.Context, id int, lookup func(context.Context) (*Schema, error)) (*writer, error) {
	s, err := lookup(ctx)
	var unavailable *UnavailableError
	if errors.As(err, &unavailable) {
		return nil, err
	}
	w := &writer{schema: s}
	if s != nil {
		id = s.ID
		w.count.ID, w.count.GUID, w.count.Subject, w.count.Version = s.ID, s.GUID, s.Subject, s.Version
	} else {
		w.count.ID = id
	}
	if c.opts.IDs != nil && !c.opts.IDs[id] {
		w.skip = true
		if s != nil {
			for _, r := range s.References {
				if r.Subject == c.opts.Subject && s.Format == FormatAvro {
					w.skip, w.only = false, r.Name
				}
			}
		}
		if w.skip {
			return w, nil
		}
	}
	switch {
	case err != nil:
		w.why = "writer schema: " + err.Error()
	case s.Format != c.candidate.Format:
		w.why = "written as " + s.Format + ", the candidate is " + c.candidate.Format
	case s.Format == FormatAvro:
		if u, ok := s.Avro().(*avro.UnionSchema); ok {
			w.union, w.branches = u, map[int64]branch{}
			break
		}
		if w.only != "" && branchKey(s.Avro()) != w.only {
			w.skip = true
			break
		}
		if w.resolved, err = avro.NewSchemaCompatibility().Resolve(c.candidate.avro, s.Avro()); err != nil {
			w.why = err.Error()
		}
	case s.Format == FormatProtobuf:
		w.messages = map[protoreflect.FullName]protoreflect.MessageDescriptor{}
	}
	return w, nil
}

// read reads one payload of w's with the candidate, and says why it
// cannot ("" when it can, errOther when the payload is not the subject's).
func (c *Census) read(w *writer, payload []byte) string {
	switch c.candidate.Format {
	case FormatAvro:
		resolved, why := w.resolved, ""
		if w.union != nil {
			var b branch
			b, payload = c.branchOf(w, payload)
			if w.only != "" && b.name != w.only {
				return errOther
			}
			resolved, why = b.resolved, b.why
		}
		if resolved != nil {
			var v any
			if err := avro.Unmarshal(resolved, payload, &v); err != nil {
				why = err.Error()
			}
		}
		return why
	case FormatProtobuf:
		return c.readProtobuf(w, payload)
	case FormatJSON:
		if err := validateJSON(c.candidate.json.schema, payload); err != nil {
			return err.Error()
		}
	}
	return ""
}

// branchOf reads the union branch a value was written as, and returns how
// the candidate reads it and the rest of the value.
func (c *Census) branchOf(w *writer, payload []byte) (branch, []byte) {
	u, n := binary.Varint(payload) // Avro writes the branch index as a zig-zag long
	if n <= 0 || u < 0 || int(u) >= len(w.union.Types()) {
		return branch{why: "invalid union branch index"}, nil
	}
	b, ok := w.branches[u]
	if !ok {
		wb := w.union.Types()[u]
		b = c.resolveBranch(wb)
		b.name = branchKey(wb)
		w.branches[u] = b
	}
	return b, payload[n:]
}

// resolveBranch resolves one branch of a writer union against the
// candidate: a reader union's branch of the same name first, then any
// branch that reads it, as Avro's resolution picks.
func (c *Census) resolveBranch(wb avro.Schema) branch {
	compat := avro.NewSchemaCompatibility()
	ru, ok := c.candidate.avro.(*avro.UnionSchema)
	if !ok {
		r, err := compat.Resolve(c.candidate.avro, wb)
		if err != nil {
			return branch{why: avroTypeName(wb) + ": " + err.Error()}
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

// readProtobuf decodes a payload (message indexes, then the message) as
// the candidate's message of the name the writer's indexes give.
func (c *Census) readProtobuf(w *writer, payload []byte) string {
	indexes, rest, err := splitMessageIndexes(payload)
	if err != nil {
		return err.Error()
	}
	wmd, err := protoMessage(w.schema.proto, indexes)
	if err != nil {
		return err.Error()
	}
	md, ok := w.messages[wmd.FullName()]
	if !ok {
		if d, err := linker.ResolverFromFile(c.candidate.proto).FindDescriptorByName(wmd.FullName()); err == nil {
			md, _ = d.(protoreflect.MessageDescriptor)
		}
		w.messages[wmd.FullName()] = md
	}
	if md == nil {
		return "the candidate has no message " + string(wmd.FullName())
	}
	return protoReadable(md, linker.ResolverFromFile(c.candidate.proto), rest)
}

// protoReadable says why b does not read as a md: it does not parse, or a
// field md declares was written as another wire type (protobuf keeps it
// aside as an unknown field, and the reader never sees its value).
func protoReadable(md protoreflect.MessageDescriptor, resolver linker.Resolver, b []byte) (why string) {
	defer func() { // see protoJSON
		if v := recover(); v != nil {
			why = fmt.Sprintf("payload is not a %s: invalid wire-format data (%v)", md.FullName(), v)
		}
	}()
	m := dynamicpb.NewMessage(md)
	if err := (proto.UnmarshalOptions{Resolver: resolver}).Unmarshal(b, m); err != nil {
		return fmt.Sprintf("payload is not a %s: %v", md.FullName(), err)
	}
	return unreadFields(m)
}

// unreadFields finds, down m's nested messages, a field the message
// declares whose value was kept aside as unknown.
func unreadFields(m protoreflect.Message) string {
	for raw := m.GetUnknown(); len(raw) > 0; {
		num, typ, n := protowire.ConsumeTag(raw)
		if n < 0 {
			break
		}
		if fd := m.Descriptor().Fields().ByNumber(num); fd != nil {
			return fmt.Sprintf("%s (field %d): written as %s, which the candidate's %s cannot read", fd.FullName(), num, wireTypeName(typ), protoKindName(fd))
		}
		k := protowire.ConsumeFieldValue(num, typ, raw[n:])
		if k < 0 {
			break
		}
		raw = raw[n+k:]
	}
	why := ""
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				why = unreadFields(mv.Message())
				return why == ""
			})
		case fd.IsList() && fd.Message() != nil:
			for i := range v.List().Len() {
				if why = unreadFields(v.List().Get(i).Message()); why != "" {
					break
				}
			}
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			why = unreadFields(v.Message())
		}
		return why == ""
	})
	return why
}

func wireTypeName(t protowire.Type) string {
	switch t {
	case protowire.VarintType:
		return "a varint"
	case protowire.Fixed32Type:
		return "fixed32"
	case protowire.Fixed64Type:
		return "fixed64"
	case protowire.BytesType:
		return "length-delimited bytes"
	case protowire.StartGroupType:
		return "a group"
	}
	return fmt.Sprintf("wire type %d", t)
}

func protoKindName(fd protoreflect.FieldDescriptor) string {
	if fd.Message() != nil {
		return string(fd.Message().FullName())
	}
	return fd.Kind().String()
}

// Writers returns the counts per writer schema, by schema id (then GUID):
// the same whatever order the records came in.
func (c *Census) Writers() []WriterCensus {
	out := make([]WriterCensus, len(c.order))
	for i, w := range c.order {
		out[i] = w.count
	}
	slices.SortFunc(out, func(a, b WriterCensus) int { return cmp.Or(cmp.Compare(a.ID, b.ID), strings.Compare(a.GUID, b.GUID)) })
	return out
}

// Topics returns the topics the census counted payloads of, sorted.
func (c *Census) Topics() []string { return slices.Sorted(slices.Values(c.topics)) }

// Records is the number of payloads the census read with the candidate.
func (c *Census) Records() int64 {
	var n int64
	for _, w := range c.order {
		n += w.count.Records
	}
	return n
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
