package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/internal/iostreams"
	"github.com/evctl/evctl/internal/kafka"
	"github.com/evctl/evctl/internal/sandbox"
)

// DevOptions are `evctl dev`'s inputs.
type DevOptions struct {
	IO      *iostreams.IOStreams
	Sandbox sandbox.Options
	Now     string // pins the seeded history's anchor, for reproducible data
	EnvFile string // also write the export lines here once ready, for scripts
	// WriteSpec is a directory to write the bank's projection spec into,
	// so a recipe needs nothing but the binary.
	WriteSpec string
	Live      DevLiveOptions
	rate      string // --rate as given
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
  bank.transfers         Protobuf bank.transfers.TransferRequested (subject
                         bank.transfers-value), whose amount is a bank.Money
                         from the referenced import bank/money.proto: one
                         per "transfer out" withdrawal, keyed by account,
                         sharing its correlation id
  bank.customer-profiles JSON Schema CustomerProfile (subject
                         bank.customer-profiles-value): one per account,
                         written when it opens

--drift N leaves N accounts' live balances in bank.account-balances wrong,
as a buggy projector would (a missed event, an event applied twice, a lost
cent); the events stay right, so evctl verify finds exactly those N.
--faults also seeds bank.account-events.faulty (6 partitions, the same
schemas, subject bank.account-events.faulty-value) with a small history and
one instance of each problem evctl check finds: a version gap (acct-0007),
a duplicate version (acct-0008), a duplicate event id (acct-0009), an
account on two partitions (acct-0010), an event after AccountClosed
(acct-0011), a timestamp going backwards (acct-0012), an undecodable record
(acct-0013), a record without a schema (acct-0014), an unknown event type,
InterestAccrued (acct-0015), and a negative balance (acct-0016).

--write-spec DIR writes account-balance.yaml, the projection spec whose
rebuild of bank.account-events equals bank.account-balances, into DIR
before the sandbox is ready (the binary carries it: a CI job needs no
checkout of evctl).

--kafka host:port,... seeds an existing Kafka cluster (Apache Kafka, Redpanda,
...; PLAINTEXT) instead of starting the embedded broker, and serves the
embedded registry as usual. The bank topics must not exist there yet; they
are created with the cluster's default replication factor and without time
retention (the events are dated in the past), and stay when dev stops.

The same --seed, --accounts, --events and --now give the same records.
Events spread over the 7 days before --now (default: the time dev starts).
dev prints export lines on stdout; paste them into another shell, and
evctl there talks to the sandbox. Ctrl-C or SIGTERM stops it (with
--live, the projector first commits what it has applied): it removes
--env-file and exits 0, as stopping is what it runs until.

` + devLiveHelp,
		Example: `  $ evctl dev
  $ evctl dev --broker-port 0 --registry-port 0 --accounts 1000 --events 1000000
  $ evctl dev --drift 3 --faults
  $ evctl dev --kafka localhost:9092 --registry-port 0
  $ evctl dev --write-spec . # then: evctl verify --projection account-balance.yaml ...
  $ evctl dev --live --rate 50/s --projector-delay 5s
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
			// Every account has an event, so there are no more accounts than events.
			accounts := min(opts.Sandbox.Accounts, opts.Sandbox.Events)
			if d := opts.Sandbox.Drift; d < 0 || accounts > 0 && d > accounts {
				return flagErrorf("invalid --drift %d: want 0 to %d, the number of accounts", d, max(accounts, 0))
			}
			if opts.Sandbox.Brokers != "" && cmd.Flags().Changed("broker-port") {
				return flagErrorf("--broker-port is the embedded broker's; --kafka names an existing cluster instead")
			}
			if err := validateDevLive(cmd, &opts.Live, opts.rate); err != nil {
				return err
			}
			if opts.Live.On && opts.Sandbox.Now.After(time.Now()) {
				return flagErrorf("--live writes events at the current time, after the seeded history: --now %s must not be in the future", opts.Now)
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
	fl.StringVar(&opts.Sandbox.Brokers, "kafka", "", "seed this existing Kafka cluster (`host:port,...`) instead of starting a broker")
	fl.IntVar(&opts.Sandbox.Accounts, "accounts", 50, "bank accounts")
	fl.IntVar(&opts.Sandbox.Events, "events", 1000, "bank events in all")
	fl.Int64Var(&opts.Sandbox.Seed, "seed", 1, "random seed")
	fl.StringVar(&opts.Now, "now", "", "anchor of the seeded history, RFC3339 (default: now)")
	fl.IntVar(&opts.Sandbox.Drift, "drift", 0, "leave this many accounts' live balances wrong, for evctl verify to find")
	fl.BoolVar(&opts.Sandbox.Faults, "faults", false, "also seed bank.account-events.faulty, one of each problem evctl check finds")
	fl.StringVar(&opts.EnvFile, "env-file", "", "also write the export lines to this `file` once ready (removed on exit)")
	fl.StringVar(&opts.WriteSpec, "write-spec", "", "write the bank's projection spec, account-balance.yaml, into this `directory`")
	addDevLiveFlags(cmd, &opts.Live, &opts.rate)
	return cmd
}

// maxListedDrift is how many drifted accounts dev names when it starts.
const maxListedDrift = 10

func devRun(ctx context.Context, opts *DevOptions) error {
	errOut := opts.IO.ErrOut
	start := time.Now()
	if opts.WriteSpec != "" {
		if _, err := writeProjectionSpec(opts.WriteSpec); err != nil {
			return err
		}
	}
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
	var lv *devLive
	if opts.Live.On {
		if lv, err = startDevLive(ctx, opts.Live, sb, kafka.Config{Brokers: sb.Brokers()}, errOut); err != nil {
			return err
		}
		defer lv.Close()
		exports += fmt.Sprintf("export EVCTL_DEV_PID=%d\n", os.Getpid())
	}
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
	var extras string
	if o.Drift > 0 {
		extras += fmt.Sprintf("; %d drifted balances", o.Drift)
		if o.Drift <= maxListedDrift {
			extras += " (" + strings.Join(sandbox.DriftedAccounts(o), " ") + ")"
		}
	}
	if o.Faults {
		extras += fmt.Sprintf("; %d faults in %s", len(sandbox.Faults(o)), sandbox.FaultsTopic)
	}
	broker := "broker " + sb.Brokers()
	if o.Brokers != "" {
		broker = "Kafka at " + sb.Brokers() + " (its seeded topics stay when dev stops)"
	}
	fmt.Fprintf(errOut, "evctl dev: %s, registry %s; seeded %d events for %d accounts (seed %d)%s in %s. Ctrl-C stops.\n",
		broker, sb.RegistryURL(), o.Events, o.Accounts, o.Seed, extras, time.Since(start).Round(time.Millisecond))
	if err := lv.wait(ctx, errOut); err != nil {
		return err
	}
	fmt.Fprintln(errOut, "evctl dev: stopped")
	// Stopping is what Ctrl-C is for here, not an interruption.
	return nil
}

// projectionSpecFile is the name the bank's projection spec is written as.
const projectionSpecFile = "account-balance.yaml"

// writeProjectionSpec writes the bank's projection spec, embedded in the
// binary, into dir and returns its path.
func writeProjectionSpec(dir string) (string, error) {
	path := filepath.Join(dir, projectionSpecFile)
	if err := os.WriteFile(path, sandbox.AccountBalanceProjection, 0o644); err != nil {
		return "", fmt.Errorf("cannot write the projection spec: %w; check --write-spec", err)
	}
	return path, nil
}
