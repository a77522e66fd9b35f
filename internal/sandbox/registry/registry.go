// Package registry is evctl's Schema Registry fidelity layer: an http.Handler
// over franz-go's in-memory srfake that answers the way a real Confluent
// Schema Registry does where evctl and confluent-kafka-go's client can tell
// the difference.
//
// srfake keeps the state (subjects, versions, ids, GUIDs, config). On top of
// it this layer
//   - parses Avro schemas with hamba, references resolved, on register and on
//     compatibility checks (invalid: 422, error_code 42201); Protobuf and
//     JSON Schema schemas must compile, given a Compiler (the sandbox gives
//     internal/schema's parsers), which checks their compatibility too, by
//     Confluent's rules for each format;
//   - enforces the compatibility level of /config and /config/{subject}
//     (default BACKWARD) on register (incompatible: 409, error_code 409) and
//     answers POST /compatibility/subjects/{s}/versions[/{v}] for real;
//   - answers /associations... with 200 [] (confluent-kafka-go 2.14+ asks it
//     before it picks a subject);
//   - answers register with the full body (id, version, guid, schema,
//     schemaType, references, subject);
//   - looks schema ids up without the ?subject= restriction, as a real
//     registry does.
package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

const maxBody = 8 << 20

// Registry is an in-memory Schema Registry. It is safe for concurrent use.
type Registry struct {
	fake  *srfake.Registry
	store http.Handler // srfake's own handler: the single source of truth
	mux   *http.ServeMux

	// mu makes a compatibility check and the write that follows it atomic.
	mu       sync.Mutex
	compiler Compiler // see SetCompiler
}

// New returns an empty registry whose global compatibility level is
// BACKWARD, like a fresh Confluent Schema Registry.
func New() *Registry {
	fake := srfake.NewRegistry(srfake.WithGlobalCompat(sr.CompatBackward))
	r := &Registry{fake: fake, store: fake.Handler()}

	mux := http.NewServeMux()
	mux.HandleFunc("/associations", handleAssociations)
	mux.HandleFunc("/associations/", handleAssociations)
	mux.HandleFunc("POST /subjects/{subject}/versions", r.handleRegister)
	mux.HandleFunc("POST /compatibility/subjects/{subject}/versions/{version}", r.handleCompatibility)
	mux.HandleFunc("POST /compatibility/subjects/{subject}/versions", r.handleCompatibility)
	mux.HandleFunc("GET /schemas/ids/{id}", r.handleSchemaByID)
	mux.HandleFunc("GET /schemas/ids/{id}/schema", r.handleSchemaByID)
	mux.Handle("/", r.store)
	r.mux = mux
	return r
}

// Handler returns the registry's HTTP API.
func (r *Registry) Handler() http.Handler { return r.mux }

// Register registers s under subject through the same validation and
// compatibility path as POST /subjects/{subject}/versions. Errors are *Error.
// Registering a schema the subject already holds returns that version.
func (r *Registry) Register(subject string, s sr.Schema) (sr.SubjectSchema, error) {
	r.mu.Lock()
	defer r.mu.Unlock()

	if subject == "" {
		return sr.SubjectSchema{}, invalidSchema("subject name cannot be empty")
	}
	if err := r.validate(s); err != nil {
		return sr.SubjectSchema{}, err
	}
	if ss, ok := r.lookup(subject, s); ok {
		return ss, nil
	}
	level, err := r.Compatibility(subject)
	if err != nil {
		return sr.SubjectSchema{}, err
	}
	previous, err := r.versions(subject)
	if err != nil {
		return sr.SubjectSchema{}, err
	}
	if msgs := r.incompatibilities(s, againstForLevel(previous, level), level); len(msgs) > 0 {
		return sr.SubjectSchema{}, incompatible(subject, msgs)
	}

	_, version, err := r.fake.RegisterSchema(subject, s)
	if err != nil {
		return sr.SubjectSchema{}, invalidSchema("%v", err)
	}
	ss, ok := r.fake.GetSchema(subject, version)
	if !ok {
		return sr.SubjectSchema{}, storeError(fmt.Errorf("registered %s version %d but cannot read it back", subject, version))
	}
	return ss, nil
}

// SetCompatibility sets the compatibility level of subject, or the global one
// when subject is empty, as PUT /config[/{subject}] does.
func (r *Registry) SetCompatibility(subject string, level sr.CompatibilityLevel) error {
	body := map[string]sr.CompatibilityLevel{"compatibility": level}
	var out json.RawMessage
	return r.call(http.MethodPut, configPath(subject), body, &out)
}

// Compatibility returns the level in force for subject: its own, else the
// global one.
func (r *Registry) Compatibility(subject string) (sr.CompatibilityLevel, error) {
	var out struct {
		Level sr.CompatibilityLevel `json:"compatibilityLevel"`
	}
	if err := r.call(http.MethodGet, configPath(subject), nil, &out); err != nil {
		return 0, err
	}
	return out.Level, nil
}

