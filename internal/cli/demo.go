package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/internal/sandbox"
)

// DemoOptions are `evctl demo`'s inputs.
type DemoOptions struct {
	Factory  *Factory
	Accounts int
	Events   int
}

// NewCmdDemo is `evctl demo`: a guided tour on an in-process sandbox.
func NewCmdDemo(f *Factory, runF func(context.Context, *DemoOptions) error) *cobra.Command {
	opts := &DemoOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Walk through what evctl does, on an embedded sandbox",
		Long: `Start the sandbox of 'evctl dev' in-process on free ports and walk through
what evctl does on it, printing each step's command line before its
output. Nothing outside this process is touched.`,
		Example: `  $ evctl demo`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return demoRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().IntVar(&opts.Accounts, "accounts", 20, "bank accounts in the sandbox")
	cmd.Flags().IntVar(&opts.Events, "events", 300, "bank events in the sandbox")
	return cmd
}

// demoStep is one command of the tour and why a user would run it.
type demoStep struct {
	why  string
	args []string
}

func demoRun(ctx context.Context, opts *DemoOptions) error {
	f := opts.Factory
	ios := f.IOStreams
	p, ep := ios.Palette(), ios.ErrPalette()
	fmt.Fprintln(ios.ErrOut, ep.Dim("Starting an embedded Kafka broker and Schema Registry..."))
	sb, err := sandbox.Start(ctx, sandbox.Options{BrokerPort: 0, RegistryPort: 0, Accounts: opts.Accounts, Events: opts.Events, Now: f.Now().Truncate(time.Second)})
	if err != nil {
		return fmt.Errorf("starting the sandbox: %w", err)
	}
	defer sb.Close()
	fmt.Fprintf(ios.Out, "%s\n  export EVCTL_BROKERS=%s\n  export EVCTL_REGISTRY=%s\n",
		p.Bold("A sandbox runs with a seeded bank domain; the steps below talk to it as you would:"), sb.Brokers(), sb.RegistryURL())

	account := sandbox.AccountID(7, opts.Accounts)
	// From a checkout the tour names the spec users will find there; an
	// installed binary writes its embedded copy to a temporary file.
	spec := filepath.Join("testdata", "projections", "account-balance.yaml")
	if _, err := os.Stat(spec); err != nil {
		if spec, err = writeDemoProjection(); err != nil {
			return err
		}
		defer os.Remove(spec)
	}
	steps := []demoStep{
		{"What is on the cluster: topics, partitions, record counts, schemas.", []string{"topics"}},
		{"The latest events, decoded from Avro through the Schema Registry.", []string{"tail", sandbox.TopicAccountEvents, "-n", "5"}},
		{"One account's story: every event with its key, from the start.", []string{"tail", sandbox.TopicAccountEvents, "--from", "start", "--key", account}},
		{"Large withdrawals only, as JSON records for jq: a jq filter over the decoded value.", []string{"tail", sandbox.TopicAccountEvents, "--from", "start", "--type", "MoneyWithdrawn", "--filter", ".value.amount | tonumber > 500", "--max", "2", "-o", "json"}},
		{"The live read model: one JSON state per account, compacted.", []string{"tail", sandbox.TopicAccountBalances, "--from", "start", "--key", account}},
		{"A plain JSON topic without schemas decodes too.", []string{"tail", sandbox.TopicNotifications, "-n", "3"}},
		{"One account's history, folded by a projection spec: its state as it was after its first three events.",
			[]string{"history", sandbox.TopicAccountEvents, account, "--projection", spec, "--at-version", "3"}},
		{"Replay the whole stream, exactly once and byte for byte, into a fresh topic.",
			[]string{"replay", sandbox.TopicAccountEvents, "--to-topic", sandbox.TopicAccountEvents + ".v2", "--create"}},
		{"Rebuild the read model from the events with the projection, into a fresh compacted topic.",
			[]string{"replay", sandbox.TopicAccountEvents, "--projection", spec, "--to-topic", sandbox.TopicAccountBalances + ".rebuilt", "--create"}},
		{"The rebuilt state of the account, which equals the live one of step 5.", []string{"tail", sandbox.TopicAccountBalances + ".rebuilt", "--from", "start", "--key", account}},
	}
	for i, s := range steps {
		fmt.Fprintf(ios.Out, "\n%s %s\n%s\n", p.Bold(fmt.Sprintf("%d.", i+1)), s.why, p.Cyan("$ evctl "+shellJoin(s.args)))
		child := NewFactory(f.Version, ios)
		child.Now = f.Now
		// The tour talks to its sandbox only, whatever the user's
		// environment and contexts say.
		env := map[string]string{"EVCTL_BROKERS": sb.Brokers(), "EVCTL_REGISTRY": sb.RegistryURL(), "EVCTL_CONFIG": "/dev/null"}
		child.Getenv = func(k string) string { return env[k] }
		root := NewRootCmd(child)
		root.SetArgs(s.args)
		if err := root.ExecuteContext(ctx); err != nil {
			return fmt.Errorf("demo step %d (evctl %s): %w", i+1, shellJoin(s.args), err)
		}
	}
	fmt.Fprintf(ios.Out, "\n%s\n  evctl dev            # the same sandbox, kept running for your own commands\n  evctl tail --help    # positions, filters, output formats\n", p.Bold("Next:"))
	return nil
}

// writeDemoProjection puts the bank's account-balance projection where
// the tour's commands can read it, as a user would keep theirs in a file.
func writeDemoProjection() (string, error) {
	f, err := os.CreateTemp("", "account-balance-*.yaml")
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Write(sandbox.AccountBalanceProjection); err != nil {
		return "", err
	}
	return f.Name(), nil
}

// shellJoin quotes arguments the way a user would type them.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"|$&;<>*?()[]{}!") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
