package schema

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/evctl/evctl/internal/english"
)

// Compatibility levels, as the registry names them.
var CompatibilityLevels = []string{
	"NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE",
}

// Latest asks for a subject's latest version.
const Latest = -1

// SubjectVersion is one version of a subject, as the registry holds it.
type SubjectVersion struct {
	Subject    string      `json:"subject"`
	Version    int         `json:"version"`
	ID         int         `json:"id"`
	GUID       string      `json:"guid,omitempty"`
	Format     string      `json:"type"`
	References []Reference `json:"references,omitempty"`
	Text       string      `json:"schema"`
}

// Compatibility is the level in force for a subject, or the global one.
type Compatibility struct {
	Subject string `json:"subject,omitempty"`
	Level   string `json:"level"`
	// Global is true when the subject has no level of its own and the
	// global one applies.
	Global bool `json:"global"`
}

// SubjectNotFoundError says a subject is not in the registry, and which are.
type SubjectNotFoundError struct {
	Subject string
	Similar []string // close names, closest first (at most 5)
	Have    []string // some subjects (at most 10) when none is similar
}

func (e *SubjectNotFoundError) Error() string {
	var hint string
	switch {
	case len(e.Similar) > 0:
		hint = " (similar: " + strings.Join(e.Similar, ", ") + ")"
	case len(e.Have) > 0:
		hint = " (have: " + strings.Join(e.Have, ", ") + ")"
	default:
		hint = " (the registry has no subjects)"
	}
	return fmt.Sprintf("subject %q not found%s; check the name or --registry", e.Subject, hint)
}

// Unwrap makes the error an ErrNotFound.
func (e *SubjectNotFoundError) Unwrap() error { return ErrNotFound }

// VersionNotFoundError says a subject has no such version.
type VersionNotFoundError struct {
	Subject  string
	Version  int
	Versions []int
}

func (e *VersionNotFoundError) Error() string {
	have := make([]string, len(e.Versions))
	for i, v := range e.Versions {
		have[i] = strconv.Itoa(v)
	}
	return fmt.Sprintf("subject %q has no version %d (have: %s); see evctl schema versions %s",
		e.Subject, e.Version, strings.Join(have, ", "), e.Subject)
}

// Unwrap makes the error an ErrNotFound.
func (e *VersionNotFoundError) Unwrap() error { return ErrNotFound }

// IncompatibleError is the registry refusing a schema that breaks the
// subject's compatibility level (HTTP 409), with the registry's message.
type IncompatibleError struct {
	Subject string
	Message string
}

func (e *IncompatibleError) Error() string {
	return fmt.Sprintf("registry refused the schema for %q as incompatible: %s", e.Subject, e.Message)
}

// InvalidSchemaError is the registry refusing a schema it cannot parse
// (HTTP 422), with the parser's message.
type InvalidSchemaError struct {
	Message string
}

func (e *InvalidSchemaError) Error() string {
	return "registry refused the schema as invalid: " + e.Message
}

// Confluent error codes the admin calls tell apart.
const (
	codeSubjectNotFound = 40401
	codeVersionNotFound = 40402
	codeIncompatible    = 409
	codeInvalidSchema   = 42201
)

func (c *RegistryClient) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

// subjectError turns a registry answer about subject into
// SubjectNotFoundError (with the names it may have meant) or
// VersionNotFoundError; other errors are classified.
func (c *RegistryClient) subjectError(ctx context.Context, err error, subject string, version int) error {
	var re *sr.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusNotFound {
		return c.classify(err, fmt.Sprintf("subject %q", subject))
	}
	if re.ErrorCode == codeVersionNotFound {
		versions, verr := c.Versions(ctx, subject)
		if verr != nil {
			return verr
		}
		return &VersionNotFoundError{Subject: subject, Version: version, Versions: versions}
	}
	subjects, serr := c.Subjects(ctx)
	if serr != nil {
		return serr
	}
	slices.Sort(subjects)
	e := &SubjectNotFoundError{Subject: subject, Similar: english.Similar(subject, subjects, 5)}
	if len(e.Similar) == 0 {
		e.Have = subjects[:min(len(subjects), 10)]
	}
	return e
}

// Versions lists subject's versions, oldest first.
func (c *RegistryClient) Versions(ctx context.Context, subject string) ([]int, error) {
	bctx, cancel := c.bounded(ctx)
	defer cancel()
	vs, err := c.cl.SubjectVersions(bctx, subject)
	if err != nil {
		return nil, c.subjectError(ctx, err, subject, 0)
	}
	slices.Sort(vs)
	return vs, nil
}

