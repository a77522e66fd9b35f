package cli

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
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

	warnMu sync.Mutex
	warned map[string]bool // warnings already printed
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
	brokers, from := pickFrom(
		named{f.Conn.Brokers, "--brokers"}, named{f.Getenv("EVCTL_BROKERS"), "EVCTL_BROKERS"}, named{ctx.Brokers, ""})
	cfg := kafka.Config{
		Brokers:  brokers,
		Timeout:  f.Conn.Timeout,
		ClientID: "evctl/" + f.Version,
	}
	var props [][2]string
	given := map[string]bool{} // the keys -X sets
	for _, kv := range f.Conn.Props {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return cfg, flagErrorf("invalid -X %q: want key=value, e.g. -X security.protocol=SASL_SSL", kv)
		}
		if k == "bootstrap.servers" {
			brokers, from = v, "-X bootstrap.servers"
		}
		props = append(props, [2]string{k, v})
		given[k] = true
	}
	if cfg.Brokers == "" && from == "" {
		return cfg, errNoBrokers
	}
	// A context's credentials go only to its own brokers: when a flag or
	// the environment names others, they stay behind.
	own := pick(ctx.Kafka["bootstrap.servers"], ctx.Brokers)
	var withheld []string
	// The context's properties come first so -X can override them.
	for _, k := range slices.Sorted(maps.Keys(ctx.Kafka)) {
		if from != "" && config.IsCredentialKey(k) && !config.SameBrokers(brokers, own) {
			if !given[k] { // what -X gives instead is no loss to warn of
				withheld = append(withheld, k)
			}
			continue
		}
		if from != "" && k == "bootstrap.servers" {
			continue
		}
		cfg.Props = append(cfg.Props, [2]string{k, ctx.Kafka[k]})
	}
	if len(withheld) > 0 {
		f.warnOnce(fmt.Sprintf("evctl: warning: not sending context %q's credentials (%s) to %s from %s: they are for %s; give -X for these brokers\n",
			ctx.Name, strings.Join(withheld, ", "), brokers, from, orDash(own)))
	}
	cfg.Props = append(cfg.Props, props...)
	return cfg, nil
}

// named is a value and where it came from ("" for the context).
type named struct{ value, from string }

// pickFrom returns the first non-empty value and where it came from.
func pickFrom(values ...named) (value, from string) {
	for _, v := range values {
		if v.value != "" {
			return v.value, v.from
		}
	}
	return "", ""
}

// warnOnce prints a warning the first time it is given.
func (f *Factory) warnOnce(msg string) {
	f.warnMu.Lock()
	defer f.warnMu.Unlock()
	if f.warned == nil {
		f.warned = map[string]bool{}
	}
	if !f.warned[msg] {
		f.warned[msg] = true
		fmt.Fprint(f.IOStreams.ErrOut, msg)
	}
}

func (f *Factory) registryConfig() (schema.RegistryConfig, bool, error) {
	ctx, err := f.context()
	if err != nil {
		return schema.RegistryConfig{}, false, err
	}
	c := f.Conn
	url, from := pickFrom(named{c.Registry, "--registry"}, named{f.Getenv("EVCTL_REGISTRY"), "EVCTL_REGISTRY"}, named{ctx.Registry, ""})
	// A context's credentials go only to its own registry.
	auth, tls := ctx.RegistryAuth, ctx.RegistryTLS
	if from != "" && !config.SameURL(url, ctx.Registry) {
		// Credentials given for this registry replace the context's: no
		// loss to warn of.
		given := pick(c.RegistryUser, c.RegistryPassword, c.RegistryToken,
			f.Getenv("EVCTL_REGISTRY_USER"), f.Getenv("EVCTL_REGISTRY_PASSWORD"), f.Getenv("EVCTL_REGISTRY_TOKEN")) != ""
		if (auth != (config.RegistryAuth{}) && !given) || ((tls.Cert != "" || tls.Key != "") && c.RegistryCert == "" && c.RegistryKey == "") {
			f.warnOnce(fmt.Sprintf("evctl: warning: not sending context %q's registry credentials to %s from %s: they are for %s; give --registry-user/--registry-password or --registry-token for this registry\n",
				ctx.Name, url, from, orDash(ctx.Registry)))
		}
		auth, tls.Cert, tls.Key = config.RegistryAuth{}, "", ""
	}
	cfg := schema.RegistryConfig{
		URL:                url,
		Username:           pick(c.RegistryUser, f.Getenv("EVCTL_REGISTRY_USER"), auth.Username),
		Password:           pick(c.RegistryPassword, f.Getenv("EVCTL_REGISTRY_PASSWORD"), auth.Password),
		BearerToken:        pick(c.RegistryToken, f.Getenv("EVCTL_REGISTRY_TOKEN"), auth.Token),
		CAFile:             pick(c.RegistryCA, tls.CA),
		CertFile:           pick(c.RegistryCert, tls.Cert),
		KeyFile:            pick(c.RegistryKey, tls.Key),
		InsecureSkipVerify: c.RegistryInsecure || tls.InsecureSkipVerify,
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

// newAdmin resolves the connection and makes an admin client; it does
// not dial until the client is used.
func newAdmin(kafkaConfig func() (kafka.Config, error)) (*kafka.Admin, error) {
	cfg, err := kafkaConfig()
	if err != nil {
		return nil, err
	}
	return kafka.NewAdmin(cfg)
}

// newDecoder builds the decoder with the registry when one is configured.
func newDecoder(registry func() (*schema.RegistryClient, error), o schema.DecoderOptions) (*schema.Decoder, error) {
	reg, err := registry()
	if err != nil {
		return nil, err
	}
	if reg != nil {
		o.Registry = reg
	}
	dec, err := schema.NewDecoder(o)
	if err != nil {
		return nil, &FlagError{err: err}
	}
	return dec, nil
}
