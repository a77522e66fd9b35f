package schema

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
)

// RegistryConfig says how to reach a Confluent Schema Registry.
type RegistryConfig struct {
	URL                       string // one URL, or several separated by commas
	Username, Password        string // basic auth
	BearerToken               string
	CAFile, CertFile, KeyFile string
	InsecureSkipVerify        bool
	Timeout                   time.Duration // bounds every lookup, references included; default 10s
}

// Registry is what the decoder needs of a schema registry; *RegistryClient
// implements it. Errors are ErrNotFound (wrapped) for an unknown schema,
// *UnavailableError when the registry could not answer, or another error
// for a schema that cannot be used (invalid, unresolvable references).
type Registry interface {
	SchemaByID(ctx context.Context, id int) (*Schema, error)
	SchemaByGUID(ctx context.Context, guid string) (*Schema, error)
}

// ErrNotFound is wrapped by lookups of a schema the registry does not have.
var ErrNotFound = errors.New("not found in registry")

// UnavailableError reports a registry that could not answer: unreachable,
// too slow, or failing (HTTP 401, 5xx...).
type UnavailableError struct {
	Reason string // "dial tcp …: connection refused", "no answer within 10s", "HTTP 401: …"
	Err    error
}

func (e *UnavailableError) Error() string {
	if strings.HasPrefix(e.Reason, "HTTP ") {
		return "registry error (" + e.Reason + ")"
	}
	return "registry unreachable (" + e.Reason + ")"
}

func (e *UnavailableError) Unwrap() error { return e.Err }

const (
	defaultTimeout = 10 * time.Second
	// downMemory is how long a registry that could not answer is taken to
	// be down, so a stream of records does not wait once per record.
	downMemory = 5 * time.Second
)

// RegistryClient looks schemas up in a Confluent Schema Registry and caches
// them parsed, by id and by GUID: each schema is fetched and parsed once,
// however many goroutines ask for it at the same time.
type RegistryClient struct {
	cl      *sr.Client
	timeout time.Duration

	byID   lookups[int]
	byGUID lookups[string]
	refs   sync.Map // Reference (no Name) → *sr.SubjectSchema
	flight flightGroup

	mu        sync.Mutex
	downUntil time.Time
	downErr   error
}

// lookup is a finished lookup: a schema, or an error that will not change
// by asking again (unknown id, invalid schema).
type lookup struct {
	schema *Schema
	err    error
}

// lookups caches finished lookups, copy-on-write: every record reads it,
// lock-free, and only a registry round trip writes it. (A sync.Map would
// allocate to box each int key.)
type lookups[K comparable] struct {
	mu sync.Mutex // serialises writers
	m  atomic.Pointer[map[K]*lookup]
}

func (l *lookups[K]) load(k K) (*lookup, bool) {
	m := l.m.Load()
	if m == nil {
		return nil, false
	}
	v, ok := (*m)[k]
	return v, ok
}

func (l *lookups[K]) store(k K, v *lookup) {
	l.mu.Lock()
	defer l.mu.Unlock()
	next := map[K]*lookup{k: v}
	if m := l.m.Load(); m != nil {
		maps.Copy(next, *m)
		next[k] = v
	}
	l.m.Store(&next)
}

