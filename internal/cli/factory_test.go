package cli

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evctl/evctl/internal/config"
	"github.com/evctl/evctl/internal/iostreams"
)

func TestConnectionPrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	file := &config.File{CurrentContext: "ctx", Contexts: []config.Context{
		{Name: "ctx", Brokers: "ctx:9092", Registry: "ctx:8081", Kafka: map[string]string{"security.protocol": "SSL", "client.rack": "a"}},
		{Name: "other", Brokers: "other:9092"},
	}}
	if err := file.Save(path); err != nil {
		t.Fatal(err)
	}
	newF := func(env map[string]string) *Factory {
		ios, _, _, _ := iostreams.Test()
		f := NewFactory("test", ios)
		env["EVCTL_CONFIG"] = path
		f.Getenv = func(k string) string { return env[k] }
		return f
	}

	f := newF(map[string]string{})
	cfg, err := f.Kafka()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Brokers != "ctx:9092" || len(cfg.Props) != 2 || cfg.Timeout != 10*time.Second {
		t.Errorf("context only: %+v", cfg)
	}
	reg, ok, err := f.registryConfig()
	if err != nil || !ok || reg.URL != "http://ctx:8081" {
		t.Errorf("registry from context: %+v %v %v", reg, ok, err)
	}

	f = newF(map[string]string{"EVCTL_BROKERS": "env:9092"})
	if cfg, _ := f.Kafka(); cfg.Brokers != "env:9092" {
		t.Errorf("env beats context: got %q", cfg.Brokers)
	}

	f = newF(map[string]string{"EVCTL_BROKERS": "env:9092"})
	f.Conn.Brokers = "flag:9092"
	f.Conn.Props = []string{"security.protocol=PLAINTEXT"}
	cfg, _ = f.Kafka()
	if cfg.Brokers != "flag:9092" {
		t.Errorf("flag beats env: got %q", cfg.Brokers)
	}
	// -X comes after the context's properties, so librdkafka takes it.
	if last := cfg.Props[len(cfg.Props)-1]; last != [2]string{"security.protocol", "PLAINTEXT"} {
		t.Errorf("-X must come last: %v", cfg.Props)
	}

	f = newF(map[string]string{})
	f.Conn.Context = "other"
	if cfg, _ := f.Kafka(); cfg.Brokers != "other:9092" {
		t.Errorf("--context: got %q", cfg.Brokers)
	}
	f.Conn.Context = "missing"
	var fe *FlagError
	if _, err := f.Kafka(); !errors.As(err, &fe) {
		t.Errorf("unknown --context: err = %v, want a usage error", err)
	}

	f = newF(map[string]string{})
	f.Conn.RegistryToken, f.Conn.RegistryPassword = "t", "p"
	if _, _, err := f.registryConfig(); err == nil {
		t.Error("basic auth and a token together must be refused")
	}
}

func TestNoBrokers(t *testing.T) {
	f := testFactory(t)
	if _, err := f.Kafka(); !errors.Is(err, errNoBrokers) {
		t.Fatalf("err = %v, want errNoBrokers", err)
	}
	if reg, err := f.Registry(); reg != nil || err != nil {
		t.Fatalf("no registry configured: got %v, %v", reg, err)
	}
}

