// Package diff compares two states (the latest value per key) or two event
// histories (each key's events in order) and reports the differences: keys
// added and removed, values changed field by field, events missing, extra,
// changed and reordered.
//
// Sources are read twice at most: a first pass keeps one 64-bit hash per key
// and side (memory grows with the number of keys, never their values); a
// second pass reads back only the keys whose hashes differ, to report them
// field by field (history mode: their events' hashes, to align them; a
// fields pass then reads back, a window at a time, the events whose
// contents differ). The package reads no Kafka itself: a Source yields Events
// from a topic, a capture file (CaptureSource) or memory (States).
package diff

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/evctl/evctl/internal/filter"
	"github.com/evctl/evctl/internal/record"
)

// Mode says what is compared.
type Mode string

// Modes.
const (
	// ModeState compares the latest value of every key; a tombstone deletes
	// its key.
	ModeState Mode = "state"
	// ModeHistory compares every key's sequence of events.
	ModeHistory Mode = "history"
)

// Event is one record of a source, as the comparison sees it.
type Event struct {
	// Key is the key as text (record.KeyText), or what --key-by made of the record.
	Key string
	// KeyJSON is the key as its JSON value (or what --key-by made of the
	// record); nil when unknown.
	KeyJSON json.RawMessage
	// KeyEncoding is the record's key encoding (record.Encoding*), "" when
	// unknown. EncodingNull marks a record without a key: it is skipped.
	KeyEncoding string
	// Value is the value as JSON; nil is a tombstone.
	Value     json.RawMessage
	Type      string
	Headers   []record.Header
	Partition int32
	Offset    int64

	// hash is the value's hash when the source computed it (hashed).
	hash   uint64
	hashed bool
}

// prehasher is a source that can hash values as it parses them.
type prehasher interface{ prehash(ignore []Path) }

// At names where the event is: partition@offset; empty when it has no
// place in a topic (a state held in memory).
func (e *Event) At() string { return at(e.Partition, e.Offset) }

func at(partition int32, offset int64) string {
	if partition < 0 {
		return ""
	}
	return strconv.Itoa(int(partition)) + "@" + strconv.FormatInt(offset, 10)
}

// Source yields a state's or a history's events in order. Scan may be
// called twice (the second pass reads back the keys that differ); the
// Event passed to yield is only valid during the call.
type Source interface {
	Name() string
	Scan(ctx context.Context, yield func(*Event) error) error
}

// Options say what is compared and how.
type Options struct {
	Mode Mode
	// IgnoreValue leaves these paths, relative to the value, out of every
	// comparison.
	IgnoreValue []Path
	// IgnoreHeaderKeys leaves these headers out (history mode).
	IgnoreHeaderKeys []string
	// IgnoreHeaders leaves all headers out; IgnoreType the event type;
	// ValuesOnly both (history mode; state mode compares values only).
	IgnoreHeaders bool
	IgnoreType    bool
	ValuesOnly    bool
	// Stat: counts only. State mode then skips the second pass.
	Stat bool
	// MaxChanges caps how many differing keys the report details (the
	// first by key); the counts and groups always cover them all. Zero or
	// less: no cap.
	MaxChanges int
	// MemoryBudget bounds what the second pass holds at once (bytes);
	// zero: DefaultMemoryBudget.
	MemoryBudget int64
}

// AddIgnore adds one --ignore path. Paths are over the record as --filter
// sees it (.value.updatedAt, .headers["trace-id"], .type); a path whose
// first name is not a record field (filter.ViewFields) is relative to the value (.updatedAt is
// .value.updatedAt). Timestamps, topics, partitions and offsets are never
// compared, so ignoring them changes nothing.
func (o *Options) AddIgnore(expr string) error {
	p, err := ParsePath(expr)
	if err != nil {
		return err
	}
	if len(p) == 0 || p[0].Index != memberStep || !slices.Contains(filter.ViewFields, p[0].Name) {
		if len(p) == 0 {
			return fmt.Errorf("--ignore %q ignores the whole value: nothing would be left to compare", expr)
		}
		o.IgnoreValue = append(o.IgnoreValue, p)
		return nil
	}
	switch p[0].Name {
	case "value":
		if len(p) == 1 {
			return fmt.Errorf("--ignore %q ignores the whole value: nothing would be left to compare", expr)
		}
		o.IgnoreValue = append(o.IgnoreValue, p[1:])
	case "headers", "headerList":
		switch {
		case len(p) == 1:
			o.IgnoreHeaders = true
		case len(p) == 2 && p[1].Index == memberStep && p[0].Name == "headers":
			o.IgnoreHeaderKeys = append(o.IgnoreHeaderKeys, p[1].Name)
		default:
			return fmt.Errorf("--ignore %q: name one header, as .headers[\"trace-id\"], or all of them, as .headers", expr)
		}
	case "type":
		o.IgnoreType = true
	case "key":
		return fmt.Errorf("--ignore %q: keys identify what is compared; use --key-by to identify records otherwise", expr)
	}
	return nil
}

