// Package cli is evctl's command tree: one file per command, each with an
// XOptions struct, NewCmdX(f, runF) and xRun(ctx, opts).
package cli

import (
	"context"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/internal/iostreams"
)

// Main runs evctl and returns its exit status; main passes it to os.Exit.
func Main(version string) int {
	ios := iostreams.System()
	f := NewFactory(resolveVersion(version), ios)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := NewRootCmd(f)
	cmd, err := root.ExecuteContextC(ctx)
	var command string
	if cmd != nil {
		command = cmd.CommandPath()
	}
	return exitStatus(err, ctx, ios.ErrOut, command)
}

// resolveVersion prefers the version stamped by the linker, then the
// module version from build info (go install ...@v1.2.3).
func resolveVersion(v string) string {
	if v != "" && v != "dev" {
		return v
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// NewRootCmd builds the whole command tree around f.
func NewRootCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "evctl <command> [flags]",
		Short: "Inspect, decode and replay Kafka event streams",
		Long: `evctl inspects and replays event streams on Kafka: it tails and decodes
topics (Avro and JSON Schema through a Confluent Schema Registry, plain
JSON, text, bytes), follows one aggregate's history, replays histories
into fresh topics and projections, and checks the result: diff and verify
compare read models, check lints event streams, lag and wait watch
consumer groups.

Connection: --brokers (EVCTL_BROKERS), --registry (EVCTL_REGISTRY), -X for
librdkafka properties, or a named context (evctl config). Flags beat the
environment, which beats the current context.

Exit status: 0 ok, 1 a negative answer (diff or verify found differences,
check found problems, wait timed out, --strict met undecodable records),
2 usage errors and failures, 130 interrupted.`,
		Example: `  $ evctl demo
  $ evctl dev
  $ evctl topics
  $ evctl tail bank.account-events -n 5
  $ evctl tail bank.account-events --from start --to end -o json | jq .value
  $ evctl replay bank.account-events --to-topic bank.account-events.v2 --create
  $ evctl verify --source bank.account-events --projection spec.yaml --against bank.account-balances`,
		Version:       f.Version,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	cmd.SetOut(f.IOStreams.Out)
	cmd.SetErr(f.IOStreams.ErrOut)
	cmd.SetIn(f.IOStreams.In)
	cmd.SetFlagErrorFunc(flagError)

	c := f.Conn
	pf := cmd.PersistentFlags()
	color := "auto"
	pf.StringVar(&color, "color", color, "colour output: {auto|always|never} (auto: on a terminal, unless NO_COLOR is set)")
	_ = cmd.RegisterFlagCompletionFunc("color", cobra.FixedCompletions(iostreams.ColorModes, cobra.ShellCompDirectiveNoFileComp))
	cmd.PersistentPreRunE = func(*cobra.Command, []string) error {
		if err := f.IOStreams.SetColorMode(color); err != nil {
			return &FlagError{err: err}
		}
		return nil
	}
	pf.StringVarP(&c.Brokers, "brokers", "b", "", "Kafka bootstrap brokers, host:port[,host:port] (env EVCTL_BROKERS)")
	pf.StringVarP(&c.Registry, "registry", "r", "", "Schema Registry URL (env EVCTL_REGISTRY)")
	pf.StringArrayVarP(&c.Props, "property", "X", nil, "librdkafka property `key=value` (repeatable), as kcat -X")
	pf.DurationVar(&c.Timeout, "timeout", c.Timeout, "bound on every wait for a broker or the registry")
	pf.StringVar(&c.Context, "context", "", "use this named context instead of the current one")
	pf.StringVar(&c.RegistryUser, "registry-user", "", "Schema Registry basic-auth user (env EVCTL_REGISTRY_USER)")
	pf.StringVar(&c.RegistryPassword, "registry-password", "", "Schema Registry basic-auth password (env EVCTL_REGISTRY_PASSWORD)")
	pf.StringVar(&c.RegistryToken, "registry-token", "", "Schema Registry bearer token (env EVCTL_REGISTRY_TOKEN)")
	pf.StringVar(&c.RegistryCA, "registry-ca", "", "CA certificate file for the Schema Registry's TLS")
	pf.StringVar(&c.RegistryCert, "registry-cert", "", "client certificate file for the Schema Registry")
	pf.StringVar(&c.RegistryKey, "registry-key", "", "client key file for the Schema Registry")
	pf.BoolVar(&c.RegistryInsecure, "registry-insecure", false, "skip verifying the Schema Registry's certificate")

	cmd.AddCommand(
		NewCmdTail(f, nil),
		NewCmdBrowse(f, nil),
		NewCmdHistory(f, nil),
		NewCmdReplay(f, nil),
		NewCmdDiff(f, nil),
		NewCmdVerify(f, nil),
		NewCmdCheck(f, nil),
		NewCmdTopics(f, nil),
		NewCmdLag(f, nil),
		NewCmdWait(f, nil),
		NewCmdDecode(f, nil),
		NewCmdProduce(f, nil),
		NewCmdSchema(f),
		NewCmdDev(f, nil),
		NewCmdDemo(f, nil),
		NewCmdConfig(f),
		NewCmdCompletion(f),
		NewCmdVersion(f, nil),
		NewCmdGenDocs(f, nil),
	)
	registerCompletions(f, cmd)
	return cmd
}

// streamingMemoryLimit is the Go heap a streaming command may grow to
// before it collects garbage; librdkafka's own queue comes on top.
const streamingMemoryLimit = 48 << 20

// tuneGCForStreaming suits the garbage collector to commands that stream
// records through a small live heap (tail, a topic-to-topic replay):
// collect by a memory limit instead of by heap growth. The default
// collected every few megabytes and took a third of tail's CPU; this made
// tail -o json of 1M bank events 6.3 s → 3.8 s at 129 MB peak RSS
// (bench/tail.sh). GOGC or GOMEMLIMIT in the environment win.
func tuneGCForStreaming(getenv func(string) string) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(streamingMemoryLimit)
}

