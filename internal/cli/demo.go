package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/internal/kafka"
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
output: decoding Avro, Protobuf and plain JSON; histories, replays and
projections; verify as a CI gate; the schema registry's subjects, a
candidate schema checked against every stored record (one that passes,
one that fails), a registration and a field-by-field diff. It ends with
the sandbox in motion, as 'evctl dev --live' runs it: a projector that
falls behind while paused, catches up once resumed, and passes verify
while the writes go on. Nothing outside this process is touched. Outside
a checkout of evctl the projection spec and the candidate schemas the
steps use are temporary copies, so the lines name them by their base
names: account-balance.yaml, which 'evctl dev --write-spec .' writes,
and testdata/schemas/evolution's MoneyDeposited-v2.avsc and
MoneyDeposited-branch.avsc.`,
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
	// before runs ahead of the step: the eventual-consistency steps set
	// the sandbox in motion and pause or resume its projector.
	before func(context.Context) error
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
	files := &demoFiles{names: map[string]string{}}
	defer files.Close()
	spec, err := files.path(filepath.Join("testdata", "projections", projectionSpecFile), sandbox.AccountBalanceProjection)
	if err != nil {
		return err
	}
	depositV2, err := files.embedded(filepath.Join("testdata", "schemas", "evolution", "MoneyDeposited-v2.avsc"), "evolution/MoneyDeposited-v2.avsc")
	if err != nil {
		return err
	}
	depositBranch, err := files.embedded(filepath.Join("testdata", "schemas", "evolution", "MoneyDeposited-branch.avsc"), "evolution/MoneyDeposited-branch.avsc")
	if err != nil {
		return err
	}
	steps := []demoStep{
		{why: "What is on the cluster: topics, partitions, record counts, schemas.", args: []string{"topics"}},
		{why: "The latest events, decoded from Avro through the Schema Registry.", args: []string{"tail", sandbox.TopicAccountEvents, "-n", "5"}},
		{why: "One account's story: every event with its key, from the start.", args: []string{"tail", sandbox.TopicAccountEvents, "--from", "start", "--key", account}},
		{why: "Large withdrawals only, as JSON records for jq: a jq filter over the decoded value.", args: []string{"tail", sandbox.TopicAccountEvents, "--from", "start", "--type", "MoneyWithdrawn", "--filter", ".value.amount | tonumber > 500", "--max", "2", "-o", "json"}},
		{why: "The live read model: one JSON state per account, compacted.", args: []string{"tail", sandbox.TopicAccountBalances, "--from", "start", "--key", account}},
		{why: "A plain JSON topic without schemas decodes too.", args: []string{"tail", sandbox.TopicNotifications, "-n", "3"}},
		{why: "Protobuf decodes too, as canonical JSON: transfers, whose amount is a bank.Money from an imported, referenced schema.", args: []string{"tail", sandbox.TopicTransfers, "-n", "2"}},
		{why: "One account's history, folded by a projection spec: its state as it was after its first three events.", args: []string{"history", sandbox.TopicAccountEvents, account, "--projection", spec, "--at-version", "3"}},
		{why: "Replay the whole stream, exactly once and byte for byte, into a fresh topic.", args: []string{"replay", sandbox.TopicAccountEvents, "--to-topic", sandbox.TopicAccountEvents + ".v2", "--create"}},
		{why: "Rebuild the read model from the events with the projection, into a fresh compacted topic.", args: []string{"replay", sandbox.TopicAccountEvents, "--projection", spec, "--to-topic", sandbox.TopicAccountBalances + ".rebuilt", "--create"}},
		{why: "The rebuilt state of the account, which equals the live one of step 5.", args: []string{"tail", sandbox.TopicAccountBalances + ".rebuilt", "--from", "start", "--key", account}},
		{why: "The CI gate in one command: rebuild the projection in memory and compare it with the live read model.", args: []string{"verify", "--source", sandbox.TopicAccountEvents, "--projection", spec, "--against", sandbox.TopicAccountBalances}},
		{why: "Now a cluster whose projector has a bug (evctl dev --drift 2): verify fails, exit 1, and names the accounts and fields.", args: []string{"verify", "--source", sandbox.TopicAccountEvents, "--projection", spec, "--against", sandbox.TopicAccountBalances}, drifted: true, exit: ExitNegative},
		{why: "The registry's subjects: Avro, Protobuf with its import, JSON Schema, and the topics that use them.", args: []string{"schema", "subjects"}},
		{why: "Before a new version of MoneyDeposited ships, check it against the registry and against every deposit stored (a record-name subject: its records are found by their schema ids). A new field with a default reads them all.", args: []string{"schema", "check", sandbox.SubjectMoneyDeposited, depositV2}},
		{why: "So it is registered, as version 2.", args: []string{"schema", "register", sandbox.SubjectMoneyDeposited, depositV2}},
		{why: "What changed between the versions, field by field (exit 1: they differ, as diff(1) says).", args: []string{"schema", "diff", sandbox.SubjectMoneyDeposited, "1", "2"}, exit: ExitNegative},
		{why: "A required field without a default would break every stored deposit: the registry refuses it, and the census names the first record it could not read.", args: []string{"schema", "check", sandbox.SubjectMoneyDeposited, depositBranch}, exit: ExitNegative},
	}
	motion := &demoMotion{sb: sb}
	defer motion.Close()
	steps = append(steps, motion.steps(spec)...)
	var drifted *sandbox.Sandbox
	for i, s := range steps {
		if s.before != nil {
			if err := s.before(ctx); err != nil {
				return fmt.Errorf("demo step %d: %w", i+1, err)
			}
		}
		shown := make([]string, len(s.args))
		for j, a := range s.args {
			shown[j] = files.shown(a)
		}
		fmt.Fprintf(ios.Out, "\n%s %s\n%s\n", p.Bold(fmt.Sprintf("%d.", i+1)), s.why, p.Cyan("$ evctl "+shellJoin(shown)))
		if note := files.note(s.args); note != "" {
			fmt.Fprintln(ios.Out, p.Dim(note))
		}
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
	fmt.Fprintf(ios.Out, "\n%s\n  evctl dev                          # the same sandbox, kept running for your own commands\n  evctl dev --live                   # ... and kept moving, with a projector that lags\n  evctl browse bank.account-events   # scroll, filter and inspect its records in a terminal UI\n  evctl tail --help                  # positions, filters, output formats\n", p.Bold("Next:"))
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

// demoMotion is the tour's eventual-consistency part: the sandbox set in
// motion as evctl dev --live does, its projector paused and resumed.
type demoMotion struct {
	sb   *sandbox.Sandbox
	live *devLive
}

// The tour's write side and projector: quick, and the lag still shows.
const (
	demoRate       = 50 // events a second
	demoDelay      = 500 * time.Millisecond
	demoPausedLag  = 10 // events the paused projector falls behind before lag shows it
	demoPausedWait = time.Minute
)

func (m *demoMotion) steps(spec string) []demoStep {
	return []demoStep{
		{why: fmt.Sprintf("The bank in motion, as 'evctl dev --live' runs it: a write side keeps appending events (%d a second), and a projector service, consumer group %s, keeps the read model %s behind. Paused (kill -USR1 on evctl dev), it falls behind while the events keep coming: lag shows by how many records, per partition, and how old its oldest unconsumed event is (in seconds).",
			demoRate, sandbox.ProjectorGroup, demoDelay),
			args: []string{"lag", sandbox.ProjectorGroup}, before: m.pause},
		{why: "Resumed (kill -USR2), it catches up with everything written before the wait started, while the writes go on: the step a CI job waits on before it verifies.",
			args: []string{"wait", "--group", sandbox.ProjectorGroup, "--caught-up", "--for", "1m"}, before: m.resume},
		{why: "The gate while the writes go on: verify pins the events at what the projector group has committed, and the read model as of then, so a projector that is behind, not wrong, passes.",
			args: []string{"verify", "--source", sandbox.TopicAccountEvents, "--projection", spec, "--against", sandbox.TopicAccountBalances, "--as-of-group", sandbox.ProjectorGroup}},
	}
}

// pause sets the sandbox in motion, pauses its projector and waits until
// it is demoPausedLag events behind.
func (m *demoMotion) pause(ctx context.Context) error {
	cfg := kafka.Config{Brokers: m.sb.Brokers()}
	var err error
	m.live, err = startDevLive(ctx, DevLiveOptions{On: true, Rate: demoRate, Delay: demoDelay, Paused: true}, m.sb, cfg, io.Discard)
	if err != nil {
		return err
	}
	m.live.run()
	m.live.projector.Pause()
	if err := m.live.projector.WaitPaused(ctx); err != nil {
		return err
	}
	admin, err := kafka.NewAdmin(cfg)
	if err != nil {
		return err
	}
	defer admin.Close()
	deadline := time.Now().Add(demoPausedWait)
	for {
		lags, err := admin.Lag(ctx, []string{sandbox.ProjectorGroup}, []string{sandbox.TopicAccountEvents})
		if err != nil {
			return err
		}
		if len(lags) == 1 && lags[0].Lag() >= demoPausedLag {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the paused projector is not %d events behind after %s", demoPausedLag, demoPausedWait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (m *demoMotion) resume(context.Context) error {
	m.live.projector.Resume()
	return nil
}

// Close stops the write side and the projector.
func (m *demoMotion) Close() {
	if m.live != nil {
		m.live.Close()
	}
}

// demoFiles are the files the tour's steps name: a checkout's own, or
// outside one the copies the binary carries, written to a temporary
// directory that is gone when the tour ends; the lines then name them as
// evctl dev --write-spec writes the spec, and by their base names.
type demoFiles struct {
	dir   string            // "" until a copy is written
	names map[string]string // a copy's path → the name the lines show
	noted bool
}

// path returns rel when it exists (a checkout), else a copy of content.
func (f *demoFiles) path(rel string, content []byte) (string, error) {
	if _, err := os.Stat(rel); err == nil {
		return rel, nil
	}
	if f.dir == "" {
		dir, err := os.MkdirTemp("", "evctl-demo-")
		if err != nil {
			return "", err
		}
		f.dir = dir
	}
	name := filepath.Base(rel)
	p := filepath.Join(f.dir, name)
	if err := os.WriteFile(p, content, 0o644); err != nil {
		return "", err
	}
	f.names[p] = name
	return p, nil
}

// embedded is path with the content of name in sandbox.Schemas().
func (f *demoFiles) embedded(rel, name string) (string, error) {
	content, err := fs.ReadFile(sandbox.Schemas(), name)
	if err != nil {
		return "", err
	}
	return f.path(rel, content)
}

// shown is how the lines name arg.
func (f *demoFiles) shown(arg string) string {
	if name, ok := f.names[arg]; ok {
		return name
	}
	return arg
}

// note says once, at the first step that names the projection spec's
// copy, how to get the file.
func (f *demoFiles) note(args []string) string {
	for _, a := range args {
		if f.names[a] == projectionSpecFile && !f.noted {
			f.noted = true
			return "(evctl dev --write-spec . writes " + projectionSpecFile + ", the spec these steps use, into the current directory)"
		}
	}
	return ""
}

// Close removes the copies.
func (f *demoFiles) Close() {
	if f.dir != "" {
		_ = os.RemoveAll(f.dir)
	}
}
