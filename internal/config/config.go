// Package config reads and writes evctl's configuration file: named
// contexts (kubectl style), each saying how to reach one cluster.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// File is the configuration file's content.
type File struct {
	CurrentContext string    `yaml:"current-context,omitempty"`
	Contexts       []Context `yaml:"contexts,omitempty"`
}

// Context is one named way to reach a Kafka cluster and its registry.
type Context struct {
	Name     string `yaml:"name"`
	Brokers  string `yaml:"brokers,omitempty"`
	Registry string `yaml:"registry,omitempty"`
	// Kafka holds librdkafka properties, as -X key=value does.
	Kafka        map[string]string `yaml:"kafka,omitempty"`
	RegistryAuth RegistryAuth      `yaml:"registry-auth,omitempty"`
	RegistryTLS  RegistryTLS       `yaml:"registry-tls,omitempty"`
}

// RegistryAuth is basic auth or a bearer token for the Schema Registry.
type RegistryAuth struct {
	Username string `yaml:"username,omitempty"`
	Password string `yaml:"password,omitempty"`
	Token    string `yaml:"token,omitempty"`
}

// RegistryTLS names the files for TLS to the Schema Registry.
type RegistryTLS struct {
	CA                 string `yaml:"ca,omitempty"`
	Cert               string `yaml:"cert,omitempty"`
	Key                string `yaml:"key,omitempty"`
	InsecureSkipVerify bool   `yaml:"insecure-skip-verify,omitempty"`
}

// Path is where the file lives: $EVCTL_CONFIG, else
// $XDG_CONFIG_HOME/evctl/config.yaml, else ~/.config/evctl/config.yaml.
func Path(getenv func(string) string) string {
	if p := getenv("EVCTL_CONFIG"); p != "" {
		return p
	}
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home := getenv("HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "evctl", "config.yaml")
}

// Load reads the file at path; a missing file is an empty configuration.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &File{}, nil
	}
	if err != nil {
		return nil, err
	}
	var f File
	if err := yaml.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &f, nil
}

// Save writes the file, readable by its owner only: it may hold secrets.
func (f *File) Save(path string) error {
	b, err := yaml.Marshal(f)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Context returns the named context.
func (f *File) Context(name string) (*Context, bool) {
	i := slices.IndexFunc(f.Contexts, func(c Context) bool { return c.Name == name })
	if i < 0 {
		return nil, false
	}
	return &f.Contexts[i], true
}

// Current returns the current context, or nil when none is set.
func (f *File) Current() (*Context, error) {
	if f.CurrentContext == "" {
		return nil, nil
	}
	c, ok := f.Context(f.CurrentContext)
	if !ok {
		return nil, fmt.Errorf("current context %q is not defined (have: %s); run evctl config use-context", f.CurrentContext, strings.Join(f.Names(), ", "))
	}
	return c, nil
}

// Names lists the contexts' names in file order.
func (f *File) Names() []string {
	names := make([]string, len(f.Contexts))
	for i, c := range f.Contexts {
		names[i] = c.Name
	}
	return names
}

// Upsert adds the context or returns the existing one of that name.
func (f *File) Upsert(name string) *Context {
	if c, ok := f.Context(name); ok {
		return c
	}
	f.Contexts = append(f.Contexts, Context{Name: name})
	return &f.Contexts[len(f.Contexts)-1]
}

// Delete removes the named context; it reports whether it existed.
func (f *File) Delete(name string) bool {
	n := len(f.Contexts)
	f.Contexts = slices.DeleteFunc(f.Contexts, func(c Context) bool { return c.Name == name })
	if f.CurrentContext == name {
		f.CurrentContext = ""
	}
	return len(f.Contexts) != n
}

const masked = "********"

// IsSecretKey reports whether a librdkafka property holds a secret.
func IsSecretKey(key string) bool {
	k := strings.ToLower(key)
	for _, s := range []string{"password", "secret", "token", "key.pem", "private"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// IsCredentialKey reports whether a librdkafka property identifies or
// authenticates the client to its brokers: a secret, a SASL setting other
// than the mechanism, or a client certificate or key. A context sends these
// only to its own brokers.
func IsCredentialKey(key string) bool {
	k := strings.ToLower(key)
	switch {
	case IsSecretKey(k):
		return true
	case k == "sasl.mechanism" || k == "sasl.mechanisms":
		return false
	}
	for _, p := range []string{"sasl.", "ssl.key.", "ssl.certificate.", "ssl.keystore.", "ssl_key", "ssl_certificate"} {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// SameBrokers reports whether two bootstrap lists name the same brokers,
// whatever their order, spacing or letter case.
func SameBrokers(a, b string) bool {
	norm := func(s string) []string {
		var out []string
		for _, h := range strings.Split(s, ",") {
			if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
				out = append(out, h)
			}
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	na := norm(a)
	return len(na) > 0 && slices.Equal(na, norm(b))
}

// SameURL reports whether two registry URLs name the same endpoint: a
// missing scheme is http; the scheme's and host's case and a trailing
// slash do not count.
func SameURL(a, b string) bool {
	norm := func(s string) string {
		s = strings.TrimSpace(s)
		if s == "" {
			return ""
		}
		if !strings.Contains(s, "://") {
			s = "http://" + s
		}
		u, err := url.Parse(s)
		if err != nil {
			return s
		}
		return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + strings.TrimRight(u.Path, "/")
	}
	na := norm(a)
	return na != "" && na == norm(b)
}

// Masked returns a copy with every secret replaced, for printing.
func (f *File) Masked() *File {
	out := &File{CurrentContext: f.CurrentContext, Contexts: make([]Context, len(f.Contexts))}
	for i, c := range f.Contexts {
		if c.RegistryAuth.Password != "" {
			c.RegistryAuth.Password = masked
		}
		if c.RegistryAuth.Token != "" {
			c.RegistryAuth.Token = masked
		}
		if len(c.Kafka) > 0 {
			props := make(map[string]string, len(c.Kafka))
			for k, v := range c.Kafka {
				if IsSecretKey(k) {
					v = masked
				}
				props[k] = v
			}
			c.Kafka = props
		}
		out.Contexts[i] = c
	}
	return out
}

// Marshal renders the file as YAML.
func (f *File) Marshal() ([]byte, error) { return yaml.Marshal(f) }