// ReportVersion is the version of the JSON report (-o json) documented in
// docs/report-format.md.
const ReportVersion = 1

// Report is the outcome of a comparison: the view that every output format
// renders (docs/report-format.md).
type Report struct {
	Version int    `json:"version"`
	Mode    Mode   `json:"mode"`
	A       string `json:"a"`
	B       string `json:"b"`
	// Equal says the sides are the same: nothing added, removed or changed.
	Equal bool `json:"equal"`
	// Added are keys only b has, Removed keys only a has (state: with their
	// value; history: with their event count). Sorted by key.
	Added   []Entry  `json:"added"`
	Removed []Entry  `json:"removed"`
	Changed []Change `json:"changed"`
	Counts  Counts   `json:"counts"`
	// Truncated says the lists hold only the first MaxChanges differing
	// keys (by key), or a key only its first MaxChanges event differences
	// (MoreEvents); Counts and Groups still cover them all.
	Truncated bool `json:"truncated,omitempty"`
	// Groups are the changes many keys share, most common first.
	Groups []Group `json:"groups,omitempty"`
	// Notes say how the sides were read (different key encodings, records
	// skipped): worth telling the user, not differences.
	Notes []string `json:"notes,omitempty"`
	// Warnings say the comparison may mislead: a key whose records are on
	// more than one partition of a side (state mode), where the order of
	// its records, and so its latest value, is not defined.
	Warnings []string `json:"warnings,omitempty"`
	// SkippedTypes counts, for a side rebuilt by a projection (verify),
	// the events of each type its ignore-unknown skipped ("" for events
	// without a type), as check's report does.
	SkippedTypes map[string]int64 `json:"skippedTypes,omitempty"`
}

// Key is a compared key: its text (what text reports print and keys are
// matched by) and its JSON value (what JSON reports hold).
type Key struct {
	Text string
	JSON json.RawMessage
}

// MarshalJSON writes the key as its JSON value: "acct-1", 42, {"id":7}.
func (k Key) MarshalJSON() ([]byte, error) {
	if len(k.JSON) > 0 && json.Valid(k.JSON) {
		var b bytes.Buffer
		if err := json.Compact(&b, k.JSON); err == nil {
			return b.Bytes(), nil
		}
	}
	return quoteJSON(k.Text), nil
}

// keyOf is the key text, as JSON from the first of jsons that knows it
// (a state held in memory knows only its text).
func keyOf(text string, jsons ...json.RawMessage) Key {
	k := Key{Text: text}
	for _, j := range jsons {
		if j != nil {
			k.JSON = j
			break
		}
	}
	return k
}

// Entry is a key present on one side only.
type Entry struct {
	Key    Key             `json:"key"`
	Value  json.RawMessage `json:"value,omitempty"`  // state mode: its latest value
	At     string          `json:"at,omitempty"`     // state mode: partition@offset of that value
	Events int             `json:"events,omitempty"` // history mode: how many events
}

// Change is a key whose value (state) or history differs.
type Change struct {
	Key Key `json:"key"`
	// AtA and AtB are where each side's latest value is (state mode).
	AtA    string        `json:"atA,omitempty"`
	AtB    string        `json:"atB,omitempty"`
	Fields []Field       `json:"fields,omitempty"`
	Events []EventChange `json:"events,omitempty"`
	// MoreEvents counts the event differences (history mode) past the
	// first MaxChanges, which Events leaves out.
	MoreEvents int `json:"moreEvents,omitempty"`
}

// Field is one difference inside a value, by jq path. A or B is absent
// (nil) when the field exists on one side only.
type Field struct {
	Path string          `json:"path"`
	A    json.RawMessage `json:"a,omitempty"`
	B    json.RawMessage `json:"b,omitempty"`
}