// Version returns subject's schema at version (Latest for the latest).
func (c *RegistryClient) Version(ctx context.Context, subject string, version int) (SubjectVersion, error) {
	bctx, cancel := c.bounded(ctx)
	defer cancel()
	ss, err := c.cl.SchemaByVersion(bctx, subject, version)
	if err != nil {
		return SubjectVersion{}, c.subjectError(ctx, err, subject, version)
	}
	return fromSubjectSchema(ss), nil
}

// AllVersions returns every version of subject, oldest first.
func (c *RegistryClient) AllVersions(ctx context.Context, subject string) ([]SubjectVersion, error) {
	nums, err := c.Versions(ctx, subject)
	if err != nil {
		return nil, err
	}
	out := make([]SubjectVersion, len(nums))
	err = parallel(len(nums), func(i int) error {
		var err error
		out[i], err = c.Version(ctx, subject, nums[i])
		return err
	})
	return out, err
}

func fromSubjectSchema(ss sr.SubjectSchema) SubjectVersion {
	return SubjectVersion{
		Subject: ss.Subject, Version: ss.Version, ID: ss.ID, GUID: ss.GUID,
		Format: strings.ToUpper(ss.Type.String()), References: fromSR(ss.References), Text: ss.Schema.Schema,
	}
}

// Compatibility returns the level in force for subject ("" for the
// global level): the subject's own, else the global one.
func (c *RegistryClient) Compatibility(ctx context.Context, subject string) (Compatibility, error) {
	bctx, cancel := c.bounded(ctx)
	defer cancel()
	if subject != "" {
		// Asked without falling back, a real registry answers 404 for a
		// subject without a level of its own; srfake falls back unless told.
		own := c.cl.Compatibility(sr.WithParams(bctx, sr.RawParams(url.Values{"defaultToGlobal": {"false"}})), subject)[0]
		if own.Err == nil {
			return Compatibility{Subject: subject, Level: own.Level.String()}, nil
		}
		var re *sr.ResponseError
		if !errors.As(own.Err, &re) || re.StatusCode != http.StatusNotFound {
			return Compatibility{}, c.classify(own.Err, "compatibility of "+subject)
		}
	}
	global := c.cl.Compatibility(bctx)[0]
	if global.Err != nil {
		return Compatibility{}, c.classify(global.Err, "global compatibility")
	}
	return Compatibility{Subject: subject, Level: global.Level.String(), Global: subject != ""}, nil
}

// SetCompatibility sets subject's level ("" sets the global one).
func (c *RegistryClient) SetCompatibility(ctx context.Context, subject, level string) (Compatibility, error) {
	var l sr.CompatibilityLevel
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return Compatibility{}, fmt.Errorf("%w; want one of %s", err, english.Or(CompatibilityLevels))
	}
	bctx, cancel := c.bounded(ctx)
	defer cancel()
	var subjects []string
	if subject != "" {
		subjects = []string{subject}
	}
	res := c.cl.SetCompatibility(bctx, sr.SetCompatibility{Level: l}, subjects...)[0]
	if res.Err != nil {
		return Compatibility{}, c.classify(res.Err, "set compatibility")
	}
	return Compatibility{Subject: subject, Level: l.String()}, nil
}

// Register registers the schema text (format FormatAvro, FormatJSON or
// FormatProtobuf) under subject, or returns the version that already holds
// it. A refusal is *IncompatibleError or *InvalidSchemaError.
func (c *RegistryClient) Register(ctx context.Context, subject, format, text string, refs []Reference) (SubjectVersion, error) {
	var typ sr.SchemaType
	if err := typ.UnmarshalText([]byte(format)); err != nil {
		return SubjectVersion{}, fmt.Errorf("schema type %q: %w", format, err)
	}
	s := sr.Schema{Schema: text, Type: typ}
	for _, r := range refs {
		s.References = append(s.References, sr.SchemaReference{Name: r.Name, Subject: r.Subject, Version: r.Version})
	}
	bctx, cancel := c.bounded(ctx)
	defer cancel()
	ss, err := c.cl.CreateSchema(bctx, subject, s)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) {
			switch {
			case re.StatusCode == http.StatusConflict || re.ErrorCode == codeIncompatible:
				return SubjectVersion{}, &IncompatibleError{Subject: subject, Message: re.Message}
			case re.StatusCode == http.StatusUnprocessableEntity || re.ErrorCode == codeInvalidSchema:
				return SubjectVersion{}, &InvalidSchemaError{Message: re.Message}
			}
		}
		return SubjectVersion{}, c.classify(err, "register "+subject)
	}
	out := fromSubjectSchema(ss)
	if out.Subject == "" {
		out.Subject = subject
	}
	if out.Text == "" {
		out.Text = text
	}
	return out, nil
}

