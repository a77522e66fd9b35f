// Package check lints an event stream: fed a topic's decoded records, one
// partition after another and each in offset order, it reports what breaks
// the rules an event-sourced stream lives by (see Rule). It reads nothing
// itself, so it tests without a broker and builds with CGO_ENABLED=0.
package check

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/itchyny/gojq"

	"github.com/evctl/evctl/internal/english"
	"github.com/evctl/evctl/internal/filter"
	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/replay"
)

// Rule names one kind of finding.
type Rule string

// The rules, in the order reports list them.
const (
	// RuleUndecodable: the record's key or value did not decode. Such a
	// record is seen by no other rule.
	RuleUndecodable Rule = "undecodable"
	// RuleNoSchema: the value has no schema (plain JSON, text or bytes),
	// in a topic where some record has one (or always, RequireSchema).
	RuleNoSchema Rule = "no-schema"
	// RuleFieldError: --key-by, --version-field or --id-field failed on the
	// record, or gave no usable value.
	RuleFieldError Rule = "field-error"
	// RuleVersionGap: the aggregate's version skipped numbers (or its first
	// version is not 1).
	RuleVersionGap Rule = "version-gap"
	// RuleVersionDuplicate: the version is not above the aggregate's last.
	RuleVersionDuplicate Rule = "version-duplicate"
	// RuleDuplicateID: the event id was seen before, anywhere in the topic.
	RuleDuplicateID Rule = "duplicate-id"
	// RuleMultiPartition: the aggregate has events on a second partition,
	// where nothing orders them against the first.
	RuleMultiPartition Rule = "multi-partition"
	// RuleAfterTerminal: an event of an aggregate after its terminal event.
	RuleAfterTerminal Rule = "after-terminal"
	// RuleTimestampBackwards: a timestamp earlier than the aggregate's
	// previous event's.
	RuleTimestampBackwards Rule = "timestamp-backwards"
	// RuleUnknownType: an event type the projection has no handler for.
	RuleUnknownType Rule = "unknown-type"
	// RuleFoldError: the projection failed on the event.
	RuleFoldError Rule = "fold-error"
	// RuleAssertion: an --assert over the folded state was false, empty or
	// failed.
	RuleAssertion Rule = "assertion"
)

// Rules lists every rule in report order.
var Rules = []Rule{
	RuleUndecodable, RuleNoSchema, RuleFieldError, RuleVersionGap, RuleVersionDuplicate,
	RuleDuplicateID, RuleMultiPartition, RuleAfterTerminal, RuleTimestampBackwards,
	RuleUnknownType, RuleFoldError, RuleAssertion,
}

// ParseRule checks a rule name.
func ParseRule(s string) (Rule, error) {
	for _, r := range Rules {
		if string(r) == s {
			return r, nil
		}
	}
	names := make([]string, len(Rules))
	for i, r := range Rules {
		names[i] = string(r)
	}
	return "", fmt.Errorf("unknown rule %q (rules: %s)", s, strings.Join(names, ", "))
}

func ruleIndex(r Rule) int { return slices.Index(Rules, r) }

// Finding is one broken rule, at one record.
type Finding struct {
	Rule      Rule   `json:"rule"`
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	// Key is the record key as text (strings bare, other JSON compact,
	// "" for a null key).
	Key string `json:"key"`
	// Aggregate is the aggregate id, when --key-by makes it differ from Key.
	Aggregate string `json:"aggregate,omitempty"`
	Message   string `json:"message"`
}