// CheckCompatibility answers whether s could be registered under subject
// against version ("latest", a number, or "" for the versions the level
// names: the latest, or all of them for a _TRANSITIVE level).
func (r *Registry) CheckCompatibility(subject, version string, s sr.Schema) (ok bool, messages []string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()

	if err := r.validate(s); err != nil {
		return false, nil, err
	}
	level, err := r.Compatibility(subject)
	if err != nil {
		return false, nil, err
	}
	previous, err := r.versions(subject)
	if err != nil {
		return false, nil, err
	}
	var against []sr.SubjectSchema
	switch version {
	case "":
		against = againstForLevel(previous, level)
	case "latest", "-1":
		if len(previous) > 0 {
			against = previous[len(previous)-1:]
		}
	default:
		v, err := strconv.Atoi(version)
		if err != nil || v < 1 {
			return false, nil, invalidVersion(version)
		}
		if len(previous) == 0 {
			return false, nil, subjectNotFound(subject)
		}
		for _, p := range previous {
			if p.Version == v {
				against = []sr.SubjectSchema{p}
			}
		}
		if against == nil {
			return false, nil, versionNotFound(subject, v)
		}
	}
	msgs := r.incompatibilities(s, against, level)
	return len(msgs) == 0, msgs, nil
}

func handleAssociations(w http.ResponseWriter, req *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(req.Body, maxBody))
	respond(w, http.StatusOK, []struct{}{})
}

func (r *Registry) handleRegister(w http.ResponseWriter, req *http.Request) {
	s, err := decodeSchema(w, req)
	if err != nil {
		respondError(w, err)
		return
	}
	ss, err := r.Register(req.PathValue("subject"), s)
	if err != nil {
		respondError(w, err)
		return
	}
	respond(w, http.StatusOK, ss)
}

func (r *Registry) handleCompatibility(w http.ResponseWriter, req *http.Request) {
	s, err := decodeSchema(w, req)
	if err != nil {
		respondError(w, err)
		return
	}
	ok, msgs, err := r.CheckCompatibility(req.PathValue("subject"), req.PathValue("version"), s)
	if err != nil {
		respondError(w, err)
		return
	}
	if msgs == nil {
		msgs = []string{}
	}
	respond(w, http.StatusOK, map[string]any{"is_compatible": ok, "messages": msgs})
}

// handleSchemaByID drops ?subject=: a real registry finds an id whatever
// subject the client names (serializers name the record's topic subject,
// which is not the subject a referenced schema was registered under).
func (r *Registry) handleSchemaByID(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	if q.Has("subject") {
		q.Del("subject")
		req = req.Clone(req.Context())
		req.URL.RawQuery = q.Encode()
	}
	r.store.ServeHTTP(w, req)
}

// lookup returns the version of subject that already holds s.
func (r *Registry) lookup(subject string, s sr.Schema) (sr.SubjectSchema, bool) {
	var ss sr.SubjectSchema
	if err := r.call(http.MethodPost, "/subjects/"+url.PathEscape(subject), s, &ss); err != nil {
		return sr.SubjectSchema{}, false
	}
	return ss, true
}

// versions returns the live versions of subject, oldest first.
func (r *Registry) versions(subject string) ([]sr.SubjectSchema, error) {
	var nums []int
	err := r.call(http.MethodGet, "/subjects/"+url.PathEscape(subject)+"/versions", nil, &nums)
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]sr.SubjectSchema, 0, len(nums))
	for _, n := range nums {
		if ss, ok := r.fake.GetSchema(subject, n); ok {
			out = append(out, ss)
		}
	}
	return out, nil
}

// call runs one request against srfake's handler in process.
func (r *Registry) call(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return storeError(err)
		}
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	rec := httptest.NewRecorder()
	r.store.ServeHTTP(rec, req)
	if rec.Code/100 != 2 {
		return fromResponse(rec.Code, rec.Body.Bytes())
	}
	if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
		return storeError(fmt.Errorf("decode %s %s: %w", method, path, err))
	}
	return nil
}

func configPath(subject string) string {
	if subject == "" {
		return "/config"
	}
	return "/config/" + url.PathEscape(subject)
}

// decodeSchema reads a register or compatibility body. Unlike srfake it
// ignores fields it does not know, as a real registry does.
func decodeSchema(w http.ResponseWriter, req *http.Request) (sr.Schema, error) {
	var s sr.Schema
	b, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxBody))
	if err != nil {
		return s, invalidSchema("read request body: %v", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, invalidSchema("invalid request body: %v", err)
	}
	return s, nil
}

func respond(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func respondError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = storeError(err)
	}
	respond(w, e.Status, e)
}

// typeName is the schemaType a registry prints, AVRO for the zero value.
func typeName(t sr.SchemaType) string {
	return strings.ToUpper(t.String())
}