// ResolveAvro parses an Avro subject version with its references, as the
// decoder does.
func (c *RegistryClient) ResolveAvro(ctx context.Context, v SubjectVersion) (avro.Schema, error) {
	bctx, cancel := c.bounded(ctx)
	defer cancel()
	return ParseAvro(v.Text, v.References, func(subject string, version int) (string, []Reference, error) {
		return c.reference(bctx, subject, version)
	})
}

// ParseSchema parses an unregistered schema (a candidate) as ParseSchema
// does, its references fetched from the registry.
func (c *RegistryClient) ParseSchema(ctx context.Context, format, name, text string, refs []Reference) (*Schema, error) {
	bctx, cancel := c.bounded(ctx)
	defer cancel()
	return ParseSchema(format, name, text, refs, func(subject string, version int) (string, []Reference, error) {
		return c.reference(bctx, subject, version)
	})
}

// SubjectSummary is one line of `evctl schema subjects`: a subject's latest
// version, its type, the compatibility level in force, and the topics whose
// keys or values it describes by the TopicNameStrategy (<topic>-key,
// <topic>-value).
type SubjectSummary struct {
	Subject       string   `json:"subject"`
	Latest        int      `json:"latestVersion"`
	ID            int      `json:"latestId"`
	Format        string   `json:"type"`
	Compatibility string   `json:"compatibility"`
	Topics        []string `json:"topics"`
}

// Summaries lists every subject with its latest version and compatibility
// level, sorted by subject. Topics are left for TopicsBySubject to fill.
func (c *RegistryClient) Summaries(ctx context.Context) ([]SubjectSummary, error) {
	subjects, err := c.Subjects(ctx)
	if err != nil {
		return nil, err
	}
	slices.Sort(subjects)
	out := make([]SubjectSummary, len(subjects))
	err = parallel(len(subjects), func(i int) error {
		v, err := c.Version(ctx, subjects[i], Latest)
		if err != nil {
			return err
		}
		compat, err := c.Compatibility(ctx, subjects[i])
		if err != nil {
			return err
		}
		out[i] = SubjectSummary{Subject: subjects[i], Latest: v.Version, ID: v.ID, Format: v.Format, Compatibility: compat.Level, Topics: []string{}}
		return nil
	})
	return out, err
}

// TopicForSubject is the topic a subject names by the TopicNameStrategy,
// and whether it is for keys ("key") or values ("value").
func TopicForSubject(subject string) (topic, part string, ok bool) {
	for _, part := range []string{"key", "value"} {
		if t, found := strings.CutSuffix(subject, "-"+part); found && t != "" {
			return t, part, true
		}
	}
	return "", "", false
}

// TopicsBySubject fills each summary's Topics with those of topics its
// subject names by the TopicNameStrategy.
func TopicsBySubject(summaries []SubjectSummary, topics []string) {
	have := make(map[string]bool, len(topics))
	for _, t := range topics {
		have[t] = true
	}
	for i := range summaries {
		summaries[i].Topics = []string{}
		if t, _, ok := TopicForSubject(summaries[i].Subject); ok && have[t] {
			summaries[i].Topics = append(summaries[i].Topics, t)
		}
	}
}

// Writer is a schema a record names, by id or by GUID.
type Writer struct {
	ID   int
	GUID string
}

// TopicsByWriters adds to the Topics of each summary whose subject is not
// named after a topic (TopicNameStrategy) the topics whose records were
// written, by writers (per topic: the schemas its records name), with one
// of the subject's versions or with a schema that references one, however
// deeply: a record-name subject's topics, and a referenced type's.
func (c *RegistryClient) TopicsByWriters(ctx context.Context, summaries []SubjectSummary, writers map[string][]Writer) error {
	index := make(map[string]int, len(summaries))
	for i, s := range summaries {
		index[s.Subject] = i
	}
	uses := map[Writer][]string{} // the subjects a writer is, or references
	for _, topic := range slices.Sorted(maps.Keys(writers)) {
		for _, w := range writers[topic] {
			subjects, ok := uses[w]
			if !ok {
				var err error
				if subjects, err = c.subjectsOf(ctx, w); err != nil {
					return err
				}
				uses[w] = subjects
			}
			for _, subject := range subjects {
				if _, _, named := TopicForSubject(subject); named {
					// Its topic is in its name; one schema id may be a
					// version of several subjects.
					continue
				}
				if i, ok := index[subject]; ok && !slices.Contains(summaries[i].Topics, topic) {
					summaries[i].Topics = append(summaries[i].Topics, topic)
				}
			}
		}
	}
	for i := range summaries {
		slices.Sort(summaries[i].Topics)
	}
	return nil
}