// Event change kinds (history mode).
const (
	Missing   = "missing"   // in a, not in b
	Extra     = "extra"     // in b, not in a
	Changed   = "changed"   // at the same place, different content
	Reordered = "reordered" // in both, at another place
)

// EventChange is one difference between two histories of a key.
type EventChange struct {
	Kind   string  `json:"kind"`
	A      string  `json:"a,omitempty"` // partition@offset on side a
	B      string  `json:"b,omitempty"` // partition@offset on side b
	Type   string  `json:"type,omitempty"`
	Fields []Field `json:"fields,omitempty"`
}

// Counts summarise a comparison. Keys are aggregates in history mode.
type Counts struct {
	A       int `json:"a"`
	B       int `json:"b"`
	Same    int `json:"same"`
	Added   int `json:"added"`
	Removed int `json:"removed"`
	Changed int `json:"changed"`
	// History mode: events on each side and their differences.
	EventsA   int `json:"eventsA,omitempty"`
	EventsB   int `json:"eventsB,omitempty"`
	Missing   int `json:"missing,omitempty"`
	Extra     int `json:"extra,omitempty"`
	ChangedEv int `json:"changedEvents,omitempty"`
	Reordered int `json:"reordered,omitempty"`
	// Records skipped for want of a key (null keys, --key-by yielding nothing).
	SkippedA int `json:"skippedA,omitempty"`
	SkippedB int `json:"skippedB,omitempty"`
}

// KeyEncodingError says the sides' keys are encoded differently and no key
// is on both sides: every key would differ, which is surely not the answer
// the user wants.
type KeyEncodingError struct {
	A, B         string
	EncA, EncB   []string // encodings seen on each side
	SampA, SampB string   // a key from each side
}

func (e *KeyEncodingError) Error() string {
	return fmt.Sprintf("the sides' keys are encoded differently and no key is on both sides: %s has %s keys (e.g. %s), %s has %s keys (e.g. %s); "+
		"decode both alike (a registry for Avro keys: --registry), or pick the identity with --key-by (e.g. --key-by '.key.id? // .key')",
		e.A, strings.Join(e.EncA, "+"), strconv.Quote(e.SampA), e.B, strings.Join(e.EncB, "+"), strconv.Quote(e.SampB))
}

// Compare reads both sources and reports their differences. It returns
// ctx.Err() when interrupted, and a *KeyEncodingError when the keys of the
// two sides cannot match.
func Compare(ctx context.Context, a, b Source, opts Options) (*Report, error) {
	r, _, err := compare(ctx, a, b, opts)
	return r, err
}

