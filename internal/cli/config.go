package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/internal/config"
)

// NewCmdConfig is `evctl config`: named contexts, kubectl style.
func NewCmdConfig(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config <command>",
		Short: "Manage named connection contexts",
		Long: `Manage named contexts in $XDG_CONFIG_HOME/evctl/config.yaml (or
$EVCTL_CONFIG). A context says how to reach one cluster: brokers, registry,
librdkafka properties, registry auth and TLS. Flags and environment
variables override the current context.

A context's credentials (registry auth, registry client certificate, and
the SASL and client-certificate librdkafka properties) go only to its own
brokers and registry: when a flag or the environment names another
endpoint, they are left out, with a warning on stderr.`,
		Example: `  $ evctl config set-context local --brokers localhost:9092 --registry http://localhost:8081
  $ evctl config set-context prod --brokers kafka:9093 -X security.protocol=SASL_SSL -X sasl.mechanism=PLAIN
  $ evctl config use-context local
  $ evctl config get-contexts
  $ evctl config view`,
	}
	cmd.AddCommand(
		newCmdConfigGetContexts(f),
		newCmdConfigCurrentContext(f),
		newCmdConfigUseContext(f),
		newCmdConfigSetContext(f),
		newCmdConfigDeleteContext(f),
		newCmdConfigView(f),
	)
	return cmd
}

// contextView is one context in `config get-contexts -o json`; secrets
// are never in it.
type contextView struct {
	Name     string `json:"name"`
	Current  bool   `json:"current"`
	Brokers  string `json:"brokers,omitempty"`
	Registry string `json:"registry,omitempty"`
}

func newCmdConfigGetContexts(f *Factory) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "get-contexts",
		Short: "List the contexts; * marks the current one",
		Long: `List the contexts; * marks the current one. -o json prints an array of
{"name", "current", "brokers", "registry"}, without secrets.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			file, err := config.Load(f.ConfigPath())
			if err != nil {
				return err
			}
			views := make([]contextView, len(file.Contexts))
			for i, c := range file.Contexts {
				views[i] = contextView{Name: c.Name, Current: c.Name == file.CurrentContext, Brokers: c.Brokers, Registry: c.Registry}
			}
			if output == "json" {
				b, err := json.Marshal(views)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(f.IOStreams.Out, "%s\n", b)
				return err
			}
			tw := tabwriter.NewWriter(f.IOStreams.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CURRENT\tNAME\tBROKERS\tREGISTRY")
			for _, v := range views {
				mark := ""
				if v.Current {
					mark = "*"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", mark, v.Name, orDash(v.Brokers), orDash(v.Registry))
			}
			return tw.Flush()
		},
	}
	outputFlag(cmd, &output)
	return cmd
}

func newCmdConfigCurrentContext(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "current-context",
		Short: "Print the current context's name",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			file, err := config.Load(f.ConfigPath())
			if err != nil {
				return err
			}
			if file.CurrentContext == "" {
				return fmt.Errorf("no current context; set one with evctl config use-context <name>")
			}
			fmt.Fprintln(f.IOStreams.Out, file.CurrentContext)
			return nil
		},
	}
}

func newCmdConfigUseContext(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:               "use-context <name>",
		Short:             "Make a context the current one",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeContexts(f),
		RunE: func(_ *cobra.Command, args []string) error {
			return editConfig(f, func(file *config.File) error {
				if _, ok := file.Context(args[0]); !ok {
					return flagErrorf("context %q not found (have: %s)", args[0], strings.Join(file.Names(), ", "))
				}
				file.CurrentContext = args[0]
				fmt.Fprintf(f.IOStreams.ErrOut, "Switched to context %q.\n", args[0])
				return nil
			})
		},
	}
}

// setContextOptions are the fields `config set-context` may change; an
// unset flag leaves the field alone.
type setContextOptions struct {
	brokers, registry                    string
	props, unset                         []string
	user, password, token, ca, cert, key string
	insecure, current                    bool
}

func newCmdConfigSetContext(f *Factory) *cobra.Command {
	var o setContextOptions
	cmd := &cobra.Command{
		Use:   "set-context <name>",
		Short: "Create a context or change its fields",
		Long: `Create a context or change its fields. Only the flags given change;
