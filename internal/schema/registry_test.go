package schema

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
)

const openedV1 = `{"type":"record","name":"Opened","namespace":"com.bank","fields":[{"name":"owner","type":"string"}]}`

func (f *fakeRegistry) setBefore(fn func(w http.ResponseWriter, r *http.Request) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.before = fn
}

func TestRegistrySchemaByID(t *testing.T) {
	f := newFakeRegistry(t)
	f.seedAvro("bank-value", 3, 7, openedV1)
	c := f.client(t)

	s, err := c.SchemaByID(ctx(t), 7)
	if err != nil {
		t.Fatal(err)
	}
	if s.ID != 7 || s.Subject != "bank-value" || s.Version != 3 || s.Format != FormatAvro || s.Avro() == nil {
		t.Errorf("schema = %+v", s)
	}
	if got := *s.Ref(); got.ID != 7 || got.Subject != "bank-value" || got.Version != 3 || got.Format != "AVRO" {
		t.Errorf("ref = %+v", got)
	}
	n := f.requests.Load()
	again, err := c.SchemaByID(ctx(t), 7)
	if err != nil || again != s {
		t.Fatalf("second lookup = %p, %v; want the cached %p", again, err, s)
	}
	if f.requests.Load() != n {
		t.Errorf("second lookup asked the registry again")
	}
}

func TestRegistryUnknownIDIsCached(t *testing.T) {
	f := newFakeRegistry(t)
	c := f.client(t)
	for range 3 {
		_, err := c.SchemaByID(ctx(t), 42)
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	}
	if n := f.count("/schemas/ids/42"); n != 1 {
		t.Errorf("%d requests for an unknown id, want 1", n)
	}
}

func TestRegistryConcurrentLookupsShareOneRequest(t *testing.T) {
	f := newFakeRegistry(t)
	f.seedAvro("bank-value", 1, 7, openedV1)
	// The registry holds the first request until every caller has set out,
	// so all of them find that request in flight.
	release := make(chan struct{})
	f.setBefore(func(http.ResponseWriter, *http.Request) bool { <-release; return false })
	c := f.client(t)
	var wg, started sync.WaitGroup
	schemas := make([]*Schema, 16)
	started.Add(len(schemas))
	go func() { started.Wait(); close(release) }()
	for i := range schemas {
		wg.Go(func() {
			started.Done()
			s, err := c.SchemaByID(ctx(t), 7)
			if err != nil {
				t.Error(err)
			}
			schemas[i] = s
		})
	}
	wg.Wait()
	if n := f.count("/schemas/ids/7"); n != 1 {
		t.Errorf("%d requests for one id, want 1", n)
	}
	for _, s := range schemas[1:] {
		if s != schemas[0] {
			t.Fatal("lookups returned different schemas: parsed more than once")
		}
	}
}

func TestRegistryReferences(t *testing.T) {
	f := newFakeRegistry(t)
	f.seedAvro("com.bank.Opened", 1, 1, openedV1)
	f.seedAvro("com.bank.Money", 1, 2, `{"type":"record","name":"Money","namespace":"com.bank","fields":[{"name":"cents","type":"long"}]}`)
	// a reference with references of its own
	f.seedAvro("com.bank.Deposited", 1, 3,
		`{"type":"record","name":"Deposited","namespace":"com.bank","fields":[{"name":"amount","type":"com.bank.Money"}]}`,
		sr.SchemaReference{Name: "com.bank.Money", Subject: "com.bank.Money", Version: 1})
	f.seedAvro("bank-value", 1, 4, `["com.bank.Opened","com.bank.Deposited"]`,
		sr.SchemaReference{Name: "com.bank.Opened", Subject: "com.bank.Opened", Version: 1},
		sr.SchemaReference{Name: "com.bank.Deposited", Subject: "com.bank.Deposited", Version: 1})
	c := f.client(t)
	s, err := c.SchemaByID(ctx(t), 4)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Avro().String(); !strings.Contains(got, `"name":"com.bank.Money"`) {
		t.Errorf("parsed schema lacks the nested reference: %s", got)
	}
	if len(s.References) != 2 {
		t.Errorf("references = %+v", s.References)
	}
}

