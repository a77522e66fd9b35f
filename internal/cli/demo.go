package cli

import (
	"context"
	"errors"
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
	// drifted runs the step against a second sandbox whose read model a
	// buggy projector left wrong; exit is the status the step must end with.
	drifted bool
	exit    int
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
	spec := filepath.Join("testdata", "projections", projectionSpecFile)
	if _, err := os.Stat(spec); err != nil {
		dir, err := os.MkdirTemp("", "evctl-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if spec, err = writeProjectionSpec(dir); err != nil {
			return err
		}
	}
	steps := []demoStep{
		{why: "What is on the cluster: topics, partitions, record counts, schemas.", args: []string{"topics"}},
		{why: "The latest events, decoded from Avro through the Schema Registry.", args: []string{"tail", sandbox.TopicAccountEvents, "-n", "5"}},
		{why: "One account's story: every event with its key, from the start.", args: []string{"tail", sandbox.TopicAccountEvents, "--from", "start", "--key", account}},
		{why: "Large withdrawals only, as JSON records for jq: a jq filter over the decoded value.", args: []string{"tail", sandbox.TopicAccountEvents, "--from", "start", "--type", "MoneyWithdrawn", "--filter", ".value.amount | tonumber > 500", "--max", "2", "-o", "json"}},
		{why: "The live read model: one JSON state per account, compacted.", args: []string{"tail", sandbox.TopicAccountBalances, "--from", "start", "--key", account}},
		{why: "A plain JSON topic without schemas decodes too.", args: []string{"tail", sandbox.TopicNotifications, "-n", "3"}},
		{why: "One account's history, folded by a projection spec: its state as it was after its first three events.", args: []string{"history", sandbox.TopicAccountEvents, account, "--projection", spec, "--at-version", "3"}},
		{why: "Replay the whole stream, exactly once and byte for byte, into a fresh topic.", args: []string{"replay", sandbox.TopicAccountEvents, "--to-topic", sandbox.TopicAccountEvents + ".v2", "--create"}},
		{why: "Rebuild the read model from the events with the projection, into a fresh compacted topic.", args: []string{"replay", sandbox.TopicAccountEvents, "--projection", spec, "--to-topic", sandbox.TopicAccountBalances + ".rebuilt", "--create"}},
		{why: "The rebuilt state of the account, which equals the live one of step 5.", args: []string{"tail", sandbox.TopicAccountBalances + ".rebuilt", "--from", "start", "--key", account}},
		{why: "The CI gate in one command: rebuild the projection in memory and compare it with the live read model.", args: []string{"verify", "--source", sandbox.TopicAccountEvents, "--projection", spec, "--against", sandbox.TopicAccountBalances}},
		{why: "Now a cluster whose projector has a bug (evctl dev --drift 2): verify fails, exit 1, and names the accounts and fields.", args: []string{"verify", "--source", sandbox.TopicAccountEvents, "--projection", spec, "--against", sandbox.TopicAccountBalances}, drifted: true, exit: ExitNegative},
	}
	var drifted *sandbox.Sandbox
	for i, s := range steps {
		fmt.Fprintf(ios.Out, "\n%s %s\n%s\n", p.Bold(fmt.Sprintf("%d.", i+1)), s.why, p.Cyan("$ evctl "+shellJoin(s.args)))
		target := sb
		if s.drifted {
			if drifted == nil {
				drifted, err = sandbox.Start(ctx, sandbox.Options{Accounts: opts.Accounts, Events: opts.Events, Drift: 2, Now: f.Now().Truncate(time.Second)})
				if err != nil {
					return fmt.Errorf("starting the drifted sandbox: %w", err)
				}
				defer drifted.Close()
			}
			target = drifted
		}
		child := NewFactory(f.Version, ios)
		child.Now = f.Now
		// The tour talks to its sandbox only, whatever the user's
		// environment and contexts say.
		env := map[string]string{"EVCTL_BROKERS": target.Brokers(), "EVCTL_REGISTRY": target.RegistryURL(), "EVCTL_CONFIG": "/dev/null"}
		child.Getenv = func(k string) string { return env[k] }
		root := NewRootCmd(child)
		root.SetArgs(s.args)
		err := root.ExecuteContext(ctx)
		var exitErr *ExitError
		switch {
		case err == nil && s.exit == 0:
		case errors.As(err, &exitErr) && exitErr.Code == s.exit:
			fmt.Fprintln(ios.Out, p.Dim(fmt.Sprintf("(exit status %d, as a CI job would see it)", s.exit)))
		case err != nil:
			return fmt.Errorf("demo step %d (evctl %s): %w", i+1, shellJoin(s.args), err)
		default:
			return fmt.Errorf("demo step %d (evctl %s) passed, but should have found differences", i+1, shellJoin(s.args))
		}
	}
	fmt.Fprintf(ios.Out, "\n%s\n  evctl dev                          # the same sandbox, kept running for your own commands\n  evctl browse bank.account-events   # scroll, filter and inspect its records in a terminal UI\n  evctl tail --help                  # positions, filters, output formats\n", p.Bold("Next:"))
	return nil
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
