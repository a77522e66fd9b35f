package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/internal/iostreams"
	"github.com/evctl/evctl/internal/sandbox"
)

// DevOptions are `evctl dev`'s inputs.
type DevOptions struct {
	IO      *iostreams.IOStreams
	Sandbox sandbox.Options
	Now     string // pins the seeded history's anchor, for reproducible data
	EnvFile string // also write the export lines here once ready, for scripts
}

// NewCmdDev is `evctl dev`: a local cluster and registry, seeded.
func NewCmdDev(f *Factory, runF func(context.Context, *DevOptions) error) *cobra.Command {
	opts := &DevOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "dev [flags]",
		Short: "Run a local Kafka broker and Schema Registry, seeded with a bank domain",
		Long: `Run an embedded Kafka-protocol broker and Schema Registry on loopback,
seeded with an event-sourced bank domain, until interrupted:

  bank.account-events    6 partitions, keyed by account id; AccountOpened,
                         MoneyDeposited, MoneyWithdrawn and AccountClosed as
                         one Avro union of schema references under subject
                         bank.account-events-value; event-id, correlation-id
                         and event-type headers
  bank.account-balances  the live read model: compacted, one JSON state per
                         account, computed independently of any projection
  bank.notifications     plain JSON without a schema

The same --seed, --accounts, --events and --now give the same records.
Events spread over the 7 days before --now (default: the time dev starts).
dev prints export lines on stdout; paste them into another shell, and
evctl there talks to the sandbox.`,
		Example: `  $ evctl dev
  $ evctl dev --broker-port 0 --registry-port 0 --accounts 1000 --events 1000000
  $ evctl dev --env-file /tmp/evctl.env & until [ -f /tmp/evctl.env ]; do sleep 0.1; done; . /tmp/evctl.env`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Now != "" {
				t, err := time.Parse(time.RFC3339, opts.Now)
				if err != nil {
					return flagErrorf("invalid --now %q: want RFC3339, like 2026-11-20T12:00:00Z", opts.Now)
				}
				opts.Sandbox.Now = t
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return devRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Sandbox.Host, "host", "127.0.0.1", "address to listen on")
	fl.IntVar(&opts.Sandbox.BrokerPort, "broker-port", 9092, "broker port (0: a free one)")
	fl.IntVar(&opts.Sandbox.RegistryPort, "registry-port", 8081, "Schema Registry port (0: a free one)")
	fl.IntVar(&opts.Sandbox.Accounts, "accounts", 50, "bank accounts")
	fl.IntVar(&opts.Sandbox.Events, "events", 1000, "bank events in all")
	fl.Int64Var(&opts.Sandbox.Seed, "seed", 1, "random seed")
	fl.StringVar(&opts.Now, "now", "", "anchor of the seeded history, RFC3339 (default: now)")
	fl.StringVar(&opts.EnvFile, "env-file", "", "also write the export lines to this `file` once ready (removed on exit)")
	return cmd
}

func devRun(ctx context.Context, opts *DevOptions) error {
	errOut := opts.IO.ErrOut
	start := time.Now()
	if opts.Sandbox.Events >= 100_000 {
		opts.Sandbox.Logf = func(format string, args ...any) { fmt.Fprintf(errOut, format+"\n", args...) }
	}
	sb, err := sandbox.Start(ctx, opts.Sandbox)
	if err != nil {
		return fmt.Errorf("starting the sandbox: %w", err)
	}
	defer sb.Close()
	o := sb.Options()
	exports := fmt.Sprintf("export EVCTL_BROKERS=%s\nexport EVCTL_REGISTRY=%s\n", sb.Brokers(), sb.RegistryURL())
	fmt.Fprint(opts.IO.Out, exports)
	if opts.EnvFile != "" {
		// Written whole under a temporary name, so a script polling for the
		// file never reads half of it.
		tmp := opts.EnvFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(exports), 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, opts.EnvFile); err != nil {
			return err
		}
		defer os.Remove(opts.EnvFile)
	}
	fmt.Fprintf(errOut, "evctl dev: broker %s, registry %s; seeded %d events for %d accounts (seed %d) in %s. Ctrl-C stops.\n",
		sb.Brokers(), sb.RegistryURL(), o.Events, o.Accounts, o.Seed, time.Since(start).Round(time.Millisecond))
	<-ctx.Done()
	fmt.Fprintln(errOut, "evctl dev: stopped")
	// Stopping is what Ctrl-C is for here, not an interruption.
	return nil
}