func TestRegistryMissingReference(t *testing.T) {
	f := newFakeRegistry(t)
	f.seedAvro("com.bank.Opened", 1, 1, openedV1)
	f.seedAvro("bank-value", 1, 2, `["com.bank.Opened"]`, sr.SchemaReference{Name: "com.bank.Opened", Subject: "com.bank.Opened", Version: 1})
	f.setBefore(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/subjects/com.bank.Opened/versions/1" {
			return false
		}
		http.Error(w, `{"error_code":40401,"message":"Subject 'com.bank.Opened' not found."}`, http.StatusNotFound)
		return true
	})
	c := f.client(t)
	_, err := c.SchemaByID(ctx(t), 2)
	if err == nil || !strings.Contains(err.Error(), `reference "com.bank.Opened" (subject "com.bank.Opened" version 1)`) {
		t.Fatalf("err = %v", err)
	}
	if _, err2 := c.SchemaByID(ctx(t), 2); err2 == nil || f.count("/schemas/ids/2") != 1 {
		t.Errorf("a schema with a missing reference was looked up again (%d requests)", f.count("/schemas/ids/2"))
	}
}

func TestParseAvroReferenceCycle(t *testing.T) {
	lookup := func(subject string, version int) (string, []Reference, error) {
		return `"string"`, []Reference{{Name: "x", Subject: subject, Version: version}}, nil
	}
	_, err := ParseAvro(`"string"`, []Reference{{Name: "x", Subject: "a", Version: 1}}, lookup)
	if err == nil || !strings.Contains(err.Error(), "reference cycle through subject \"a\" version 1") {
		t.Fatalf("err = %v", err)
	}
	if _, err := ParseAvro(`["A"]`, []Reference{{Name: "A", Subject: "a", Version: 1}}, nil); err == nil {
		t.Fatal("references without a lookup: no error")
	}
	if _, err := ParseAvro(`{"type":"record"}`, nil, nil); err == nil || !strings.Contains(err.Error(), "invalid Avro schema") {
		t.Fatalf("invalid schema: err = %v", err)
	}
}

func TestRegistrySchemaByGUID(t *testing.T) {
	f := newFakeRegistry(t)
	f.seedAvro("bank-value", 2, 9, openedV1)
	guid := f.guidOf(t, "bank-value", 2)
	c := f.client(t)
	s, err := c.SchemaByGUID(ctx(t), guid)
	if err != nil {
		t.Fatal(err)
	}
	if s.GUID != guid || s.ID != 9 || s.Subject != "bank-value" || s.Version != 2 || s.Avro() == nil {
		t.Errorf("schema = %+v", s)
	}
	if _, err := c.SchemaByGUID(ctx(t), "00000000-0000-0000-0000-000000000000"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown guid: err = %v", err)
	}
}