// tuneGCForCopies is tuneGCForStreaming for n copiers in one process
// (replay --parallel), whose live heap is not small: each holds its open
// transaction's records to write them again after an abort, 13 MB for
// 20,000 bank events and up to 64 MB. Each collection sets the next one
// n*streamingMemoryLimit past the live heap. Under a fixed limit of 48
// MiB a copier, two copies of 1M bank events with --checkpoint-every
// 100000 (two 64 MB logs) collected without end: 11-20 CPU-s against
// 8-10 with the headroom kept (7-9 at the default 20,000).
func tuneGCForCopies(getenv func(string) string, n int) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return
	}
	copyGCOnce.Do(func() { startCopyGC(uint64(max(n, 1)) * streamingMemoryLimit) })
}

var copyGCOnce sync.Once

// startCopyGC collects by a memory limit that each collection sets
// headroom past the live heap.
func startCopyGC(headroom uint64) (stop func()) {
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(int64(headroom))
	return afterEachGC(func(live uint64) { debug.SetMemoryLimit(int64(live + headroom)) })
}

// tuneGCForFolds suits the garbage collector to commands whose live heap
// grows with the data (projection folds keep every aggregate's state):
// replay --projection and verify, one fold with one memory budget. While
// the live heap is small the heap may grow to 5x it before a collection
// (GOGC 400: a fold of the bank events spent 6.2 µs an event instead of
// 7.5-9 µs, internal/replay BenchmarkFold); as it grows, the growth is
// held to foldHeadroom, down to the default 2x. A flat GOGC 400 peaked at
// 655 MB for 200k aggregates where the default took 336 MB. GOGC or
// GOMEMLIMIT in the environment win.
func tuneGCForFolds(getenv func(string) string) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return
	}
	foldGCOnce.Do(func() { startFoldGC(foldHeadroom) })
}

// foldHeadroom is how much a fold's heap may grow past its live data
// before a collection, once that is more than the default allows.
const foldHeadroom = 128 << 20

var foldGCOnce sync.Once

// foldGCPercent is GOGC for a live heap of live bytes: 400 while
// live*4 fits the headroom, down to 100 (the default) once live does.
func foldGCPercent(live, headroom uint64) int {
	if live == 0 {
		return 400
	}
	return int(min(max(headroom*100/live, 100), 400))
}

// startFoldGC sets GOGC from the live heap after every collection until
// stop is called.
func startFoldGC(headroom uint64) (stop func()) {
	debug.SetGCPercent(foldGCPercent(0, headroom))
	return afterEachGC(func(live uint64) { debug.SetGCPercent(foldGCPercent(live, headroom)) })
}

// afterEachGC calls f with the live heap after every collection (a
// finalizer runs once per cycle and re-arms itself) until stop is called.
func afterEachGC(f func(live uint64)) (stop func()) {
	var stopped atomic.Bool
	var arm func()
	arm = func() {
		sentinel := new([16]byte)
		runtime.SetFinalizer(sentinel, func(*[16]byte) {
			if stopped.Load() {
				return
			}
			sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
			metrics.Read(sample)
			if sample[0].Value.Kind() == metrics.KindUint64 {
				f(sample[0].Value.Uint64())
			}
			arm()
		})
	}
	arm()
	return func() { stopped.Store(true) }
}