// compare is Compare, with what the comparison learned (for tests).
func compare(ctx context.Context, a, b Source, opts Options) (*Report, *comparison, error) {
	if opts.Mode == "" {
		opts.Mode = ModeState
	}
	for _, s := range []Source{a, b} {
		if p, ok := s.(prehasher); ok {
			p.prehash(opts.IgnoreValue)
		}
	}
	c := &comparison{opts: opts, a: newSide(a), b: newSide(b)}
	// Pass 1: a hash per key on each side, both sides at once.
	if err := both(ctx, func(ctx context.Context) error { return c.hashPass(ctx, c.a) },
		func(ctx context.Context) error { return c.hashPass(ctx, c.b) }); err != nil {
		return nil, nil, err
	}
	r := &Report{Version: ReportVersion, Mode: opts.Mode, A: a.Name(), B: b.Name(), Added: []Entry{}, Removed: []Entry{}, Changed: []Change{}}
	onlyA, onlyB, differ := c.classify(&r.Counts)
	if err := c.checkKeys(r, len(onlyA)+len(onlyB)+len(differ)); err != nil {
		return nil, nil, err
	}
	r.Counts.SkippedA, r.Counts.SkippedB = c.a.skipped, c.b.skipped
	c.splitWarnings(r)
	c.a.deletedOn, c.b.deletedOn = nil, nil
	r.Equal = len(onlyA)+len(onlyB)+len(differ) == 0
	batches := c.batches(onlyA, onlyB, differ)
	c.eventsHeld = opts.Mode == ModeHistory && c.fullHold(differ)/int64(batches) <= c.budget()/4
	if opts.Mode == ModeHistory {
		for _, s := range []*side{c.a, c.b} {
			s.sizes = make(map[uint64]int, len(differ))
			for _, k := range differ {
				s.sizes[k] = s.counts[k]
			}
		}
	}
	// The per-key hashes are done with: let pass 2 reuse their memory.
	c.a.hashes, c.b.hashes, c.a.counts, c.b.counts = nil, nil, nil, nil
	if r.Equal || (opts.Stat && opts.Mode == ModeState) {
		return r, c, nil
	}
	// Pass 2: read back only the keys that differ, in as many batches as
	// keep what is held at once within the memory budget.
	d := newDetails(r, opts.MaxChanges)
	// differs: the keys pass 2 reads back, true for those on both sides.
	differs := make(map[uint64]bool, len(onlyA)+len(onlyB)+len(differ))
	for _, set := range [][]uint64{onlyA, onlyB, differ} {
		for _, k := range set {
			differs[k] = false
		}
	}
	for _, k := range differ {
		differs[k] = true
	}
	for i := range batches {
		want := batchKeys(differs, batches, i)
		if err := both(ctx, func(ctx context.Context) error { return c.collectPass(ctx, c.a, want, differs) },
			func(ctx context.Context) error { return c.collectPass(ctx, c.b, want, differs) }); err != nil {
			return nil, nil, err
		}
		var err error
		if opts.Mode == ModeHistory {
			err = c.historyReport(ctx, d, filterKeys(onlyA, want), filterKeys(onlyB, want), filterKeys(differ, want))
		} else {
			err = c.stateReport(d, filterKeys(onlyA, want), filterKeys(onlyB, want), filterKeys(differ, want))
		}
		if err != nil {
			return nil, nil, err
		}
		c.a.states, c.b.states, c.a.hists, c.b.hists = nil, nil, nil, nil
		c.hold(-c.held.Load())
	}
	d.finish()
	return r, c, nil
}

// batchKeys says which keys pass 2's batch i of n reads back: differing
// keys, split by their hash.
func batchKeys(differs map[uint64]bool, n, i int) func(uint64) bool {
	return func(k uint64) bool {
		_, ok := differs[k]
		return ok && k%uint64(n) == uint64(i)
	}
}

func filterKeys(keys []uint64, want func(uint64) bool) []uint64 {
	var out []uint64
	for _, k := range keys {
		if want(k) {
			out = append(out, k)
		}
	}
	return out
}

// DefaultMemoryBudget bounds what pass 2 holds at once: the values (or
// events) of the differing keys it reads back, in batches when they would
// not fit. What pass 1 holds (a hash per key and side) comes on top.
const DefaultMemoryBudget = 128 << 20

// heldPerEvent is what holding one event in pass 2 costs besides its
// value: the Event, its slices, the map entry (measured roughly).
const heldPerEvent = 320

// heldPerHistEvent is what pass 2 holds of one event of a history: its
// two hashes (keyHist) and, as the key is aligned, its marks and 4 bytes
// to pair the unmatched events (reorders); no value.
const heldPerHistEvent = 24

// batches is how many passes over the differing keys keep each within the
// memory budget, estimated from pass 1 (values' average size, and events
// per key in history mode).
func (c *comparison) batches(onlyA, onlyB, differ []uint64) int {
	budget := c.budget()
	var est int64
	for _, s := range []*side{c.a, c.b} {
		if s.values == 0 {
			continue
		}
		per := s.valueBytes/int64(s.values) + heldPerEvent
		if s.counts != nil {
			per = heldPerHistEvent
		}
		var held int64
		for _, set := range [][]uint64{onlyA, onlyB, differ} {
			for _, k := range set {
				if _, ok := s.hashes[k]; !ok {
					continue
				}
				if s.counts != nil {
					held += int64(s.counts[k])
				} else {
					held++
				}
			}
		}
		est += held * per
	}
	return int(max(1, (est+budget-1)/budget))
}

func (c *comparison) budget() int64 {
	if c.opts.MemoryBudget > 0 {
		return c.opts.MemoryBudget
	}
	return DefaultMemoryBudget
}

// fullHold estimates what holding every event of the differing keys
// (history mode) would cost.
func (c *comparison) fullHold(differ []uint64) int64 {
	var est int64
	for _, s := range []*side{c.a, c.b} {
		if s.values == 0 {
			continue
		}
		var n int64
		for _, k := range differ {
			n += int64(s.counts[k])
		}
		est += n * (s.valueBytes/int64(s.values) + heldPerEvent)
	}
	return est
}