// authRecorder is a registry endpoint that records the Authorization
// header of every request and answers "not found".
func authRecorder(t *testing.T) (url string, seen func() []string) {
	t.Helper()
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error_code":40403,"message":"Schema not found"}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}

func TestContextCredentialsStayWithTheirEndpoints(t *testing.T) {
	other, seen := authRecorder(t)
	path := filepath.Join(t.TempDir(), "config.yaml")
	file := &config.File{CurrentContext: "sec", Contexts: []config.Context{{
		Name: "sec", Brokers: "kafka-1:9093", Registry: "https://registry.invalid",
		Kafka:        map[string]string{"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN", "sasl.username": "u", "sasl.password": "s3cret", "ssl.key.location": "/k.pem"},
		RegistryAuth: config.RegistryAuth{Username: "u", Password: "hunter2"},
	}}}
	if err := file.Save(path); err != nil {
		t.Fatal(err)
	}
	newF := func(env map[string]string) (*Factory, *bytes.Buffer) {
		ios, _, _, errOut := iostreams.Test()
		f := NewFactory("test", ios)
		env["EVCTL_CONFIG"] = path
		f.Getenv = func(k string) string { return env[k] }
		return f, errOut
	}
	lookup := func(f *Factory) {
		t.Helper()
		reg, err := f.Registry()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.SchemaByID(t.Context(), 1); err == nil {
			t.Fatal("the recorder has no schema 1, yet the lookup succeeded")
		}
	}

	// The environment names another registry: no Authorization header.
	f, errOut := newF(map[string]string{"EVCTL_REGISTRY": other})
	lookup(f)
	lookup(f)
	if got := seen(); len(got) == 0 || slices.ContainsFunc(got, func(h string) bool { return h != "" }) {
		t.Errorf("Authorization headers sent to another registry: %q", got)
	}
	if n := strings.Count(errOut.String(), "not sending context \"sec\"'s registry credentials to "+other+" from EVCTL_REGISTRY"); n != 1 {
		t.Errorf("want the warning once, got %d times in %q", n, errOut.String())
	}

	// Credentials given for that registry itself are sent.
	before := len(seen())
	f, _ = newF(map[string]string{"EVCTL_REGISTRY": other})
	f.Conn.RegistryUser, f.Conn.RegistryPassword = "me", "mine"
	lookup(f)
	if got := seen()[before:]; len(got) == 0 || got[0] != "Basic bWU6bWluZQ==" {
		t.Errorf("the flag's own credentials: got %q", got)
	}

	// The context's own registry gets the context's credentials.
	file.Contexts[0].Registry = other
	if err := file.Save(path); err != nil {
		t.Fatal(err)
	}
	before = len(seen())
	f, errOut = newF(map[string]string{"EVCTL_REGISTRY": other + "/"})
	lookup(f)
	if got := seen()[before:]; len(got) == 0 || got[0] != "Basic dTpodW50ZXIy" {
		t.Errorf("the context's own registry: got %q", got)
	}
	if errOut.Len() != 0 {
		t.Errorf("no warning for the context's own registry, got %q", errOut.String())
	}

	// The brokers: the SASL and client-key properties stay with the
	// context's brokers; the rest follows.
	f, errOut = newF(map[string]string{"EVCTL_BROKERS": "127.0.0.1:9092"})
	cfg, err := f.Kafka()
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{"sasl.mechanism", "PLAIN"}, {"security.protocol", "SASL_SSL"}}
	if diff := cmp.Diff(want, cfg.Props); diff != "" {
		t.Errorf("props sent to other brokers (-want +got):\n%s", diff)
	}
	if !strings.Contains(errOut.String(), `not sending context "sec"'s credentials (sasl.password, sasl.username, ssl.key.location) to 127.0.0.1:9092 from EVCTL_BROKERS`) {
		t.Errorf("warning: %q", errOut.String())
	}
	f, errOut = newF(map[string]string{"EVCTL_BROKERS": " KAFKA-1:9093 "})
	if cfg, _ = f.Kafka(); len(cfg.Props) != 5 || errOut.Len() != 0 {
		t.Errorf("the context's own brokers get every property: %v, stderr %q", cfg.Props, errOut.String())
	}
	f, _ = newF(map[string]string{})
	f.Conn.Props = []string{"bootstrap.servers=elsewhere:9092"}
	if cfg, _ = f.Kafka(); slices.ContainsFunc(cfg.Props, func(p [2]string) bool { return p[0] == "sasl.password" }) {
		t.Errorf("-X bootstrap.servers names other brokers: %v", cfg.Props)
	}
}

func TestSetContextRefusesPasswordAndToken(t *testing.T) {
	f := testFactory(t)
	run := func(args ...string) error {
		cmd := NewCmdConfig(f)
		cmd.SetArgs(args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		return cmd.Execute()
	}
	if err := run("set-context", "sec", "--registry-password", "p"); err != nil {
		t.Fatal(err)
	}
	var fe *FlagError
	if err := run("set-context", "sec", "--registry-token", "t"); !errors.As(err, &fe) {
		t.Fatalf("err = %v, want a usage error", err)
	}
	if err := run("set-context", "sec", "--registry-token", "t", "--registry-password", ""); err != nil {
		t.Fatalf("replacing the password by a token: %v", err)
	}
	file, err := config.Load(f.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := file.Context("sec"); c.RegistryAuth.Token != "t" || c.RegistryAuth.Password != "" {
		t.Errorf("saved %+v", c.RegistryAuth)
	}
}