// Options choose the rules and their fields. Expressions are jq over the
// record as filters see it (filter.View).
type Options struct {
	// KeyBy is the aggregate id; "" means the record key. A record whose
	// id is null belongs to no aggregate: per-aggregate rules skip it.
	KeyBy string
	// VersionField is each event's version within its aggregate, an
	// integer from FirstVersion ("": the Projection's version: expression,
	// if any; else the version rules are off).
	VersionField string
	// FirstVersion is the version of an aggregate's first event; nil
	// means 1 (many systems count from 0).
	FirstVersion *int64
	// AggregateType names the aggregate's type (jq, like KeyBy): an
	// aggregate is then its type and id, so aggregates of two types that
	// share ids have their own versions, terminal events and order.
	AggregateType string
	// IDField is each event's id, unique across the topic ("" turns
	// duplicate-id off). An expression that yields nothing (say
	// '.headers["event-id"] // empty') means the event has no id: counted
	// in Report.WithoutID, not a finding.
	IDField string
	// Terminal lists event types (full or short names) after which an
	// aggregate takes no more events. With a Projection, event types are
	// the spec's (its type: expression), so schemaless topics have them.
	Terminal []string
	// Reopens lists event types that reopen an aggregate after its
	// terminal event (an account opened again): no after-terminal finding.
	Reopens []string
	// Projection folds every aggregate (unknown-type, fold-error) and feeds
	// the assertions; nil turns those rules off.
	Projection *replay.Projection
	// Asserts are jq expressions over {state, event, record} run after each
	// event the projection folds; they need Projection.
	Asserts []string
	// RequireSchema reports every record without a schema, not only those in
	// a topic where some record has one.
	RequireSchema bool
	// Skip turns rules off.
	Skip []Rule
	// MaxFindings caps the findings listed per rule (0: no cap); Counts
	// stay exact.
	MaxFindings int
}

// Report is the outcome of a check.
type Report struct {
	Topic   string `json:"topic"`
	Records int64  `json:"records"`
	// Findings sorted by topic, partition, offset and rule.
	Findings []Finding `json:"findings"`
	// Counts has every enabled rule, with zero for clean ones; a count
	// above the findings listed for its rule means MaxFindings cut the list.
	Counts map[Rule]int64 `json:"counts"`
	// Disabled names the rules that did not run, and why.
	Disabled map[Rule]string `json:"disabled,omitempty"`
	// SkippedTypes counts the events of each type a projection that ignores
	// unknown types skipped: not findings, worth a note.
	SkippedTypes map[string]int64 `json:"skippedTypes,omitempty"`
	// WithoutID counts the records IDField yielded nothing for: events
	// without an id, which duplicate-id did not see.
	WithoutID int64 `json:"withoutEventId,omitempty"`
	// UnseenTypes lists the Terminal and Reopens types no event had: a
	// typo, or types the records do not carry (see Notes).
	UnseenTypes []string `json:"unseenTypes,omitempty"`
	// Notes say in words what the report holds besides findings: records
	// no rule could judge, types the options named and no event had.
	Notes []string `json:"notes,omitempty"`
}

// notes is what Report.Notes says.
func (c *Checker) notes(r *Report) []string {
	var notes []string
	if note := replay.SkippedTypesNote(r.SkippedTypes); note != "" {
		notes = append(notes, note)
	}
	if r.WithoutID > 0 {
		notes = append(notes, fmt.Sprintf("%s without an event id (--id-field %s gave nothing): duplicate-id did not see them",
			english.Plural(r.WithoutID, "record"), c.opts.IDField))
	}
	seen := slices.Sorted(slices.Values(c.typesSeen))
	for _, t := range r.UnseenTypes {
		if !c.typed {
			notes = append(notes, fmt.Sprintf("no event has type %q: no record has an event type (schemaless values): give --projection with a spec whose type: names them", t))
			continue
		}
		notes = append(notes, fmt.Sprintf("no event has type %q (types seen: %s)", t, strings.Join(seen, ", ")))
	}
	return notes
}

// maxTypesSeen caps the event types a report lists for a note.
const maxTypesSeen = 20

// Total is the number of findings, listed or not.
func (r *Report) Total() int64 {
	var n int64
	for _, c := range r.Counts {
		n += c
	}
	return n
}

// aggregate is what the checker keeps per aggregate: small, whatever the
// number of events.
type aggregate struct {
	lastVersion     int64 // valid when versioned
	versioned       bool
	lastTime        int64 // unix milliseconds of the last event
	lastOffset      int64
	closedOffset    int64 // where the terminal event was
	partition       int32 // the first partition the aggregate was seen on
	lastPartition   int32
	closedPartition int32
	closed          bool
	closedType      string // the --terminal value it matched
}

// idSeen is where an event id was first seen.
type idSeen struct {
	partition int32
	offset    int64
}

type program struct {
	what string // where it comes from, for messages: "--version-field .value.v"
	src  string
	code *gojq.Code
}