// closedPort returns an address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestRegistryUnreachableIsRemembered(t *testing.T) {
	c, err := NewRegistryClient(RegistryConfig{URL: closedPort(t), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.SchemaByID(ctx(t), 1)
	var unavailable *UnavailableError
	if !errors.As(err, &unavailable) || !strings.Contains(err.Error(), "registry unreachable (dial tcp") {
		t.Fatalf("err = %v, want registry unreachable (dial tcp …)", err)
	}
	// Another id does not dial again while the registry is taken to be down.
	_, err2 := c.SchemaByID(ctx(t), 2)
	if !errors.Is(err2, err) { // the very same error value
		t.Errorf("second lookup: %v, want the remembered %v", err2, err)
	}
}

func TestRegistrySlowAnswerTimesOut(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	t.Cleanup(srv.Close)
	c, err := NewRegistryClient(RegistryConfig{URL: srv.URL, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.SchemaByID(ctx(t), 1)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("lookup took %v with a 200ms timeout", took)
	}
	if err == nil || err.Error() != "registry unreachable (no answer within 200ms)" {
		t.Errorf("err = %v", err)
	}
}

func TestRegistryCallerContextCancelled(t *testing.T) {
	f := newFakeRegistry(t)
	f.seedAvro("bank-value", 1, 7, openedV1)
	release := make(chan struct{})
	f.setBefore(func(http.ResponseWriter, *http.Request) bool { <-release; return false })
	c := f.client(t)
	cctx, cancel := context.WithCancel(ctx(t))
	cancel()
	if _, err := c.SchemaByID(cctx, 7); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	close(release)
	f.setBefore(nil)
	// not remembered as a registry failure
	if _, err := c.SchemaByID(ctx(t), 7); err != nil {
		t.Fatalf("after a cancelled lookup: %v", err)
	}
}

func TestRegistryHTTPError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error_code":50001,"message":"backend down"}`, http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	c, err := NewRegistryClient(RegistryConfig{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.SchemaByID(ctx(t), 1)
	if err == nil || err.Error() != "registry error (HTTP 500: backend down)" {
		t.Errorf("err = %v", err)
	}
}

func TestRegistryAuth(t *testing.T) {
	for _, tt := range []struct {
		cfg  RegistryConfig
		want string
	}{
		{RegistryConfig{Username: "u", Password: "p"}, "Basic dTpw"},
		{RegistryConfig{BearerToken: "tok"}, "Bearer tok"},
	} {
		got := make(chan string, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got <- r.Header.Get("Authorization")
			_, _ = w.Write([]byte(`["a"]`))
		}))
		tt.cfg.URL = srv.URL
		c, err := NewRegistryClient(tt.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if subjects, err := c.Subjects(ctx(t)); err != nil || !slices.Equal(subjects, []string{"a"}) {
			t.Errorf("Subjects = %v, %v", subjects, err)
		}
		if h := <-got; h != tt.want {
			t.Errorf("Authorization = %q, want %q", h, tt.want)
		}
		srv.Close()
	}
}

func TestRegistryTLS(t *testing.T) {
	f := newFakeRegistry(t)
	f.seedAvro("bank-value", 1, 7, openedV1)
	srv := httptest.NewTLSServer(f.Handler())
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := NewRegistryClient(RegistryConfig{URL: srv.URL, CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SchemaByID(ctx(t), 7); err != nil {
		t.Errorf("with the CA: %v", err)
	}
	c, err = NewRegistryClient(RegistryConfig{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	var unknown x509.UnknownAuthorityError
	if _, err := c.SchemaByID(ctx(t), 7); !errors.As(err, &unknown) {
		t.Errorf("without the CA: err = %v, want an unknown authority", err)
	}
	if _, err := NewRegistryClient(RegistryConfig{URL: srv.URL, CAFile: filepath.Join(t.TempDir(), "none.pem")}); err == nil {
		t.Error("missing CA file: no error")
	}
	if _, err := NewRegistryClient(RegistryConfig{URL: srv.URL, CertFile: ca}); err == nil {
		t.Error("cert without key: no error")
	}
}

func TestRegistrySubjects(t *testing.T) {
	f := newFakeRegistry(t)
	f.seedAvro("a-value", 1, 1, openedV1)
	f.seedAvro("b-value", 1, 2, `"string"`)
	subjects, err := f.client(t).Subjects(ctx(t))
	slices.Sort(subjects)
	if err != nil || !slices.Equal(subjects, []string{"a-value", "b-value"}) {
		t.Errorf("Subjects = %v, %v", subjects, err)
	}
	if _, err := NewRegistryClient(RegistryConfig{}); err == nil {
		t.Error("no URL: no error")
	}
}
