package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "evctl", "config.yaml")
	f := &File{}
	c := f.Upsert("prod")
	c.Brokers = "kafka-1:9092"
	c.Registry = "https://registry:8081"
	c.RegistryAuth.Password = "hunter2"
	c.Kafka = map[string]string{"sasl.password": "s3cret", "security.protocol": "SASL_SSL"}
	f.CurrentContext = "prod"
	if err := f.Save(path); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("config file mode = %v, want 0600: it holds secrets", perm)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(f, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestMaskedHidesSecrets(t *testing.T) {
	f := &File{Contexts: []Context{{Name: "a", RegistryAuth: RegistryAuth{Username: "u", Password: "p", Token: "t"},
		Kafka: map[string]string{"sasl.password": "x", "ssl.key.password": "y", "bootstrap.servers": "b"}}}}
	b, err := f.Masked().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for _, secret := range []string{": p\n", ": t\n", ": x\n", ": y\n"} {
		if strings.Contains(out, secret) {
			t.Errorf("masked output leaks %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "bootstrap.servers: b") || !strings.Contains(out, "username: u") {
		t.Errorf("masked output lost plain values:\n%s", out)
	}
	if f.Contexts[0].RegistryAuth.Password != "p" {
		t.Error("Masked must not change the original")
	}
}

func TestCurrentUndefined(t *testing.T) {
	f := &File{CurrentContext: "gone", Contexts: []Context{{Name: "a"}}}
	if _, err := f.Current(); err == nil || !strings.Contains(err.Error(), "have: a") {
		t.Fatalf("want an error listing the contexts, got %v", err)
	}
}

func TestPath(t *testing.T) {
	env := map[string]string{"XDG_CONFIG_HOME": "/x", "HOME": "/h"}
	if got := Path(func(k string) string { return env[k] }); got != "/x/evctl/config.yaml" {
		t.Errorf("Path = %q", got)
	}
	delete(env, "XDG_CONFIG_HOME")
	if got := Path(func(k string) string { return env[k] }); got != "/h/.config/evctl/config.yaml" {
		t.Errorf("Path = %q", got)
	}
}