// Checker runs the rules over records. Not safe for concurrent use.
type Checker struct {
	opts     Options
	enabled  map[Rule]bool
	disabled map[Rule]string
	keyBy    *program
	aggType  *program
	version  *program
	first    int64
	id       *program
	asserts  []*program
	fold     *replay.Fold
	terminal []string
	reopens  []string

	topic     string
	records   int64
	aggs      map[string]*aggregate
	spread    map[string][]int32 // the further partitions of aggregates on more than one
	truncated map[int32]bool     // partitions whose start retention deleted
	ids       map[uint64]idSeen
	seed      maphash.Seed
	hasSchema bool
	pending   []Finding // no-schema findings held until a record with a schema shows up
	pendingN  int64
	findings  []Finding
	counts    map[Rule]int64
	listed    map[Rule]int
	unknown   map[string]int // unknown type → index in findings, or -1 when not listed
	unknownN  map[string]int64
	untyped   Finding // the first schemaless record the projection found no type for
	untypedN  int64
	withoutID int64
	matched   map[string]bool // the --terminal and --reopens types some event had
	typesSeen []string        // the first event types seen, for a note
	typed     bool            // some record had an event type
}

// New compiles the options' expressions; errors name the flag's expression.
func New(opts Options) (*Checker, error) {
	c := &Checker{
		opts:      opts,
		enabled:   map[Rule]bool{},
		disabled:  map[Rule]string{},
		aggs:      map[string]*aggregate{},
		spread:    map[string][]int32{},
		truncated: map[int32]bool{},
		ids:       map[uint64]idSeen{},
		seed:      maphash.MakeSeed(),
		counts:    map[Rule]int64{},
		listed:    map[Rule]int{},
		unknown:   map[string]int{},
		unknownN:  map[string]int64{},
		terminal:  opts.Terminal,
		reopens:   opts.Reopens,
		matched:   map[string]bool{},
		first:     1,
	}
	if opts.FirstVersion != nil {
		c.first = *opts.FirstVersion
	}
	if c.first < 0 {
		return nil, fmt.Errorf("--first-version %d: want a version, 0 or more", c.first)
	}
	if len(opts.Reopens) > 0 && len(opts.Terminal) == 0 {
		return nil, errors.New("--reopens needs --terminal: it names events that reopen an aggregate after its terminal event")
	}
	var err error
	if c.keyBy, err = compile("--key-by", opts.KeyBy); err != nil {
		return nil, err
	}
	if c.aggType, err = compile("--aggregate-type", opts.AggregateType); err != nil {
		return nil, err
	}
	switch {
	case opts.VersionField != "":
		c.version, err = compile("--version-field", opts.VersionField)
	case opts.Projection != nil && opts.Projection.VersionExpr() != "":
		c.version, err = compile("version: in "+opts.Projection.File, opts.Projection.VersionExpr())
		if err == nil {
			c.version.what = fmt.Sprintf("version %s (%s)", c.version.src, opts.Projection.File)
		}
	}
	if err != nil {
		return nil, err
	}
	if c.id, err = compile("--id-field", opts.IDField); err != nil {
		return nil, err
	}
	if len(opts.Asserts) > 0 && opts.Projection == nil {
		return nil, errors.New("--assert needs --projection: assertions run over the folded state")
	}
	for _, a := range opts.Asserts {
		p, err := compileAssert(a)
		if err != nil {
			return nil, err
		}
		c.asserts = append(c.asserts, p)
	}
	if opts.Projection != nil {
		c.fold = opts.Projection.NewFold()
	}

	need := map[Rule]string{}
	if c.version == nil {
		need[RuleVersionGap], need[RuleVersionDuplicate] = "needs --version-field", "needs --version-field"
	}
	if c.id == nil {
		need[RuleDuplicateID] = "needs --id-field"
	}
	if c.keyBy == nil && c.version == nil && c.id == nil {
		need[RuleFieldError] = "needs --key-by, --version-field or --id-field"
	}
	if len(opts.Terminal) == 0 {
		need[RuleAfterTerminal] = "needs --terminal"
	}
	if opts.Projection == nil {
		need[RuleUnknownType], need[RuleFoldError] = "needs --projection", "needs --projection"
	}
	if len(c.asserts) == 0 {
		need[RuleAssertion] = "needs --assert"
	}
	for _, r := range Rules {
		switch {
		case slices.Contains(opts.Skip, r):
			c.disabled[r] = "skipped (--skip)"
		case need[r] != "":
			c.disabled[r] = need[r]
		default:
			c.enabled[r] = true
			c.counts[r] = 0
		}
	}
	return c, nil
}