-X key=value sets a librdkafka property, --unset key removes one. A
context holds a registry password or a bearer token, not both.`,
		Example: `  $ evctl config set-context local --brokers localhost:9092 --registry http://localhost:8081 --current`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return editConfig(f, func(file *config.File) error {
				c := file.Upsert(args[0])
				fl := cmd.Flags()
				set := func(name string, dst *string, v string) {
					if fl.Changed(name) {
						*dst = v
					}
				}
				set("brokers", &c.Brokers, o.brokers)
				set("registry", &c.Registry, o.registry)
				set("registry-user", &c.RegistryAuth.Username, o.user)
				set("registry-password", &c.RegistryAuth.Password, o.password)
				set("registry-token", &c.RegistryAuth.Token, o.token)
				set("registry-ca", &c.RegistryTLS.CA, o.ca)
				set("registry-cert", &c.RegistryTLS.Cert, o.cert)
				set("registry-key", &c.RegistryTLS.Key, o.key)
				if fl.Changed("registry-insecure") {
					c.RegistryTLS.InsecureSkipVerify = o.insecure
				}
				for _, kv := range o.props {
					k, v, ok := strings.Cut(kv, "=")
					if !ok || k == "" {
						return flagErrorf("invalid -X %q: want key=value", kv)
					}
					if c.Kafka == nil {
						c.Kafka = map[string]string{}
					}
					c.Kafka[k] = v
				}
				for _, k := range o.unset {
					delete(c.Kafka, k)
				}
				if c.RegistryAuth.Password != "" && c.RegistryAuth.Token != "" {
					return flagErrorf("context %q would have both a registry password and a token: give one (clear the other with --registry-password '' or --registry-token '')", c.Name)
				}
				if o.current || file.CurrentContext == "" {
					file.CurrentContext = c.Name
				}
				fmt.Fprintf(f.IOStreams.ErrOut, "Context %q saved to %s.\n", c.Name, f.ConfigPath())
				return nil
			})
		},
	}
	// These shadow the global connection flags on purpose: here they edit
	// the context instead of connecting.
	fl := cmd.Flags()
	fl.StringVarP(&o.brokers, "brokers", "b", "", "bootstrap brokers")
	fl.StringVarP(&o.registry, "registry", "r", "", "Schema Registry URL")
	fl.StringArrayVarP(&o.props, "property", "X", nil, "librdkafka property `key=value` (repeatable)")
	fl.StringArrayVar(&o.unset, "unset", nil, "remove a librdkafka property")
	fl.StringVar(&o.user, "registry-user", "", "registry basic-auth user")
	fl.StringVar(&o.password, "registry-password", "", "registry basic-auth password")
	fl.StringVar(&o.token, "registry-token", "", "registry bearer token")
	fl.StringVar(&o.ca, "registry-ca", "", "registry CA certificate file")
	fl.StringVar(&o.cert, "registry-cert", "", "registry client certificate file")
	fl.StringVar(&o.key, "registry-key", "", "registry client key file")
	fl.BoolVar(&o.insecure, "registry-insecure", false, "skip verifying the registry's certificate")
	fl.BoolVar(&o.current, "current", false, "also make it the current context")
	return cmd
}

func newCmdConfigDeleteContext(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:               "delete-context <name>",
		Short:             "Delete a context",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeContexts(f),
		RunE: func(_ *cobra.Command, args []string) error {
			return editConfig(f, func(file *config.File) error {
				if !file.Delete(args[0]) {
					return flagErrorf("context %q not found (have: %s)", args[0], strings.Join(file.Names(), ", "))
				}
				fmt.Fprintf(f.IOStreams.ErrOut, "Deleted context %q.\n", args[0])
				return nil
			})
		},
	}
}

func newCmdConfigView(f *Factory) *cobra.Command {
	var raw bool
	cmd := &cobra.Command{
		Use:   "view",
		Short: "Print the configuration, secrets masked",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			file, err := config.Load(f.ConfigPath())
			if err != nil {
				return err
			}
			if !raw {
				file = file.Masked()
			}
			b, err := file.Marshal()
			if err != nil {
				return err
			}
			_, err = f.IOStreams.Out.Write(b)
			return err
		},
	}
	cmd.Flags().BoolVar(&raw, "raw", false, "show secrets too")
	return cmd
}

func editConfig(f *Factory, edit func(*config.File) error) error {
	path := f.ConfigPath()
	file, err := config.Load(path)
	if err != nil {
		return err
	}
	if err := edit(file); err != nil {
		return err
	}
	return file.Save(path)
}

func completeContexts(f *Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		file, err := config.Load(f.ConfigPath())
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		return file.Names(), cobra.ShellCompDirectiveNoFileComp
	}
}

// orDash fills an empty table cell.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
