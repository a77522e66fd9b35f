package cli

import (
	"errors"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/evctl/evctl/internal/config"
	"github.com/evctl/evctl/internal/iostreams"
	"github.com/evctl/evctl/internal/kafka"
	"github.com/evctl/evctl/internal/schema"
)

// Factory gives commands their streams and their expensive dependencies as
// functions, so --help and completion never read config or dial out.
type Factory struct {
	IOStreams *iostreams.IOStreams
	Version   string
	Getenv    func(string) string
	Now       func() time.Time

	// Conn holds the global connection flags; Kafka and Registry resolve
	// them against the environment and the current context.
	Conn *ConnectionOptions

	Kafka    func() (kafka.Config, error)
	Registry func() (*schema.RegistryClient, error) // nil, nil: no registry configured
}

// ConnectionOptions are the persistent connection flags.
type ConnectionOptions struct {
	Brokers          string
	Registry         string
	Props            []string // -X key=value
	Timeout          time.Duration
	Context          string
	RegistryUser     string
	RegistryPassword string
	RegistryToken    string
	RegistryCA       string
	RegistryCert     string
	RegistryKey      string
	RegistryInsecure bool
}

// NewFactory wires a Factory over the process's environment.
func NewFactory(version string, ios *iostreams.IOStreams) *Factory {
	f := &Factory{
		IOStreams: ios,
		Version:   version,
		Getenv:    os.Getenv,
		Now:       time.Now,
		Conn:      &ConnectionOptions{Timeout: 10 * time.Second},
	}
	f.Kafka = func() (kafka.Config, error) { return f.kafkaConfig() }
	f.Registry = func() (*schema.RegistryClient, error) {
		cfg, ok, err := f.registryConfig()
		if err != nil || !ok {
			return nil, err
		}
		return schema.NewRegistryClient(cfg)
	}
	return f
}

// ConfigPath is where the context file lives.
func (f *Factory) ConfigPath() string { return config.Path(f.Getenv) }

// context returns the context in force: --context, else the file's current.
func (f *Factory) context() (*config.Context, error) {
	file, err := config.Load(f.ConfigPath())
	if err != nil {
		return nil, err
	}
	if name := f.Conn.Context; name != "" {
		c, ok := file.Context(name)
		if !ok {
			return nil, flagErrorf("context %q not found in %s (have: %s)", name, f.ConfigPath(), strings.Join(file.Names(), ", "))
		}
		return c, nil
	}
	c, err := file.Current()
	if err != nil {
		return nil, err
	}
	if c == nil {
		c = &config.Context{}
	}
	return c, nil
}

// pick returns the first non-empty value: flag, environment, context.
func pick(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

var errNoBrokers = errors.New("no brokers given: use --brokers, EVCTL_BROKERS or a context (evctl config set-context); try 'evctl dev' for a local sandbox")

func (f *Factory) kafkaConfig() (kafka.Config, error) {
	ctx, err := f.context()
	if err != nil {
		return kafka.Config{}, err
	}
	cfg := kafka.Config{
		Brokers:  pick(f.Conn.Brokers, f.Getenv("EVCTL_BROKERS"), ctx.Brokers),
		Timeout:  f.Conn.Timeout,
		ClientID: "evctl/" + f.Version,
	}
	if cfg.Brokers == "" {
		return cfg, errNoBrokers
	}
	// The context's properties come first so -X can override them.
	for _, k := range slices.Sorted(maps.Keys(ctx.Kafka)) {
		cfg.Props = append(cfg.Props, [2]string{k, ctx.Kafka[k]})
	}
	for _, kv := range f.Conn.Props {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return cfg, flagErrorf("invalid -X %q: want key=value, e.g. -X security.protocol=SASL_SSL", kv)
		}
		cfg.Props = append(cfg.Props, [2]string{k, v})
	}
	return cfg, nil
}

func (f *Factory) registryConfig() (schema.RegistryConfig, bool, error) {
	ctx, err := f.context()
	if err != nil {
		return schema.RegistryConfig{}, false, err
	}
	c := f.Conn
	cfg := schema.RegistryConfig{
		URL:                pick(c.Registry, f.Getenv("EVCTL_REGISTRY"), ctx.Registry),
		Username:           pick(c.RegistryUser, f.Getenv("EVCTL_REGISTRY_USER"), ctx.RegistryAuth.Username),
		Password:           pick(c.RegistryPassword, f.Getenv("EVCTL_REGISTRY_PASSWORD"), ctx.RegistryAuth.Password),
		BearerToken:        pick(c.RegistryToken, f.Getenv("EVCTL_REGISTRY_TOKEN"), ctx.RegistryAuth.Token),
		CAFile:             pick(c.RegistryCA, ctx.RegistryTLS.CA),
		CertFile:           pick(c.RegistryCert, ctx.RegistryTLS.Cert),
		KeyFile:            pick(c.RegistryKey, ctx.RegistryTLS.Key),
		InsecureSkipVerify: c.RegistryInsecure || ctx.RegistryTLS.InsecureSkipVerify,
		Timeout:            c.Timeout,
	}
	if cfg.URL == "" {
		return cfg, false, nil
	}
	if cfg.BearerToken != "" && cfg.Password != "" {
		return cfg, false, flagErrorf("registry basic auth and bearer token are exclusive: give one")
	}
	if !strings.Contains(cfg.URL, "://") {
		cfg.URL = "http://" + cfg.URL
	}
	return cfg, true, nil
}