func compile(flag, src string) (*program, error) {
	if strings.TrimSpace(src) == "" {
		return nil, nil
	}
	// filter's compiler makes the error messages users know; gojq's code
	// then runs on one view shared by every expression.
	if _, err := filter.CompileExpr(src); err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	q, err := gojq.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	code, err := gojq.Compile(q)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return &program{what: flag + " " + src, src: src, code: code}, nil
}

func compileAssert(src string) (*program, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("--assert: empty expression")
	}
	return compile("--assert", src)
}

// Enabled reports whether a rule runs.
func (c *Checker) Enabled(r Rule) bool { return c.enabled[r] }

// Truncated says that a partition does not start at offset 0 (retention
// or compaction removed its beginning): an aggregate first seen there may
// start at any version.
func (c *Checker) Truncated(partition int32) { c.truncated[partition] = true }

// add records a finding: counted always, listed up to MaxFindings.
func (c *Checker) add(f Finding) {
	if !c.enabled[f.Rule] {
		return
	}
	c.counts[f.Rule]++
	if c.opts.MaxFindings > 0 && c.listed[f.Rule] >= c.opts.MaxFindings {
		return
	}
	c.listed[f.Rule]++
	c.findings = append(c.findings, f)
}

// Check runs the rules over one record. Records must come one partition at
// a time, each in offset order (the order makes reports reproducible, and
// versions and timestamps are compared in it). Its error is only ctx's.
func (c *Checker) Check(ctx context.Context, r *record.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.records++
	if c.topic == "" {
		c.topic = r.Topic
	}
	key, _ := r.KeyText() // a null key has none
	at := func(rule Rule, format string, args ...any) Finding {
		return Finding{Rule: rule, Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: key, Message: fmt.Sprintf(format, args...)}
	}

	if r.Error != "" {
		c.add(at(RuleUndecodable, "%s", r.Error))
		return nil
	}
	tombstone := r.ValueEncoding == record.EncodingNull
	switch r.ValueEncoding {
	case record.EncodingAvro, record.EncodingJSONSchema, record.EncodingProtobuf:
		if !c.hasSchema {
			c.hasSchema = true
			for _, f := range c.pending {
				c.add(f)
			}
			// Findings the pending list could not hold were counted.
			if c.enabled[RuleNoSchema] {
				c.counts[RuleNoSchema] += c.pendingN - int64(len(c.pending))
			}
			c.pending, c.pendingN = nil, 0
		}
	default:
		if !schemaless(r.ValueEncoding) {
			break
		}
		f := at(RuleNoSchema, "value is %s without a schema", encodingName(r.ValueEncoding))
		switch {
		case c.hasSchema || c.opts.RequireSchema:
			c.add(f)
		case c.enabled[RuleNoSchema]:
			c.pendingN++
			if c.opts.MaxFindings == 0 || len(c.pending) < c.opts.MaxFindings {
				c.pending = append(c.pending, f)
			}
		}
	}

	var view map[string]any
	needType := len(c.terminal) > 0 // whether the rules need the event type
	if c.keyBy != nil || c.aggType != nil || c.version != nil || c.id != nil || len(c.asserts) > 0 ||
		(needType && c.opts.Projection != nil && c.opts.Projection.TypeExpr() != "") {
		var err error
		if view, err = filter.View(r); err != nil {
			c.add(at(RuleUndecodable, "%v", err))
			return nil
		}
	}

	// The aggregate.
	aggID, hasAgg := key, r.KeyEncoding != record.EncodingNull
	aggregateName := ""
	if c.keyBy != nil {
		v, ok, err := run(ctx, c.keyBy, view)
		switch {
		case err != nil:
			c.add(at(RuleFieldError, "--key-by %s: %v", c.keyBy.src, err))
			hasAgg = false
		case !ok || v == nil:
			hasAgg = false
		default:
			aggID, hasAgg = valueText(v), true
			if aggID != key {
				aggregateName = aggID
			}
		}
	}
	aggKey := aggID // the aggregate: its id, or its type and id
	if c.aggType != nil && hasAgg {
		v, ok, err := run(ctx, c.aggType, view)
		switch {
		case err != nil:
			c.add(at(RuleFieldError, "--aggregate-type %s: %v", c.aggType.src, err))
		case ok && v != nil:
			t := valueText(v)
			aggKey, aggregateName = t+"\x00"+aggID, t+" "+aggID
		}
	}
	mk := func(rule Rule, format string, args ...any) Finding {
		f := at(rule, format, args...)
		f.Aggregate = aggregateName
		return f
	}

	// Event ids, across the topic.
	if c.id != nil {
		v, ok, err := run(ctx, c.id, view)
		switch {
		case err != nil:
			c.add(mk(RuleFieldError, "--id-field %s: %v", c.id.src, err))
		case !ok:
			// The expression says this event has no id (// empty): counted once.
			c.withoutID++
		case v == nil || v == "":
			if !tombstone {
				c.add(mk(RuleFieldError, "--id-field %s: no event id", c.id.src))
			}
		default:
			id := valueText(v)
			h := maphash.String(c.seed, id)
			if first, dup := c.ids[h]; dup {
				c.add(mk(RuleDuplicateID, "event id %s already at %d@%d", id, first.partition, first.offset))
			} else {
				c.ids[h] = idSeen{partition: r.Partition, offset: r.Offset}
			}
		}
	}

	if !hasAgg {
		c.foldAndAssert(ctx, r, view, tombstone, mk)
		return nil
	}

	a := c.aggs[aggKey]
	isNew := a == nil
	if isNew {
		a = &aggregate{partition: r.Partition, lastPartition: r.Partition, lastOffset: -1, lastTime: math.MinInt64}
		c.aggs[aggKey] = a
	}

	// One aggregate, one partition.
	if r.Partition != a.partition && !slices.Contains(c.spread[aggKey], r.Partition) {
		c.spread[aggKey] = append(c.spread[aggKey], r.Partition)
		c.add(mk(RuleMultiPartition, "aggregate %s is on partitions %d and %d: nothing orders its events across them", aggID, a.partition, r.Partition))
	}

	// Timestamps never go back.
	ts := r.Timestamp.UnixMilli()
	if !isNew && ts < a.lastTime {
		prev := record.Timestamp{Time: time.UnixMilli(a.lastTime)}
		c.add(mk(RuleTimestampBackwards, "timestamp %s is before %s of the previous event (%d@%d)", r.Timestamp, prev, a.lastPartition, a.lastOffset))
	}
	a.lastTime, a.lastPartition, a.lastOffset = ts, r.Partition, r.Offset

	if !tombstone {
		// Nothing after a terminal event, but an event that reopens.
		if needType {
			t := c.eventType(ctx, r, view)
			switch {
			case a.closed && c.matchType(c.reopens, t) != "":
				a.closed = false
			case a.closed:
				c.add(mk(RuleAfterTerminal, "%s after the terminal %s at %d@%d", typeName(t), a.closedType, a.closedPartition, a.closedOffset))
			default:
				if want := c.matchType(c.terminal, t); want != "" {
					a.closed, a.closedType, a.closedPartition, a.closedOffset = true, want, r.Partition, r.Offset
				}
			}
		}

		// Versions go 1, 2, 3... (or 0, 1, 2...)
		if c.version != nil {
			c.checkVersion(ctx, a, isNew, r, view, mk)
		}
	}

	c.foldAndAssert(ctx, r, view, tombstone, mk)
	return nil
}

