package replay

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"maps"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/itchyny/gojq"
	"go.yaml.in/yaml/v3"

	"github.com/evctl/evctl/internal/english"
	"github.com/evctl/evctl/internal/filter"
	"github.com/evctl/evctl/internal/record"
)

// Projection is a compiled projection spec: how to fold an aggregate's
// events into its state with jq. A spec is YAML (docs/projections.md):
//
//	name: account-balance            # default: the file name without extension
//	description: one line for humans # optional
//	id: .key                         # jq over the record: the aggregate id (default .key)
//	type: .type | split(".") | last  # jq over the record: the event type
//	                                 # (default: the record type's short name)
//	version: .value.version          # jq over the record: the event's version in
//	                                 # its aggregate (optional; history --at-version, check)
//	initial: {}                      # the state before the first event (default null)
//	ignore-unknown: false            # true skips events without a handler
//	defs: |                          # jq definitions every program can call
//	  def cents: ...;
//	handlers:                        # one jq program per event type
//	  AccountOpened: '{accountId: .event.accountId, balanceCents: 0}'
//	  MoneyDeposited: '.state + {balanceCents: (.state.balanceCents + (.event.amount | cents))}'
//
// id and type see the record as filters do (filter.View): .key, .value,
// .type, .headers, .timestamp, .topic, .partition, .offset... The id must be
// a string, a number or (a JSON key) an object or array; the type a string. A handler sees
// {state, event, record}: the aggregate's current state (the initial state
// for a new aggregate), the decoded record value, and the record as id sees
// it — built only for programs whose text or defs name record, as it costs
// more than most handlers. Its one output is the new state; null deletes
// the aggregate (a tombstone in the read model), and the next event of a
// deleted aggregate starts again from the initial state.
//
// To rebuild a read model, Apply every record to a Fold (or a ParallelFold,
// one worker per core) in offset order per partition, then write States.
//
// A Projection is immutable and safe for concurrent use; its Folds are not.
type Projection struct {
	// Name is the spec's name, or its file name without the extension.
	Name string
	// File is the spec's path as given, for messages.
	File string

	id, typ       *projectionProgram // nil: the defaults, computed without jq
	idSource      string
	typeSource    string
	versionSource string
	initial       any
	ignoreUnknown bool
	handlers      map[string]*projectionProgram
}

// projectionProgram is one compiled jq program of a spec.
type projectionProgram struct {
	what       string // "handler MoneyDeposited", "id", "type"
	line       int    // where its text starts in the spec
	code       *gojq.Code
	fast       *filter.Fast // the program without gojq, where it can; nil: never
	usesRecord bool         // its text, or the defs', names record
}

// ReadsRecord reports whether any of the spec's programs reads the
// record view (filter.View): an id or type expression, or a handler that
// names record. A fold of one that does not never reads a record's
// headers.
func (p *Projection) ReadsRecord() bool {
	if p.id != nil || p.typ != nil {
		return true
	}
	for _, h := range p.handlers {
		if h.usesRecord {
			return true
		}
	}
	return false
}

// LoadProjection reads and compiles the spec at path. Errors start with
// "path:line: ".
func LoadProjection(path string) (*Projection, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read projection spec: %w", err)
	}
	return ParseProjection(path, src)
}

// projectionKeys are the keys a spec may have, in the order docs list them.
var projectionKeys = []string{"name", "description", "id", "type", "version", "initial", "ignore-unknown", "defs", "handlers"}

