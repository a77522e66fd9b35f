package schema

import (
	"context"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// fakeRegistry is srfake behind a real HTTP server, counting the requests
// and answering /associations as confluent-kafka-go ≥ 2.14 expects.
type fakeRegistry struct {
	*srfake.Registry
	srv      *httptest.Server
	requests atomic.Int64
	mu       sync.Mutex
	paths    map[string]int                                    // requests by path
	before   func(w http.ResponseWriter, r *http.Request) bool // true: answered
}

// count returns how many requests asked for path.
func (f *fakeRegistry) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.paths[path]
}

func newFakeRegistry(t testing.TB) *fakeRegistry {
	t.Helper()
	f := &fakeRegistry{Registry: srfake.NewRegistry(), paths: map[string]int{}}
	h := f.Handler()
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		f.mu.Lock()
		f.paths[r.URL.Path]++
		before := f.before
		f.mu.Unlock()
		if before != nil && before(w, r) {
			return
		}
		if strings.HasPrefix(r.URL.Path, "/associations") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte("[]"))
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeRegistry) client(t *testing.T) *RegistryClient {
	t.Helper()
	c, err := NewRegistryClient(RegistryConfig{URL: f.srv.URL, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fakeRegistry) seedAvro(subject string, version, id int, text string, refs ...sr.SchemaReference) {
	f.SeedSchema(subject, version, id, sr.Schema{Schema: text, Type: sr.TypeAvro, References: refs})
}

// guidOf returns the GUID the fake registry gave subject's version.
func (f *fakeRegistry) guidOf(t *testing.T, subject string, version int) string {
	t.Helper()
	s, ok := f.GetSchema(subject, version)
	if !ok || s.GUID == "" {
		t.Fatalf("no GUID for %s version %d", subject, version)
	}
	return s.GUID
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func marshal(t testing.TB, s avro.Schema, v any) []byte {
	t.Helper()
	b, err := avro.Marshal(s, v)
	if err != nil {
		t.Fatalf("avro marshal: %v", err)
	}
	return b
}

func confluent(id int, b []byte) []byte {
	return append(AppendConfluentPrefix(nil, id), b...)
}

func mustParse(t testing.TB, text string) avro.Schema {
	t.Helper()
	s, err := ParseAvro(text, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// paymentValue is a value of testdata/payment.avsc exercising every type.
func paymentValue() map[string]any {
	at := time.Date(2026, 11, 1, 10, 30, 0, 123_000_000, time.UTC)
	return map[string]any{
		"id":           "5b8f1b9e-6a2c-4f7e-9d51-2f4c3a1b0e77",
		"amount":       big.NewRat(12000, 100),
		"fee":          big.NewRat(-5, 10000),
		"at":           at,
		"atMicros":     at.Add(456 * time.Microsecond),
		"localAt":      at,
		"day":          time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		"cutoff":       15*time.Hour + 4*time.Minute + 5*time.Second + 6*time.Millisecond,
		"cutoffMicros": 23*time.Hour + 59*time.Minute + 59*time.Second + 999999*time.Microsecond,
		"status":       "SETTLED",
		"tags":         map[string]any{"quote\"d": "a\nb"},
		"lines":        []any{map[string]any{"sku": "A-1", "qty": 2}, map[string]any{"sku": "B-2", "qty": -1}},
		"note":         map[string]any{"string": "gift"},
		"choice":       map[string]any{"com.example.Line": map[string]any{"sku": "C", "qty": 1}},
		"sequence":     int64(9007199254740993),
		"ratio":        0.1,
		"score":        float32(1.5),
		"flag":         true,
		"blob":         []byte{0, 1, 2, 0xff},
		"hash":         [4]byte{0xde, 0xad, 0xbe, 0xef},
		"period":       avro.LogicalDuration{Months: 1, Days: 2, Milliseconds: 3},
		"next":         map[string]any{"null": nil},
	}
}

const paymentPlainJSON = `{"id":"5b8f1b9e-6a2c-4f7e-9d51-2f4c3a1b0e77","amount":"120.00","fee":"-0.0005",` +
	`"at":"2026-11-01T10:30:00.123Z","atMicros":"2026-11-01T10:30:00.123456Z","localAt":"2026-11-01T10:30:00.123",` +
	`"day":"2026-11-01","cutoff":"15:04:05.006","cutoffMicros":"23:59:59.999999","status":"SETTLED",` +
	`"tags":{"quote\"d":"a\nb"},"lines":[{"sku":"A-1","qty":2},{"sku":"B-2","qty":-1}],` +
	`"note":"gift","choice":{"sku":"C","qty":1},"sequence":9007199254740993,"ratio":0.1,"score":1.5,"flag":true,` +
	`"blob":"AAEC/w==","hash":"3q2+7w==","period":{"months":1,"days":2,"milliseconds":3},"next":null}`

// ctx is a test context that ends with the test.
func ctx(t *testing.T) context.Context { return t.Context() }