func (c *Checker) checkVersion(ctx context.Context, a *aggregate, isNew bool, r *record.Record, view map[string]any, mk func(Rule, string, ...any) Finding) {
	v, ok, err := run(ctx, c.version, view)
	if err != nil {
		c.add(mk(RuleFieldError, "%s: %v", c.version.what, err))
		return
	}
	version, valid := replay.EventVersion(v)
	if !ok || !valid || version < c.first {
		got := "nothing"
		if ok {
			got = gojq.Preview(v)
		}
		c.add(mk(RuleFieldError, "%s: want an integer from %d (--first-version), got %s", c.version.what, c.first, got))
		return
	}
	last := a.lastVersion
	if !a.versioned {
		last = c.first - 1
	}
	switch {
	case !a.versioned && isNew && c.truncated[r.Partition]:
		// The aggregate's earlier events may be gone with the partition's start.
	case version == last+1:
	case version > last+1 && !a.versioned:
		c.add(mk(RuleVersionGap, "first version is %d, want %d (%s missing)", version, c.first, span(c.first, version-1)))
	case version > last+1:
		c.add(mk(RuleVersionGap, "version %d after %d (%s missing)", version, last, span(last+1, version-1)))
	case version == last:
		c.add(mk(RuleVersionDuplicate, "version %d again", version))
		return
	default:
		c.add(mk(RuleVersionDuplicate, "version %d after %d", version, last))
		return
	}
	a.lastVersion, a.versioned = version, true
}