// yamlLineError matches go.yaml.in/yaml's syntax errors, to move the line
// number to the front as file:line.
var yamlLineError = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// ParseProjection compiles the spec src; file names it in messages ("file:line:
// ...") and gives the default name.
func ParseProjection(file string, src []byte) (*Projection, error) {
	p := &Projection{
		Name:     strings.TrimSuffix(filepath.Base(file), filepath.Ext(file)),
		File:     file,
		handlers: map[string]*projectionProgram{},
	}
	fail := func(line int, format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s", file, line, fmt.Sprintf(format, args...))
	}

	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		if m := yamlLineError.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			if strings.HasPrefix(m[2], "did not find expected") {
				line++ // yaml reports its parser's errors a line early
			}
			return nil, fail(line, "invalid YAML: %s%s", m[2], objectLiteralHint(m[2], src, line))
		}
		return nil, fmt.Errorf("%s: invalid YAML: %s", file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, fail(1, "empty projection spec: it needs at least handlers (see docs/projections.md)")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fail(root.Line, "a projection spec is a mapping with keys %s", strings.Join(projectionKeys, ", "))
	}

	fields := map[string]*yaml.Node{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if !slices.Contains(projectionKeys, k.Value) {
			return nil, fail(k.Line, "unknown key %q (known: %s)", k.Value, strings.Join(projectionKeys, ", "))
		}
		if _, dup := fields[k.Value]; dup {
			return nil, fail(k.Line, "key %q given twice", k.Value)
		}
		fields[k.Value] = v
	}

	str := func(key string) (string, *yaml.Node, error) {
		n := fields[key]
		if n == nil || n.Tag == "!!null" {
			return "", n, nil
		}
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			return "", n, fail(n.Line, "%s: want a string, got %s%s", key, yamlKind(n), flowHint(n))
		}
		return n.Value, n, nil
	}

	name, _, err := str("name")
	if err != nil {
		return nil, err
	}
	if name != "" {
		p.Name = name
	}
	if _, _, err := str("description"); err != nil {
		return nil, err
	}
	if n := fields["ignore-unknown"]; n != nil {
		if err := n.Decode(&p.ignoreUnknown); err != nil || n.Kind != yaml.ScalarNode {
			return nil, fail(n.Line, "ignore-unknown: want true or false, got %s", yamlKind(n))
		}
	}
	if n := fields["initial"]; n != nil {
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fail(n.Line, "initial: %v", err)
		}
		if p.initial, err = jsonValue(v); err != nil {
			return nil, fail(n.Line, "initial: %v", err)
		}
	}

	var defs []*gojq.FuncDef
	defsSrc, defsNode, err := str("defs")
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(defsSrc) != "" {
		q, err := gojq.Parse(defsSrc)
		if err != nil {
			return nil, jqSyntaxError(file, "defs", defsNode, defsSrc, err)
		}
		if q.Term != nil || q.Left != nil || len(q.Imports) > 0 || q.Meta != nil {
			return nil, fail(contentLine(defsNode), "defs: want only jq definitions (def name: body;), found more")
		}
		defs = q.FuncDefs
	}

	compile := func(what string, n *yaml.Node, src string) (*projectionProgram, error) {
		q, err := gojq.Parse(src)
		if err != nil {
			return nil, jqSyntaxError(file, what, n, src, err)
		}
		q.FuncDefs = append(slices.Clip(defs), q.FuncDefs...)
		code, err := gojq.Compile(q)
		if err != nil {
			return nil, fail(contentLine(n), "%s: invalid jq: %v", what, err)
		}
		// Building .record costs more than most handlers take to run, so
		// only programs that name it get it.
		usesRecord := strings.Contains(src, "record") || strings.Contains(defsSrc, "record")
		return &projectionProgram{what: what, line: contentLine(n), code: code, fast: filter.CompileFast(q), usesRecord: usesRecord}, nil
	}

	for _, key := range []string{"id", "type", "version"} {
		src, n, err := str(key)
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(src) == "" {
			continue
		}
		prog, err := compile(key, n, src)
		if err != nil {
			return nil, err
		}
		switch {
		case key == "id" && strings.TrimSpace(src) == ".key":
			// The default, written out: no jq to run.
		case key == "id":
			p.id, p.idSource = prog, src
		case key == "type":
			p.typ, p.typeSource = prog, src
		default:
			// The fold never needs the version: history and check compile
			// it with their own flags' expressions.
			p.versionSource = src
		}
	}

	hs := fields["handlers"]
	switch {
	case hs == nil:
		return nil, fail(root.Line, "no handlers: a spec maps event types to jq programs under handlers:")
	case hs.Kind != yaml.MappingNode:
		return nil, fail(hs.Line, "handlers: want a mapping of event type to jq program, got %s", yamlKind(hs))
	case len(hs.Content) == 0:
		return nil, fail(hs.Line, "handlers: empty: give one jq program per event type")
	}
	for i := 0; i+1 < len(hs.Content); i += 2 {
		k, v := hs.Content[i], hs.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			return nil, fail(k.Line, "handlers: an event type must be a non-empty name, got %s", yamlKind(k))
		}
		what := "handler " + k.Value
		if _, dup := p.handlers[k.Value]; dup {
			return nil, fail(k.Line, "%s given twice", what)
		}
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" || strings.TrimSpace(v.Value) == "" {
			return nil, fail(v.Line, "%s: want a jq program, got %s%s", what, yamlKind(v), flowHint(v))
		}
		prog, err := compile(what, v, v.Value)
		if err != nil {
			return nil, err
		}
		p.handlers[k.Value] = prog
	}
	return p, nil
}