// subjectsOf lists the subjects whose versions are w's schema, and those
// that schema references, depth first.
func (c *RegistryClient) subjectsOf(ctx context.Context, w Writer) ([]string, error) {
	bctx, cancel := c.bounded(ctx)
	defer cancel()
	id := w.ID
	if w.GUID != "" {
		s, err := c.SchemaByGUID(ctx, w.GUID)
		if errors.Is(err, ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		id = s.ID
	}
	versions, err := c.cl.SchemaVersionsByID(bctx, id)
	if err != nil {
		err = c.classify(err, fmt.Sprintf("schema id %d", id))
		if errors.Is(err, ErrNotFound) {
			return nil, nil // a record of a schema the registry does not have
		}
		return nil, err
	}
	var out []string
	p := refParser{
		add: func(r Reference, _ string) error {
			out = append(out, r.Subject)
			return nil
		},
		lookup: func(subject string, version int) (string, []Reference, error) {
			return c.reference(bctx, subject, version)
		},
		done: map[Reference]bool{}, busy: map[Reference]bool{},
	}
	for _, v := range versions {
		out = append(out, v.Subject)
		_, refs, err := c.reference(bctx, v.Subject, v.Version)
		if err != nil {
			return nil, err
		}
		if err := p.resolve(refs, 0); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ErrDiffUnsupported is returned by Diff for a schema type it cannot
// compare field by field yet.
var ErrDiffUnsupported = errors.New("no field-by-field diff for this schema type yet")

// Diff compares two subject versions field by field, their references
// resolved: Avro with DiffAvro, Protobuf with DiffProtobuf, JSON Schema
// with DiffJSONSchema (a $ref to another subject is compared as text,
// not followed). Versions of
// different types differ in their type alone.
func (c *RegistryClient) Diff(ctx context.Context, from, to SubjectVersion) ([]SchemaChange, error) {
	if from.Format != to.Format {
		return []SchemaChange{{Path: ".", Kind: ChangeType, From: from.Format, To: to.Format}}, nil
	}
	bctx, cancel := c.bounded(ctx)
	defer cancel()
	lookup := func(subject string, version int) (string, []Reference, error) {
		return c.reference(bctx, subject, version)
	}
	switch from.Format {
	case FormatAvro:
		a, err := ParseAvro(from.Text, from.References, lookup)
		if err != nil {
			return nil, fmt.Errorf("version %d: %w", from.Version, err)
		}
		b, err := ParseAvro(to.Text, to.References, lookup)
		if err != nil {
			return nil, fmt.Errorf("version %d: %w", to.Version, err)
		}
		return DiffAvro(a, b), nil
	case FormatProtobuf:
		a, err := compileProtobuf(from.Text, from.References, lookup)
		if err != nil {
			return nil, fmt.Errorf("version %d: %w", from.Version, err)
		}
		b, err := compileProtobuf(to.Text, to.References, lookup)
		if err != nil {
			return nil, fmt.Errorf("version %d: %w", to.Version, err)
		}
		return DiffProtobuf(a, b), nil
	case FormatJSON:
		return DiffJSONSchema(from.Text, to.Text)
	}
	return nil, fmt.Errorf("%w: %s", ErrDiffUnsupported, from.Format)
}

// parallel runs fn(0..n-1) on a few goroutines and returns the first error.
func parallel(n int, fn func(i int) error) error {
	const workers = 8
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int)
	)
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

// SubjectSchema returns subject's schema at version (Latest for the
// latest), parsed, and its GUID ("" from a registry older than Confluent
// Platform 8). An unknown subject is a *SubjectNotFoundError.
func (c *RegistryClient) SubjectSchema(ctx context.Context, subject string, version int) (*Schema, string, error) {
	v, err := c.Version(ctx, subject, version)
	if err != nil {
		return nil, "", err
	}
	s, err := c.SchemaByID(ctx, v.ID)
	if err != nil {
		return nil, "", err
	}
	return s, v.GUID, nil
}

// GUIDOf returns the GUID of the schema with id, through a subject that
// holds it; "" when the registry gives none.
func (c *RegistryClient) GUIDOf(ctx context.Context, id int) (string, error) {
	bctx, cancel := c.bounded(ctx)
	defer cancel()
	vs, err := c.cl.SchemaVersionsByID(bctx, id)
	if err != nil {
		return "", c.classify(err, fmt.Sprintf("schema id %d", id))
	}
	for _, v := range vs {
		sv, err := c.Version(ctx, v.Subject, v.Version)
		if err != nil {
			return "", err
		}
		if sv.GUID != "" {
			return sv.GUID, nil
		}
	}
	return "", nil
}