// foldAndAssert folds the record into the projection and runs the
// assertions on the state it leaves. A tombstone folds as replay folds it:
// without a type it is an unknown type (unless the spec ignores those),
// with one it runs its handler.
func (c *Checker) foldAndAssert(ctx context.Context, r *record.Record, view map[string]any, tombstone bool, mk func(Rule, string, ...any) Finding) {
	if c.fold == nil {
		return
	}
	ch, err := c.fold.Apply(ctx, r)
	if err != nil {
		var ae *replay.ApplyError
		if !errors.As(err, &ae) {
			c.add(mk(RuleFoldError, "%v", err))
			return
		}
		if errors.Is(err, replay.ErrUnknownType) {
			if ae.Type == "" && !tombstone && schemaless(r.ValueEncoding) {
				// Untyped because schemaless: no-schema says so, when it applies (see Report).
				if c.untypedN++; c.untypedN == 1 {
					c.untyped = mk(RuleUnknownType, "records without an event type: no handler in %s; set type: in the spec", c.opts.Projection.File)
				}
				return
			}
			c.unknownType(ae.Type, mk)
			return
		}
		msg := ae.Err.Error()
		if ae.Program != "" {
			msg = fmt.Sprintf("%s (%s:%d): %s", ae.Program, ae.File, ae.Line, msg)
		}
		c.add(mk(RuleFoldError, "%s", msg))
		return
	}
	if ch.Skipped {
		return // the fold counts it (SkippedTypes)
	}
	if ch.Deleted || len(c.asserts) == 0 {
		return
	}
	// The fold's own value: encoding and decoding the state after every
	// event made --assert quadratic in the state's size.
	state := ch.Value()
	input := map[string]any{"state": state, "event": view["value"], "record": view}
	for _, a := range c.asserts {
		v, ok, err := run(ctx, a, input)
		switch {
		case err != nil:
			c.add(mk(RuleAssertion, "%s failed: %v", a.src, err))
		case !ok:
			c.add(mk(RuleAssertion, "%s is empty; state %s", a.src, preview(state)))
		case v == nil || v == false:
			c.add(mk(RuleAssertion, "%s is %v; state %s", a.src, gojq.Preview(v), preview(state)))
		}
	}
}

// unknownType reports each unknown type once, at its first record; Report
// adds how many records had it.
func (c *Checker) unknownType(t string, mk func(Rule, string, ...any) Finding) {
	c.unknownN[t]++
	if _, seen := c.unknown[t]; seen {
		return
	}
	before := len(c.findings)
	what := "event type " + strconv.Quote(t)
	if t == "" {
		what = "records without an event type (tombstones, values without a schema type)"
	}
	c.add(mk(RuleUnknownType, "%s: no handler in %s", what, c.opts.Projection.File))
	c.unknown[t] = -1
	if len(c.findings) > before {
		c.unknown[t] = before
	}
}

// eventType is the record's event type: the projection's, when there is
// one (its type: expression sees schemaless values), else the record's.
func (c *Checker) eventType(ctx context.Context, r *record.Record, view map[string]any) string {
	t := r.Type
	if c.opts.Projection != nil {
		// A type: that fails is the fold's finding (fold-error); here it is untyped.
		t, _ = c.opts.Projection.EventType(ctx, r, view)
	}
	if t != "" {
		c.typed = true
		if len(c.typesSeen) < maxTypesSeen && !slices.Contains(c.typesSeen, typeName(t)) {
			c.typesSeen = append(c.typesSeen, typeName(t))
		}
	}
	return t
}