// Types returns the event types the spec has handlers for, sorted.
func (p *Projection) Types() []string {
	types := make([]string, 0, len(p.handlers))
	for t := range p.handlers {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

// IDExpr is the spec's id expression; "" when it is the default, the key.
func (p *Projection) IDExpr() string { return p.idSource }

// TypeExpr is the spec's type expression; "" when it is the default, the
// record type's short name.
func (p *Projection) TypeExpr() string { return p.typeSource }

// VersionExpr is the spec's version expression; "" when it names none.
func (p *Projection) VersionExpr() string { return p.versionSource }

// quoteJQ is the advice for a jq program YAML read as YAML.
const quoteJQ = "a jq object literal like {open: true} in an unquoted YAML value is YAML, not jq: " +
	"quote the program ('.state + {open: true}') or write it as a block (|)"

// flowHint explains a flow mapping or list where a jq program belongs:
// `OrderPlaced: {open: true}` is YAML's {open: true}, not jq's.
func flowHint(n *yaml.Node) string {
	if (n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode) && n.Style&yaml.FlowStyle != 0 {
		return "; " + quoteJQ
	}
	return ""
}

// objectLiteralHint explains YAML's error for `A: .state + {open: true}`,
// whose ": " inside the braces YAML takes for a mapping.
func objectLiteralHint(msg string, src []byte, line int) string {
	if !strings.HasPrefix(msg, "mapping values are not allowed") {
		return ""
	}
	lines := strings.Split(string(src), "\n")
	if line < 1 || line > len(lines) || !strings.Contains(lines[line-1], "{") {
		return ""
	}
	return "; " + quoteJQ
}

func yamlKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "nothing"
	}
	return fmt.Sprintf("%s %q", strings.TrimPrefix(n.Tag, "!!"), n.Value)
}

// contentLine is the line where a scalar's text starts: a block scalar's
// (| or >) starts on the line after its indicator.
func contentLine(n *yaml.Node) int {
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return n.Line + 1
	}
	return n.Line
}

// jqSyntaxError places a jq parse error in the spec: exactly for literal
// block scalars (|), whose lines are the file's; at the scalar's first line
// otherwise.
func jqSyntaxError(file, what string, n *yaml.Node, src string, err error) error {
	line := contentLine(n)
	var pe *gojq.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("%s:%d: %s: invalid jq: %w", file, line, what, err)
	}
	at := min(max(pe.Offset-len(pe.Token), 0), len(src))
	if n.Style&yaml.LiteralStyle != 0 {
		line += strings.Count(src[:at], "\n")
	}
	problem := "unexpected " + strconv.Quote(pe.Token)
	if pe.Token == "" {
		problem = "unexpected end of the program"
	}
	start := strings.LastIndexByte(src[:at], '\n') + 1
	end := strings.IndexByte(src[at:], '\n')
	if end < 0 {
		end = len(src)
	} else {
		end += at
	}
	return fmt.Errorf("%s:%d: %s: invalid jq: %s\n  %s\n  %s^", file, line, what, problem,
		src[start:end], strings.Repeat(" ", at-start))
}

