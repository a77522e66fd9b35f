package cli

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

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