// NewRegistryClient returns a client for the registry cfg describes. It
// does not dial: the first lookup does.
func NewRegistryClient(cfg RegistryConfig) (*RegistryClient, error) {
	if strings.TrimSpace(cfg.URL) == "" {
		return nil, errors.New("no schema registry URL")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	var urls []string
	for u := range strings.SplitSeq(cfg.URL, ",") {
		u = strings.TrimSpace(u)
		if !strings.Contains(u, "://") {
			u = "http://" + u
		}
		if _, err := url.Parse(u); err != nil {
			return nil, fmt.Errorf("invalid schema registry URL %q: %w", u, err)
		}
		urls = append(urls, u)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tlsCfg, err := registryTLS(cfg)
	if err != nil {
		return nil, err
	}
	tr.TLSClientConfig = tlsCfg
	opts := []sr.ClientOpt{
		sr.URLs(urls...),
		sr.HTTPClient(&http.Client{Transport: tr, Timeout: cfg.Timeout}),
		sr.UserAgent("evctl"),
	}
	if cfg.Username != "" || cfg.Password != "" {
		opts = append(opts, sr.BasicAuth(cfg.Username, cfg.Password))
	}
	if cfg.BearerToken != "" {
		opts = append(opts, sr.BearerToken(cfg.BearerToken))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("schema registry client: %w", err)
	}
	return &RegistryClient{cl: cl, timeout: cfg.Timeout}, nil
}

func registryTLS(cfg RegistryConfig) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify} //nolint:gosec // the user asked for it
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("registry CA file: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("registry CA file %q: no PEM certificates in it", cfg.CAFile)
		}
	}
	if cfg.CertFile != "" || cfg.KeyFile != "" {
		if cfg.CertFile == "" || cfg.KeyFile == "" {
			return nil, errors.New("registry client certificate needs both a cert file and a key file")
		}
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("registry client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// Subjects lists the registry's subjects.
func (c *RegistryClient) Subjects(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	subjects, err := c.cl.Subjects(ctx)
	if err != nil {
		return nil, c.classify(err, "subjects")
	}
	return subjects, nil
}

// SchemaByID returns the schema registered with id, parsed.
func (c *RegistryClient) SchemaByID(ctx context.Context, id int) (*Schema, error) {
	if l, ok := c.byID.load(id); ok {
		return l.schema, l.err
	}
	return find(ctx, c, &c.byID, id, "id "+strconv.Itoa(id), func(ctx context.Context) (*Schema, error) {
		s, err := c.cl.SchemaByID(ctx, id)
		if err != nil {
			return nil, c.classify(err, fmt.Sprintf("schema id %d", id))
		}
		schema := &Schema{ID: id, Format: s.Type.String(), Text: s.Schema, References: fromSR(s.References)}
		// Best effort: the subject and version only label the records.
		if vs, err := c.cl.SchemaVersionsByID(ctx, id); err == nil && len(vs) > 0 {
			schema.Subject, schema.Version = vs[0].Subject, vs[0].Version
		}
		return schema, nil
	})
}

// SchemaByGUID returns the schema with guid, parsed.
func (c *RegistryClient) SchemaByGUID(ctx context.Context, guid string) (*Schema, error) {
	if l, ok := c.byGUID.load(guid); ok {
		return l.schema, l.err
	}
	return find(ctx, c, &c.byGUID, guid, "guid "+guid, func(ctx context.Context) (*Schema, error) {
		s, err := c.cl.SchemaByGUID(ctx, guid)
		if err != nil {
			return nil, c.classify(err, "schema guid "+guid)
		}
		return &Schema{ID: s.ID, GUID: guid, Subject: s.Subject, Version: s.Version,
			Format: s.Type.String(), Text: s.Schema.Schema, References: fromSR(s.References)}, nil
	})
}

// find runs fetch once for concurrent callers, prepares the schema it
// returns, and caches the result unless the registry could not answer.
func find[K comparable](ctx context.Context, c *RegistryClient, cache *lookups[K], key K, flightKey string,
	fetch func(context.Context) (*Schema, error),
) (*Schema, error) {
	if err := c.down(); err != nil {
		return nil, err
	}
	return c.flight.do(ctx, flightKey, func() (*Schema, error) {
		if l, ok := cache.load(key); ok { // finished while we queued
			return l.schema, l.err
		}
		// Not the caller's ctx: the lookup is shared, and bounded on its own.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
		defer cancel()
		s, err := fetch(ctx)
		if err == nil {
			err = s.prepare(func(subject string, version int) (string, []Reference, error) {
				return c.reference(ctx, subject, version)
			})
			if err != nil {
				s = nil
			}
		}
		var unavailable *UnavailableError
		if errors.As(err, &unavailable) {
			c.markDown(err)
			return nil, err
		}
		cache.store(key, &lookup{schema: s, err: err})
		return s, err
	})
}

// reference fetches a referenced schema's text, cached by subject and version.
func (c *RegistryClient) reference(ctx context.Context, subject string, version int) (string, []Reference, error) {
	key := Reference{Subject: subject, Version: version}
	if v, ok := c.refs.Load(key); ok {
		s := v.(*sr.SubjectSchema)
		return s.Schema.Schema, fromSR(s.References), nil
	}
	s, err := c.cl.SchemaByVersion(ctx, subject, version)
	if err != nil {
		return "", nil, c.classify(err, fmt.Sprintf("subject %q version %d", subject, version))
	}
	c.refs.Store(key, &s)
	return s.Schema.Schema, fromSR(s.References), nil
}

// classify turns a client error into ErrNotFound or *UnavailableError.
func (c *RegistryClient) classify(err error, what string) error {
	var re *sr.ResponseError
	if errors.As(err, &re) {
		if re.StatusCode == http.StatusNotFound {
			return fmt.Errorf("%s %w", what, ErrNotFound)
		}
		msg := re.Message
		if msg == "" {
			msg = http.StatusText(re.StatusCode)
		}
		return &UnavailableError{Reason: fmt.Sprintf("HTTP %d: %s", re.StatusCode, msg), Err: err}
	}
	var ue *url.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ue) && ue.Timeout() {
		return &UnavailableError{Reason: "no answer within " + c.timeout.String(), Err: err}
	}
	reason := err.Error()
	if ue != nil {
		reason = ue.Err.Error()
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		reason = "the connection closed without an answer"
	}
	return &UnavailableError{Reason: reason, Err: err}
}

// down returns the last error while the registry is taken to be down.
func (c *RegistryClient) down() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.downErr != nil && time.Now().Before(c.downUntil) {
		return c.downErr
	}
	return nil
}

func (c *RegistryClient) markDown(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.downErr, c.downUntil = err, time.Now().Add(downMemory)
}

func fromSR(refs []sr.SchemaReference) []Reference {
	if len(refs) == 0 {
		return nil
	}
	out := make([]Reference, len(refs))
	for i, r := range refs {
		out[i] = Reference{Name: r.Name, Subject: r.Subject, Version: r.Version}
	}
	return out
}

// flightGroup runs one function per key at a time and lets every caller
// wait for it, each bounded by its own context.
type flightGroup struct {
	mu sync.Mutex
	m  map[string]*flight
}

type flight struct {
	done   chan struct{}
	schema *Schema
	err    error
}

func (g *flightGroup) do(ctx context.Context, key string, fn func() (*Schema, error)) (*Schema, error) {
	g.mu.Lock()
	if g.m == nil {
		g.m = map[string]*flight{}
	}
	f, ok := g.m[key]
	if !ok {
		f = &flight{done: make(chan struct{})}
		g.m[key] = f
		go func() {
			f.schema, f.err = fn()
			g.mu.Lock()
			delete(g.m, key)
			g.mu.Unlock()
			close(f.done)
		}()
	}
	g.mu.Unlock()
	select {
	case <-f.done:
		return f.schema, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