// jsonValue turns a decoded YAML value into the JSON value jq expects.
func jsonValue(v any) (any, error) {
	switch v := v.(type) {
	case nil, bool, string, int:
		return v, nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%v is not a JSON number", v)
		}
		return v, nil
	case int64:
		return int(v), nil
	case uint64:
		if v <= math.MaxInt {
			return int(v), nil
		}
		return new(big.Int).SetUint64(v), nil
	case *big.Int:
		return v, nil
	case time.Time:
		return v.Format(time.RFC3339Nano), nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			var err error
			if out[i], err = jsonValue(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			var err error
			if out[k], err = jsonValue(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("key %v: JSON object keys are strings", k)
			}
			var err error
			if out[ks], err = jsonValue(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	default:
		return nil, fmt.Errorf("%T is not a JSON value", v)
	}
}

// Change is what one event did to its aggregate.
type Change struct {
	ID      string // the aggregate id; "" when Skipped
	Type    string // the event type
	Skipped bool   // no handler for Type, and the spec ignores unknown types
	Deleted bool   // the handler returned null: the aggregate is gone (a tombstone)
	state   any
}

// Value is the aggregate's state after the event as a jq value (nil when
// deleted or skipped): shared with the fold, so read it, never change it.
// Encoding it costs as much as the state is large; Value costs nothing.
func (c Change) Value() any { return c.state }

// State is the aggregate's state after the event as JSON; nil when the
// aggregate was deleted or the event skipped.
func (c Change) State() json.RawMessage {
	if c.Deleted || c.Skipped {
		return nil
	}
	b, _ := gojq.Marshal(c.state) // cannot fail: jq only makes JSON values
	return b
}

// ApplyError says which record a fold failed on, and why. The fold is
// unchanged by the failed record, so a caller may count it and go on.
type ApplyError struct {
	Topic     string
	Partition int32
	Offset    int64
	ID        string // the aggregate id, when known
	Type      string // the event type, when known
	Program   string // "handler MoneyDeposited", "id", "type"; "" when no program failed
	File      string // the spec
	Line      int    // where Program starts in the spec
	Err       error
}

func (e *ApplyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%d@%d", e.Topic, e.Partition, e.Offset)
	switch {
	case e.ID != "" && e.Type != "":
		fmt.Fprintf(&b, " (%s %s)", e.Type, strconv.Quote(e.ID))
	case e.Type != "":
		fmt.Fprintf(&b, " (%s)", e.Type)
	}
	b.WriteString(": ")
	if e.Program != "" {
		fmt.Fprintf(&b, "%s (%s:%d): ", e.Program, e.File, e.Line)
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *ApplyError) Unwrap() error { return e.Err }

// ErrUnknownType is wrapped by the ApplyError for an event type without a
// handler in a spec that does not ignore unknown types.
var ErrUnknownType = errors.New("no handler for the event type")

// Fold is the running state of every aggregate of one projection. It is
// not safe for concurrent use; see ParallelFold.
type Fold struct {
	p       *Projection
	aggs    map[string]*projectionAggregate
	dec     filter.JSONDecoder
	skipped map[string]int64 // events of each type ignore-unknown skipped
	topics  []string         // the topics folded, by projectionAggregate.topic
	split   SplitAggregates
	// input is the last handler input, to fill for the next event
	// unless the state it made holds it (a handler "{last: .}"): one
	// map fewer an event.
	input map[string]any
}

// holdsChecked is how many values of a state holds looks through before
// it takes the state for holding the input: a larger state costs less to
// leave alone than to search.
const holdsChecked = 64

// holds says whether v, a handler's output, may hold m: it does, or it
// is too large to tell within budget values.
func holds(v any, m map[string]any, budget int) bool {
	target := reflect.ValueOf(m).UnsafePointer()
	var walk func(v any) bool
	walk = func(v any) bool {
		if budget--; budget < 0 {
			return true
		}
		switch v := v.(type) {
		case map[string]any:
			if reflect.ValueOf(v).UnsafePointer() == target {
				return true
			}
			for _, e := range v {
				if walk(e) {
					return true
				}
			}
		case []any:
			for _, e := range v {
				if walk(e) {
					return true
				}
			}
		}
		return false
	}
	return walk(v)
}

type projectionAggregate struct {
	state     any
	at        time.Time // the timestamp of the last record folded in
	partition int32     // of its first event
	topic     uint16    // of its first event, in Fold.topics
	deleted   bool
	split     bool // counted in Fold.split
}

// SplitAggregates counts the aggregates whose events came from more than
// one partition of a topic: nothing orders events across partitions, so
// their folded state depends on the order the partitions were read in.
type SplitAggregates struct {
	N     int64            // how many
	First []SplitAggregate // the first few by id
}

// SplitAggregate is one aggregate with events on two partitions.
type SplitAggregate struct {
	ID         string
	Topic      string
	Partitions [2]int32 // its first event's, and the other's
}

// splitShown is how many split aggregates a fold names.
const splitShown = 5

func (s *SplitAggregates) add(a SplitAggregate) {
	s.N++
	i, _ := slices.BinarySearchFunc(s.First, a.ID, func(x SplitAggregate, id string) int { return strings.Compare(x.ID, id) })
	if i < splitShown {
		s.First = slices.Insert(s.First, i, a)
		s.First = s.First[:min(len(s.First), splitShown)]
	}
}

// Warning says which aggregates had events on two partitions, or "".
func (s SplitAggregates) Warning() string {
	if s.N == 0 {
		return ""
	}
	names := make([]string, len(s.First))
	for i, a := range s.First {
		names[i] = fmt.Sprintf("%s (%s partitions %d and %d)", strconv.Quote(a.ID), a.Topic, a.Partitions[0], a.Partitions[1])
	}
	more := ""
	if n := s.N - int64(len(s.First)); n > 0 {
		more = fmt.Sprintf(" and %d more", n)
	}
	return fmt.Sprintf("%s with events on more than one partition: %s%s; nothing orders events across partitions, so the state rebuilt depends on the order they were read in (evctl check reports them as multi-partition)",
		english.Plural(s.N, "aggregate"), strings.Join(names, ", "), more)
}

// NewFold starts a fold with no aggregates.
func (p *Projection) NewFold() *Fold {
	return &Fold{p: p, aggs: map[string]*projectionAggregate{}, skipped: map[string]int64{}}
}

// Apply folds one record into its aggregate. The record's key and value are
// decoded once, and the record view only for programs that name record (see
// Projection); the fold keeps states as jq values and writes JSON only when
// asked (Change.State, States). A failure is an *ApplyError naming the
// record; the fold is then as it was before the record.
func (f *Fold) Apply(ctx context.Context, r *record.Record) (Change, error) {
	p := f.p
	var c Change
	fail := func(prog *projectionProgram, err error) (Change, error) {
		e := &ApplyError{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, ID: c.ID, Type: c.Type, File: p.File, Err: err}
		if prog != nil {
			e.Program, e.Line = prog.what, prog.line
		}
		return Change{}, e
	}
	if r.Error != "" {
		return fail(nil, fmt.Errorf("undecodable record: %s", r.Error))
	}

	var view map[string]any // the record as filters see it, built on demand
	if p.id != nil || p.typ != nil {
		var err error
		if view, err = f.view(r); err != nil {
			return fail(nil, err)
		}
	}

	tombstone := r.ValueEncoding == record.EncodingNull
	var err error
	if c.Type, err = p.eventType(ctx, r, view); err != nil {
		return fail(p.typ, err)
	}
	handler := p.handlers[c.Type]
	if handler == nil {
		if p.ignoreUnknown {
			c.Skipped = true
			f.skipped[c.Type]++
			return c, nil
		}
		var err error
		switch {
		case c.Type != "":
			err = fmt.Errorf("%w %q (have: %s); add a handler or set ignore-unknown: true in %s", ErrUnknownType, c.Type, strings.Join(p.Types(), ", "), p.File)
		case tombstone:
			err = fmt.Errorf("%w: the record is a tombstone; set ignore-unknown: true in %s to skip it", ErrUnknownType, p.File)
		default:
			err = fmt.Errorf("%w: the record has no schema type; set type: in %s", ErrUnknownType, p.File)
		}
		return fail(nil, err)
	}

	var event any
	if view == nil && handler.usesRecord {
		if view, err = f.view(r); err != nil {
			return fail(nil, err)
		}
	}
	if view != nil {
		event = view["value"]
	} else {
		if event, err = f.dec.Value(r); err != nil {
			return fail(nil, fmt.Errorf("record value: %w", err))
		}
	}

	switch {
	case p.id != nil:
		var v any
		if v, err = runProjectionProgram(ctx, p.id, view); err != nil {
			return fail(p.id, err)
		}
		c.ID, err = aggregateID(v)
	case view != nil:
		c.ID, err = aggregateID(view["key"])
	default:
		var key any
		if key, err = f.dec.Key(r); err != nil {
			return fail(nil, fmt.Errorf("record key: %w", err))
		}
		c.ID, err = aggregateID(key)
	}
	if err != nil {
		return fail(p.id, err)
	}

	agg := f.aggs[c.ID]
	state := p.initial
	if agg != nil && !agg.deleted {
		state = agg.state
	}
	input := f.input // {state, event, record}, reused while nothing holds it
	if input == nil {
		input = make(map[string]any, 3)
	}
	f.input = nil
	input["state"], input["event"] = state, event
	if handler.usesRecord {
		input["record"] = view
	}
	next, err := runProjectionProgram(ctx, handler, input)
	if err != nil {
		return fail(handler, err) // the error may show the input: not reused
	}
	if !holds(next, input, holdsChecked) {
		clear(input)
		f.input = input
	}
	topic := f.topicIndex(r.Topic)
	if agg == nil {
		agg = &projectionAggregate{partition: r.Partition, topic: topic}
		f.aggs[c.ID] = agg
	} else if !agg.split && agg.topic == topic && agg.partition != r.Partition {
		agg.split = true
		f.split.add(SplitAggregate{ID: c.ID, Topic: r.Topic, Partitions: [2]int32{agg.partition, r.Partition}})
	}
	agg.state, agg.deleted, agg.at = next, next == nil, r.Timestamp.Time
	c.state, c.Deleted = next, next == nil
	return c, nil
}

// EventType is the record's event type as the spec names it: its type:
// expression over view (the record as filter.View makes it; nil builds
// it), or the record type's short name. A tombstone the expression finds
// no type for is untyped (""), as with the default.
func (p *Projection) EventType(ctx context.Context, r *record.Record, view map[string]any) (string, error) {
	if p.typ != nil && view == nil {
		var err error
		if view, err = filter.View(r); err != nil {
			return "", err
		}
	}
	return p.eventType(ctx, r, view)
}

func (p *Projection) eventType(ctx context.Context, r *record.Record, view map[string]any) (string, error) {
	if p.typ == nil {
		return record.ShortType(r.Type), nil
	}
	v, err := runProjectionProgram(ctx, p.typ, view)
	s, ok := v.(string)
	switch {
	case r.ValueEncoding == record.EncodingNull && (err != nil || !ok):
		// A deletion has no event to name a type from: untyped, as with
		// the default type (ignore-unknown skips it).
		return "", nil
	case err != nil:
		return "", err
	case !ok:
		return "", fmt.Errorf("the event type must be a string, got %s", preview(v))
	}
	return s, nil
}

// view builds the record view (filter.View's object).
func (f *Fold) view(r *record.Record) (map[string]any, error) {
	key, err := f.dec.Key(r)
	if err != nil {
		return nil, fmt.Errorf("record key: %w", err)
	}
	value, err := f.dec.Value(r)
	if err != nil {
		return nil, fmt.Errorf("record value: %w", err)
	}
	return filter.ViewOf(r, key, value), nil
}

// runProjectionProgram runs prog and wants exactly one output.
func runProjectionProgram(ctx context.Context, prog *projectionProgram, input any) (any, error) {
	if prog.fast != nil {
		select {
		case <-ctx.Done(): // gojq's run would stop on it
			return nil, ctx.Err()
		default:
		}
		if v, ok := prog.fast.Run(input); ok {
			return v, nil
		}
	}
	iter := prog.code.RunWithContext(ctx, input)
	v, ok := iter.Next()
	if !ok {
		return nil, errors.New("no output (empty); a program must output one value (null deletes the aggregate)")
	}
	if err, isErr := v.(error); isErr {
		return nil, err
	}
	if w, more := iter.Next(); more {
		if err, isErr := w.(error); isErr {
			return nil, err
		}
		return nil, fmt.Errorf("more than one output: %s, then %s; a program must output one value", gojq.Preview(v), gojq.Preview(w))
	}
	return v, nil
}

// aggregateID turns an id value into the aggregate id: a string as is, a
// number, object or array as jq writes it (compact, object members sorted:
// the text record.KeyText gives a JSON key).
func aggregateID(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case int:
		return strconv.Itoa(v), nil
	case float64, *big.Int, map[string]any, []any:
		b, _ := gojq.Marshal(v)
		return string(b), nil
	}
	return "", fmt.Errorf("the aggregate id must be a string, a number, an object or an array, got %s", preview(v))
}

// preview names a value's type and shows it, short: `number 1`, `null`.
func preview(v any) string {
	if v == nil {
		return "null"
	}
	return gojq.TypeOf(v) + " " + gojq.Preview(v)
}

// Len is the number of aggregates seen, deleted ones included.
func (f *Fold) Len() int { return len(f.aggs) }

// Split says which aggregates had events on more than one partition of a
// topic.
func (f *Fold) Split() SplitAggregates { return f.split }

// topicIndex is topic's index in f.topics, added if new.
func (f *Fold) topicIndex(topic string) uint16 {
	for i, t := range f.topics {
		if t == topic {
			return uint16(i)
		}
	}
	if len(f.topics) == math.MaxUint16 {
		return math.MaxUint16 // past 65535 topics, the rest share one index
	}
	f.topics = append(f.topics, topic)
	return uint16(len(f.topics) - 1)
}

// SkippedTypes counts the events of each type the fold skipped because the
// spec has no handler for it and ignores unknown types ("" for events
// without a type). The map is the fold's: read it, never change it.
func (f *Fold) SkippedTypes() map[string]int64 { return f.skipped }

// SkippedTypesNote says which event types a fold skipped as unknown, with
// how many events of each, sorted, and how many events without a type (a
// tombstone, a value without a schema type) it skipped: "" when it skipped
// none.
func SkippedTypesNote(skipped map[string]int64) string {
	if len(skipped) == 0 {
		return ""
	}
	var parts []string
	for _, t := range slices.Sorted(maps.Keys(skipped)) {
		if t != "" {
			parts = append(parts, fmt.Sprintf("%s (%d)", strconv.Quote(t), skipped[t]))
		}
	}
	untyped := ""
	if n := skipped[""]; n > 0 {
		untyped = english.Plural(n, "event") + " without a type (tombstones, values without a schema type)"
	}
	switch {
	case len(parts) == 0:
		return "the projection ignores " + untyped
	case untyped != "":
		return "the projection ignores event types it has no handler for: " + strings.Join(parts, ", ") + "; and " + untyped
	}
	return "the projection ignores event types it has no handler for: " + strings.Join(parts, ", ")
}

// NothingMatched explains a fold of events that built no aggregate, for a
// hint: every event was of a type the spec has no handler for (skipped
// counts them, as SkippedTypes does), or there were no events. "" when
// neither explains it.
func (p *Projection) NothingMatched(events int64, skipped map[string]int64) string {
	if events == 0 {
		return "there were no events to fold: check the topic, and --from, --to or the selection"
	}
	var n int64
	for _, c := range skipped {
		n += c
	}
	if n < events {
		return ""
	}
	types := slices.Sorted(maps.Keys(skipped))
	if len(types) > 5 {
		types = append(types[:5], "...")
	}
	for i, t := range types {
		if t == "" {
			types[i] = "(none)"
		} else if t != "..." {
			types[i] = strconv.Quote(t)
		}
	}
	how := "the record type's short name"
	if p.typeSource != "" {
		how = strings.TrimSpace(p.typeSource)
	}
	return fmt.Sprintf("no event had a type %s handles: its types were %s, its handlers are for %s; check type: (now %s)",
		p.File, strings.Join(types, ", "), strings.Join(p.Types(), ", "), how)
}

// Skipped keeps the records a fold skipped after a failure (--on-error
// skip): how many, and the first few in (topic, partition, offset) order,
// so that identical runs name the same ones whatever order parallel
// workers met them in. Safe for concurrent use.
type Skipped struct {
	mu    sync.Mutex
	keep  int
	n     int64
	first []*ApplyError
}

// NewSkipped keeps the first keep records skipped.
func NewSkipped(keep int) *Skipped { return &Skipped{keep: keep} }

// Add counts a skipped record; err is the fold's *ApplyError for it.
func (s *Skipped) Add(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	var ae *ApplyError
	if !errors.As(err, &ae) {
		return
	}
	at := func(e *ApplyError) int {
		return cmp.Or(strings.Compare(e.Topic, ae.Topic), cmp.Compare(e.Partition, ae.Partition), cmp.Compare(e.Offset, ae.Offset))
	}
	i := len(s.first)
	for i > 0 && at(s.first[i-1]) > 0 {
		i--
	}
	if i < s.keep {
		s.first = slices.Insert(s.first, i, ae)
		if len(s.first) > s.keep {
			s.first = s.first[:s.keep]
		}
	}
}

// clone is a copy of s, for a rewind to go back to.
func (s *Skipped) clone() *Skipped {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &Skipped{keep: s.keep, n: s.n, first: slices.Clone(s.first)}
}

// Len is the number of records skipped.
func (s *Skipped) Len() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// First returns the first records skipped, in (topic, partition, offset)
// order, at most as many as NewSkipped was told to keep.
func (s *Skipped) First() []*ApplyError {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.first)
}