// side is one source and what the passes learned of it.
type side struct {
	src Source
	// hashes: key hash → value hash (state) or the hash of the sequence of
	// event hashes (history).
	hashes map[uint64]uint64
	counts map[uint64]int // history: events per key
	events int
	// values and valueBytes: how many values pass 1 read and their size,
	// to estimate what pass 2 will hold.
	values     int
	valueBytes int64
	// encodings seen, each with a sample key.
	encodings map[string]string
	skipped   int
	// State mode: the partition of each deleted key's tombstone, and the
	// keys seen on more than one partition (the partition of every other
	// key is in the low bits of its hash; see hashPass).
	deletedOn map[uint64]int32
	split     map[uint64]*splitKey
	// Pass 2: the keys that differ.
	states map[uint64]*Event   // state: the latest event
	hists  map[uint64]*keyHist // history: every event's hashes
	// sizes: history, the events of each key on both sides (pass 1's
	// count), so that pass 2 sizes their hashes once.
	sizes map[uint64]int
}

func newSide(s Source) *side {
	return &side{src: s, hashes: map[uint64]uint64{}, encodings: map[string]string{}, deletedOn: map[uint64]int32{}, split: map[uint64]*splitKey{}}
}

// splitKey is a key found on more than one partition of a side.
type splitKey struct {
	key        string
	partitions []int32
}

// partBits hold a record's partition in the low bits of a state-mode
// value hash, so that a key seen again on another partition is noticed
// without a map of its own: 48 bits of hash are plenty to tell values
// apart, and the bits are masked off when the sides are compared.
const partBits = 0xffff

// notePartition records that key kh, last seen on partition was, is now
// on partition p.
func (s *side) notePartition(kh uint64, key string, was, p int32) {
	if was == p {
		return
	}
	sk := s.split[kh]
	if sk == nil {
		sk = &splitKey{key: key, partitions: []int32{was}}
		s.split[kh] = sk
	}
	if !slices.Contains(sk.partitions, p) {
		sk.partitions = append(sk.partitions, p)
	}
}

// splitWarnings name the keys found on more than one partition, a few per
// side: a producer with another partitioner wrote some of their records
// (a tombstone, often), and which of them is the latest is not defined.
func (c *comparison) splitWarnings(r *Report) {
	for _, s := range []*side{c.a, c.b} {
		if len(s.split) == 0 {
			continue
		}
		keys := make([]*splitKey, 0, len(s.split))
		for _, sk := range s.split {
			keys = append(keys, sk)
		}
		slices.SortFunc(keys, func(x, y *splitKey) int { return strings.Compare(x.key, y.key) })
		for i, sk := range keys {
			if i == 5 {
				r.Warnings = append(r.Warnings, fmt.Sprintf("%s: %d more keys on more than one partition", s.src.Name(), len(keys)-i))
				break
			}
			slices.Sort(sk.partitions)
			parts := make([]string, len(sk.partitions))
			for j, p := range sk.partitions {
				parts[j] = strconv.Itoa(int(p))
			}
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s: key %s has records on partitions %s, so no order says which is its latest (compared: the last one read); were some written with another partitioner?",
				s.src.Name(), strconv.Quote(sk.key), strings.Join(parts, " and ")))
		}
	}
}

type comparison struct {
	opts Options
	a, b *side
	// held counts the history mode's events held at once (values and
	// all: the fields pass holds the events it compares), peakHeld the
	// most it reached.
	held, peakHeld atomic.Int64
	// eventsHeld: pass 2 holds the differing keys' events, which fit in
	// the budget, so that the fields pass need not read them back.
	eventsHeld bool
}

// hold notes n more events held (n < 0: fewer).
func (c *comparison) hold(n int64) {
	h := c.held.Add(n)
	for {
		p := c.peakHeld.Load()
		if h <= p || c.peakHeld.CompareAndSwap(p, h) {
			return
		}
	}
}

func keyHash(k string) uint64 { return maphash.String(seed, k) }