// matchType returns the listed type (full or short name) t is, or "".
func (c *Checker) matchType(list []string, t string) string {
	if t == "" {
		return ""
	}
	short := record.ShortType(t)
	for _, want := range list {
		if want == t || want == short {
			c.matched[want] = true
			return want // the flag's string: the record's may be large to keep
		}
	}
	return ""
}

// Report returns the findings so far, sorted.
func (c *Checker) Report() *Report {
	rep := &Report{Topic: c.topic, Records: c.records, Counts: map[Rule]int64{}, Disabled: c.disabled}
	for r, n := range c.counts {
		rep.Counts[r] = n
	}
	if !c.opts.RequireSchema && !c.hasSchema && c.enabled[RuleNoSchema] {
		// A topic without any schema is not expected to have them.
		rep.Disabled = maps.Clone(c.disabled)
		rep.Disabled[RuleNoSchema] = "no record in the topic has a schema (see --require-schema)"
		delete(rep.Counts, RuleNoSchema)
	}
	rep.Findings = slices.Clone(c.findings)
	noSchemaApplies := c.enabled[RuleNoSchema] && (c.hasSchema || c.opts.RequireSchema)
	if c.untypedN > 0 && !noSchemaApplies && c.enabled[RuleUnknownType] {
		f := c.untyped
		f.Message += fmt.Sprintf(" (%s)", english.Plural(c.untypedN, "record"))
		rep.Counts[RuleUnknownType]++
		if c.opts.MaxFindings == 0 || c.listed[RuleUnknownType] < c.opts.MaxFindings {
			rep.Findings = append(rep.Findings, f)
		}
	}
	for t, i := range c.unknown {
		if i >= 0 {
			rep.Findings[i].Message += fmt.Sprintf(" (%s)", english.Plural(c.unknownN[t], "record"))
		}
	}
	slices.SortStableFunc(rep.Findings, func(a, b Finding) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition),
			cmp.Compare(a.Offset, b.Offset), cmp.Compare(ruleIndex(a.Rule), ruleIndex(b.Rule)))
	})
	if rep.Findings == nil {
		rep.Findings = []Finding{}
	}
	if c.fold != nil && len(c.fold.SkippedTypes()) > 0 {
		rep.SkippedTypes = maps.Clone(c.fold.SkippedTypes())
	}
	rep.WithoutID = c.withoutID
	for _, t := range slices.Concat(c.terminal, c.reopens) {
		if !c.matched[t] && !slices.Contains(rep.UnseenTypes, t) {
			rep.UnseenTypes = append(rep.UnseenTypes, t)
		}
	}
	rep.Notes = c.notes(rep)
	return rep
}

// run runs p and returns its first output.
func run(ctx context.Context, p *program, input any) (any, bool, error) {
	v, ok := p.code.RunWithContext(ctx, input).Next()
	if !ok {
		return nil, false, nil
	}
	if err, isErr := v.(error); isErr {
		return nil, false, err
	}
	return v, true, nil
}

// valueText renders an id: strings as they are, anything else as JSON.
func valueText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := gojq.Marshal(v)
	return string(b)
}

// preview shortens a state for a message.
func preview(v any) string {
	b, _ := gojq.Marshal(v)
	if len(b) > 200 {
		return string(b[:197]) + "..."
	}
	return string(b)
}

func span(from, to int64) string {
	if from == to {
		return strconv.FormatInt(from, 10)
	}
	return fmt.Sprintf("%d-%d", from, to)
}

func typeName(t string) string {
	if t == "" {
		return "an event"
	}
	return record.ShortType(t)
}

// schemaless says whether a value encoding is one without a schema.
func schemaless(e string) bool {
	return e == record.EncodingJSON || e == record.EncodingText || e == record.EncodingBase64
}

func encodingName(e string) string {
	switch e {
	case record.EncodingJSON:
		return "plain JSON"
	case record.EncodingText:
		return "text"
	}
	return "bytes"
}