// Get returns an aggregate's state as JSON; ok is false when the fold has
// not seen the aggregate, state is nil when it was deleted.
func (f *Fold) Get(id string) (state json.RawMessage, ok bool) {
	a := f.aggs[id]
	if a == nil {
		return nil, false
	}
	if a.deleted {
		return nil, true
	}
	b, _ := gojq.Marshal(a.state)
	return b, true
}

// States yields every aggregate's final state, sorted by id: the read
// model. A deleted aggregate yields a nil state (write a tombstone).
func (f *Fold) States() iter.Seq2[string, json.RawMessage] {
	return projectionStates([]*Fold{f})
}

// Timestamp is the timestamp of the last record folded into an aggregate
// (zero for one the fold has not seen): a read model's record is as old as
// the event that made it, as each change of --emit changes is.
func (f *Fold) Timestamp(id string) time.Time {
	if a := f.aggs[id]; a != nil {
		return a.at
	}
	return time.Time{}
}

// projectionStates yields the aggregates of folds over disjoint ids, sorted.
func projectionStates(folds []*Fold) iter.Seq2[string, json.RawMessage] {
	return func(yield func(string, json.RawMessage) bool) {
		type entry struct {
			id  string
			agg *projectionAggregate
		}
		var all []entry
		for _, f := range folds {
			for id, a := range f.aggs {
				all = append(all, entry{id, a})
			}
		}
		slices.SortFunc(all, func(a, b entry) int { return strings.Compare(a.id, b.id) })
		for _, e := range all {
			var state json.RawMessage
			if !e.agg.deleted {
				state, _ = gojq.Marshal(e.agg.state)
			}
			if !yield(e.id, state) {
				return
			}
		}
	}
}

// EventVersion reads an event's version, as a spec's version: or a
// --version-field gives it: an integer from 0, as a number or a decimal
// string. ok is false for anything else.
func EventVersion(v any) (n int64, ok bool) {
	switch v := v.(type) {
	case int:
		n = int64(v)
	case float64:
		if v != math.Trunc(v) || v > math.MaxInt64 || v < math.MinInt64 {
			return 0, false
		}
		n = int64(v)
	case json.Number:
		i, err := v.Int64()
		if err != nil {
			return 0, false
		}
		n = i
	case *big.Int:
		if !v.IsInt64() {
			return 0, false
		}
		n = v.Int64()
	case string:
		i, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, false
		}
		n = i
	default:
		return 0, false
	}
	return n, n >= 0
}