func (c *comparison) hashPass(ctx context.Context, s *side) error {
	history := c.opts.Mode == ModeHistory
	if history {
		s.counts = map[uint64]int{}
	}
	return s.src.Scan(ctx, func(e *Event) error {
		if e.KeyEncoding == record.EncodingNull {
			s.skipped++
			return nil
		}
		if e.KeyEncoding != "" {
			if _, ok := s.encodings[e.KeyEncoding]; !ok {
				s.encodings[e.KeyEncoding] = e.Key
			}
		}
		kh := keyHash(e.Key)
		s.values++
		s.valueBytes += int64(len(e.Value) + len(e.Key))
		if !history {
			if e.Partition >= 0 {
				if prev, ok := s.hashes[kh]; ok {
					s.notePartition(kh, e.Key, int32(prev&partBits), e.Partition&partBits)
				} else if p, ok := s.deletedOn[kh]; ok {
					s.notePartition(kh, e.Key, p, e.Partition&partBits)
				}
			}
			if e.Value == nil {
				delete(s.hashes, kh)
				if e.Partition >= 0 {
					s.deletedOn[kh] = e.Partition & partBits
				}
				return nil
			}
			vh, err := e.hash, error(nil)
			if !e.hashed {
				vh, err = HashValue(e.Value, c.opts.IgnoreValue)
			}
			if err != nil {
				return fmt.Errorf("%s %s: value: %w", s.src.Name(), e.At(), err)
			}
			s.hashes[kh] = vh&^partBits | uint64(max(e.Partition, 0)&partBits)
			return nil
		}
		id, meta, err := c.eventHashes(e)
		if err != nil {
			return fmt.Errorf("%s %s: value: %w", s.src.Name(), e.At(), err)
		}
		s.hashes[kh] = combine(s.hashes[kh], combine(id, meta))
		s.counts[kh]++
		s.events++
		return nil
	})
}

// eventHashes returns an event's identity (its value, as compared) and
// the hash of the rest of what is compared (type and headers; 0 when
// neither is: metaCompared).
func (c *comparison) eventHashes(e *Event) (id, meta uint64, err error) {
	if e.Value == nil {
		id = tagNull ^ 0x5bd1e995 // a tombstone is not the JSON value null
	} else if e.hashed {
		id = e.hash
	} else if id, err = HashValue(e.Value, c.opts.IgnoreValue); err != nil {
		return 0, 0, err
	}
	if !c.opts.ValuesOnly && !c.opts.IgnoreType {
		meta = maphash.String(seed, e.Type)
	}
	if !c.opts.ValuesOnly && !c.opts.IgnoreHeaders {
		h := tagArray
		for _, hd := range e.Headers {
			if slices.Contains(c.opts.IgnoreHeaderKeys, hd.Key) {
				continue
			}
			h = combine(combine(h, maphash.String(seed, hd.Key)), maphash.String(seed, hd.Encoding+":"+hd.Value))
		}
		meta = combine(meta, h)
	}
	return id, meta, nil
}

// metaCompared says events' types or headers are compared besides their
// values.
func (c *comparison) metaCompared() bool {
	return !c.opts.ValuesOnly && (!c.opts.IgnoreType || !c.opts.IgnoreHeaders)
}

// classify splits the keys into a-only, b-only and differing, and counts.
func (c *comparison) classify(n *Counts) (onlyA, onlyB, differ []uint64) {
	for k, ha := range c.a.hashes {
		hb, ok := c.b.hashes[k]
		switch {
		case !ok:
			onlyA = append(onlyA, k)
		case c.a.counts == nil && ha&^partBits != hb&^partBits, // state: values, not partitions
			c.a.counts != nil && (ha != hb || c.a.counts[k] != c.b.counts[k]):
			differ = append(differ, k)
		default:
			n.Same++
		}
	}
	for k := range c.b.hashes {
		if _, ok := c.a.hashes[k]; !ok {
			onlyB = append(onlyB, k)
		}
	}
	n.A, n.B = len(c.a.hashes), len(c.b.hashes)
	n.Added, n.Removed, n.Changed = len(onlyB), len(onlyA), len(differ)
	n.EventsA, n.EventsB = c.a.events, c.b.events
	return onlyA, onlyB, differ
}

// checkKeys fails when the sides' keys are encoded differently and none
// matches, and notes a difference in encodings that it could reconcile.
func (c *comparison) checkKeys(r *Report, differing int) error {
	ea, eb := sortedKeys(c.a.encodings), sortedKeys(c.b.encodings)
	if len(ea) == 0 || len(eb) == 0 || slices.Equal(ea, eb) {
		return nil
	}
	if r.Counts.Same+r.Counts.Changed == 0 && differing > 0 {
		return &KeyEncodingError{A: r.A, B: r.B, EncA: ea, EncB: eb, SampA: c.a.encodings[ea[0]], SampB: c.b.encodings[eb[0]]}
	}
	r.Notes = append(r.Notes, fmt.Sprintf("keys are encoded differently (%s: %s; %s: %s): compared as text, so the text key acct-1 equals the JSON key \"acct-1\"",
		r.A, strings.Join(ea, "+"), r.B, strings.Join(eb, "+")))
	return nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// cloneEvent copies an event out of a source's buffers.
func cloneEvent(e *Event) *Event {
	out := *e
	if e.Value != nil {
		out.Value = bytes.Clone(e.Value)
	}
	out.KeyJSON = bytes.Clone(e.KeyJSON)
	out.Headers = slices.Clone(e.Headers)
	return &out
}

// collectPass reads back the keys pass 2 wants: their latest event (state
// mode), or their events' hashes (history mode; only the count of a key
// on one side, per differs).
func (c *comparison) collectPass(ctx context.Context, s *side, want func(uint64) bool, differs map[uint64]bool) error {
	if c.opts.Mode == ModeHistory {
		s.hists = map[uint64]*keyHist{}
	} else {
		s.states = map[uint64]*Event{}
	}
	return s.src.Scan(ctx, func(e *Event) error {
		if e.KeyEncoding == record.EncodingNull {
			return nil
		}
		kh := keyHash(e.Key)
		if !want(kh) {
			return nil
		}
		switch {
		case s.hists != nil:
			return c.collectEvent(s, kh, e, differs[kh])
		case e.Value == nil:
			delete(s.states, kh)
		default:
			s.states[kh] = cloneEvent(e)
		}
		return nil
	})
}

// collectEvent notes one event of a history pass 2 wants: its hashes when
// the key is on both sides (events), its count in any case.
func (c *comparison) collectEvent(s *side, kh uint64, e *Event, events bool) error {
	h := s.hists[kh]
	if h == nil {
		h = &keyHist{key: e.Key, keyJSON: bytes.Clone(e.KeyJSON)}
		if events {
			h.ids = make([]uint64, 0, s.sizes[kh])
			if c.metaCompared() {
				h.metas = make([]uint64, 0, s.sizes[kh])
			}
		}
		s.hists[kh] = h
	}
	h.n++
	if !events {
		return nil
	}
	id, meta, err := c.eventHashes(e)
	if err != nil {
		return fmt.Errorf("%s %s: value: %w", s.src.Name(), e.At(), err)
	}
	h.ids = append(h.ids, id)
	if h.metas != nil {
		h.metas = append(h.metas, meta)
	}
	if c.eventsHeld {
		h.held = append(h.held, cloneEvent(e))
		c.hold(1)
	}
	return nil
}

func (c *comparison) stateReport(d *details, onlyA, onlyB, differ []uint64) error {
	for _, k := range onlyA {
		if e := c.a.states[k]; e != nil {
			d.removed(Entry{Key: keyOf(e.Key, e.KeyJSON), Value: e.Value, At: e.At()})
		}
	}
	for _, k := range onlyB {
		if e := c.b.states[k]; e != nil {
			d.added(Entry{Key: keyOf(e.Key, e.KeyJSON), Value: e.Value, At: e.At()})
		}
	}
	for _, k := range differ {
		ea, eb := c.a.states[k], c.b.states[k]
		if ea == nil || eb == nil {
			continue // the source changed between the passes
		}
		fields, err := FieldDiff(ea.Value, eb.Value, c.opts.IgnoreValue)
		if err != nil {
			return fmt.Errorf("key %q: %w", ea.Key, err)
		}
		d.changed(Change{Key: keyOf(ea.Key, ea.KeyJSON, eb.KeyJSON), AtA: ea.At(), AtB: eb.At(), Fields: fields})
	}
	return nil
}

// both runs fa and fb at once; the first error cancels the other.
func both(ctx context.Context, fa, fb func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, f := range []func(context.Context) error{fa, fb} {
		wg.Go(func() {
			if errs[i] = f(ctx); errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	// The error that caused the cancellation, not the other side's
	// context.Canceled.
	var first error
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		if first == nil {
			first = err
		}
	}
	return first
}
