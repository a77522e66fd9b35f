package main

// Chaos commands for the exactly-once tests of `evctl replay --to-topic`
// (testdata/script/replay_kill.txtar, replay_group.txtar): they run evctl
// as subprocesses, kill or interrupt them at chosen points, and compare the
// destination with the source record by record through franz-go, a client
// evctl does not use, reading read_committed.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	// pollEvery is how often the chaos commands look at the cluster while
	// they wait for a condition.
	pollEvery = 5 * time.Millisecond
	// runDeadline bounds every evctl run the chaos commands start: longer
	// is a hang.
	runDeadline = 60 * time.Second
)

// evctlProc is an evctl subprocess whose stderr goes to a file in the
// script's work directory.
type evctlProc struct {
	name       string // as the logs name it: "round 2", "member 1"
	args       []string
	cmd        *exec.Cmd
	stderrPath string
	done       chan struct{}
	err        error // cmd.Wait's, once done is closed
	killed     bool  // SIGKILLed by us
	probe      *probe
}

// startEvctl starts the script's evctl (the test binary) with args and the
// script's connection environment.
func startEvctl(ts *testscript.TestScript, name, stderrFile string, args []string) *evctlProc {
	cmd := scriptCommand(ts, "evctl", args...)
	p := &evctlProc{name: name, args: args, cmd: cmd, stderrPath: ts.MkAbs(stderrFile), done: make(chan struct{})}
	f, err := os.Create(p.stderrPath)
	ts.Check(err)
	cmd.Stderr = f
	if err := cmd.Start(); err != nil {
		f.Close()
		ts.Fatalf("start evctl: %v", err)
	}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	ts.Defer(func() { p.kill(); <-p.done })
	return p
}

func (p *evctlProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill SIGKILLs the process unless it has exited.
func (p *evctlProc) kill() {
	if !p.exited() {
		p.killed = true
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	}
}

func (p *evctlProc) exitCode() int {
	if p.err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return -1000
}

func (p *evctlProc) stderr() string {
	b, _ := os.ReadFile(p.stderrPath)
	return string(b)
}

// waitExit waits for the process to exit, killing it (and failing) after
// the deadline.
func (p *evctlProc) waitExit(ts *testscript.TestScript, deadline time.Duration) {
	select {
	case <-p.done:
	case <-time.After(deadline):
		p.kill()
		<-p.done
		diag := ""
		if p.probe != nil {
			diag = "\n" + p.probe.diagnose()
		}
		ts.Fatalf("HANG: %s (evctl %s) did not finish within %s; its stderr:\n%s%s", p.name, strings.Join(p.args, " "), deadline, p.stderr(), diag)
	}
}

// requireExit fails unless the process exited with want.
func (p *evctlProc) requireExit(ts *testscript.TestScript, want int) {
	if got := p.exitCode(); got != want {
		diag := ""
		if p.probe != nil {
			diag = "\n" + p.probe.diagnose()
		}
		ts.Fatalf("%s (evctl %s) exited %d, want %d; its stderr:\n%s%s", p.name, strings.Join(p.args, " "), got, want, p.stderr(), diag)
	}
}

// probe watches a source, a destination and a group through franz-go.
type probe struct {
	cl       *kgo.Client
	src, dst string
	group    string
	srcParts []int32
	total    int64 // records in the source (it is not transactional)
	lastErr  error
	dstParts []int32
}

func newProbe(ts *testscript.TestScript, src, dst, group string) *probe {
	cl, err := kgo.NewClient(kgo.SeedBrokers(scriptBrokers(ts)...))
	ts.Check(err)
	ts.Defer(cl.Close)
	pr := &probe{cl: cl, src: src, dst: dst, group: group}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pr.srcParts, err = topicPartitions(ctx, cl, src)
	ts.Check(err)
	hwm, err := endOffsets(ctx, cl, src, pr.srcParts, false)
	ts.Check(err)
	for _, o := range hwm {
		pr.total += o
	}
	return pr
}

// dstHWM is the sum of the destination's high watermarks (records written,
// committed or not, and transaction markers); 0 while it does not exist.
func (pr *probe) dstHWM(ctx context.Context) int64 {
	if pr.dstParts == nil {
		parts, err := topicPartitions(ctx, pr.cl, pr.dst)
		if err != nil {
			pr.lastErr = err
			return 0
		}
		pr.dstParts = parts
	}
	hwm, err := endOffsets(ctx, pr.cl, pr.dst, pr.dstParts, false)
	if err != nil {
		pr.lastErr = err
		return 0
	}
	return sumOffsets(hwm)
}

// dstLSO is the sum of the destination's last stable offsets: what a
// read_committed reader can read, markers included.
func (pr *probe) dstLSO(ctx context.Context) int64 {
	if pr.dstHWM(ctx) == 0 {
		return 0
	}
	lso, err := endOffsets(ctx, pr.cl, pr.dst, pr.dstParts, true)
	if err != nil {
		pr.lastErr = err
		return 0
	}
	return sumOffsets(lso)
}

// committed is the sum of the group's committed offsets on the source.
func (pr *probe) committed(ctx context.Context) int64 {
	offs, err := groupOffsets(ctx, pr.cl, pr.group, pr.src)
	if err != nil {
		pr.lastErr = err
		return 0
	}
	return sumOffsets(offs)
}

func sumOffsets(m map[int32]int64) int64 {
	var n int64
	for _, o := range m {
		if o > 0 {
			n += o
		}
	}
	return n
}

// waitUntil polls cond until it holds, or p exits (false), or the
// deadline passes (fails).
func waitUntil(ts *testscript.TestScript, p *evctlProc, what string, cond func(context.Context) bool) bool {
	ctx, cancel := context.WithTimeout(context.Background(), runDeadline)
	defer cancel()
	for {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		ok := cond(cctx)
		ccancel()
		if ok {
			return true
		}
		select {
		case <-p.done:
			return false
		case <-ctx.Done():
			p.kill()
			<-p.done
			ts.Fatalf("HANG: %s never reached %s within %s; its stderr:\n%s", p.name, what, runDeadline, p.stderr())
		case <-time.After(pollEvery):
		}
	}
}

// cmdReplayChaos is replay-chaos: see TestScripts.
func cmdReplayChaos(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("replay-chaos", flag.ContinueOnError)
	rounds := fs.Int("rounds", 3, "killed runs before the last one")
	seed := fs.Uint64("seed", 1, "chooses the kill points")
	group := fs.String("group", "chaos", "the replay's --group")
	every := fs.Int("every", 50, "the replay's --checkpoint-every")
	ts.Check(fs.Parse(args))
	if neg || fs.NArg() < 2 {
		ts.Fatalf("usage: replay-chaos [-rounds N] [-seed S] [-group G] [-every K] source dest [evctl flags...]")
	}
	src, dst, extra := fs.Arg(0), fs.Arg(1), fs.Args()[2:]
	pr := newProbe(ts, src, dst, *group)
	ts.Logf("replay-chaos: %d source records, seed %d, %d rounds", pr.total, *seed, *rounds)
	base := []string{"replay", src, "--to-topic", dst, "--group", *group, "--checkpoint-every", strconv.Itoa(*every), "--no-progress"}
	start := time.Now()
	for round := 1; round <= *rounds; round++ {
		rng := rand.New(rand.NewPCG(*seed, uint64(round)))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		committed0, hwm0 := pr.committed(ctx), pr.dstHWM(ctx)
		cancel()
		left := max(pr.total-committed0, 1)
		// Spread the work so that the last run has some left.
		n := 1 + rng.Int64N(max(left/int64(*rounds-round+2), 1))
		mode := rng.IntN(3)
		delay := time.Duration(rng.IntN(700)) * time.Millisecond
		runArgs := slices.Concat(base, []string{"--resume"}, extra)
		if round == 1 {
			runArgs = slices.Concat(base, []string{"--create"}, extra)
		}
		p := startEvctl(ts, fmt.Sprintf("round %d", round), fmt.Sprintf("chaos-%d.stderr", round), runArgs)
		runStart := time.Now()
		var point string
		var reached bool
		switch mode {
		case 0:
			// (Not its first write: the broker's abort markers for the
			// previous run's transaction move the destination too.)
			point = fmt.Sprintf("%s after its first commit", delay)
			if reached = waitUntil(ts, p, "its first commit", func(ctx context.Context) bool { return pr.committed(ctx) > committed0 }); reached {
				select {
				case <-time.After(delay):
				case <-p.done:
					reached = false
				}
			}
		case 1:
			// Mid-transaction: records on the broker that no read_committed
			// reader sees yet.
			point = fmt.Sprintf("inside a transaction, once %d more offsets are written", n)
			reached = waitUntil(ts, p, point, func(ctx context.Context) bool {
				hwm := pr.dstHWM(ctx)
				return hwm >= hwm0+n && pr.dstLSO(ctx) < hwm
			})
		case 2:
			point = fmt.Sprintf("once the group has committed %d more offsets", n)
			reached = waitUntil(ts, p, point, func(ctx context.Context) bool { return pr.committed(ctx) >= committed0+n })
		}
		p.kill()
		<-p.done
		ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
		committed1, hwm1 := pr.committed(ctx), pr.dstHWM(ctx)
		cancel()
		if !p.killed || !reached {
			// It finished (or failed) before the kill point.
			p.requireExit(ts, 0)
			ts.Logf("round %d (seed %d): finished in %s before the kill point (%s); committed %d -> %d",
				round, *seed, time.Since(runStart).Round(time.Millisecond), point, committed0, committed1)
			continue
		}
		ts.Logf("round %d (seed %d): SIGKILL %s, %s after start; group committed %d -> %d of %d, destination offsets %d -> %d",
			round, *seed, point, time.Since(runStart).Round(time.Millisecond), committed0, committed1, pr.total, hwm0, hwm1)
	}
	p := startEvctl(ts, "the final run", "chaos-final.stderr", slices.Concat(base, []string{"--resume"}, extra))
	p.probe = pr
	p.waitExit(ts, runDeadline)
	p.requireExit(ts, 0)
	ts.Logf("final run: %s", strings.TrimSpace(p.stderr()))
	ts.Logf("replay-chaos: all runs took %s", time.Since(start).Round(time.Millisecond))
	verifyExactlyOnce(ts, src, dst, fmt.Sprintf("replay-chaos -seed %d -rounds %d", *seed, *rounds))
}

// cmdReplayGroup is replay-group: see TestScripts.
func cmdReplayGroup(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("replay-group", flag.ContinueOnError)
	procs, seed, group, every := memberFlags(fs, "crew", 50)
	ts.Check(fs.Parse(args))
	if neg || fs.NArg() < 2 || *procs < 2 {
		ts.Fatalf("usage: replay-group [-procs N>=2] [-seed S] [-group G] [-every K] source dest [evctl flags...]")
	}
	src, dst, extra := fs.Arg(0), fs.Arg(1), fs.Args()[2:]
	pr := newProbe(ts, src, dst, *group)
	threshold, victim := killPlan(pr, *seed, *procs)
	args = slices.Concat([]string{"replay", src, "--to-topic", dst, "--group", *group, "--checkpoint-every", strconv.Itoa(*every), "--no-progress", "--create"}, extra)
	start := time.Now()
	members := startMembers(ts, pr, *procs, args)
	v := members[victim]
	killAt(ts, pr, v, threshold, fmt.Sprintf("replay-group -seed %d", *seed), start)
	var written int64
	for i, m := range members {
		if i == victim {
			continue
		}
		// A survivor gives up after 45 s without group progress; allow it.
		m.waitExit(ts, runDeadline+30*time.Second)
		// A survivor that reports a stalled group (exit 2) fails the test:
		// kfake used to keep a member killed mid-rebalance for the rebalance
		// timeout, 300 s, until the copier bounded it (issue 7).
		m.requireExit(ts, 0)
		for _, line := range strings.Split(strings.TrimSpace(m.stderr()), "\n") {
			ts.Logf("%s: %s", m.name, line)
			if after, ok := strings.CutPrefix(line, "replayed "); ok {
				n, _ := strconv.ParseInt(strings.Fields(after)[0], 10, 64)
				written += n
			}
		}
	}
	ts.Logf("replay-group: the survivors wrote %d records; all done %s after start", written, time.Since(start).Round(time.Millisecond))
	verifyExactlyOnce(ts, src, dst, fmt.Sprintf("replay-group -seed %d (victim %s)", *seed, v.name))
}

// memberFlags defines the flags of the commands that run a group of
// members: how many, the seed of the kill, the group, its checkpoints.
func memberFlags(fs *flag.FlagSet, group string, every int) (procs *int, seed *uint64, groupName *string, checkpointEvery *int) {
	return fs.Int("procs", 3, "processes in the group"),
		fs.Uint64("seed", 1, "chooses the victim and when it dies"),
		fs.String("group", group, "the members' --group"),
		fs.Int("every", every, "the members' --checkpoint-every")
}

// killAt SIGKILLs v once the group has committed threshold offsets; it
// fails when v finishes first. what names the run in the logs.
func killAt(ts *testscript.TestScript, pr *probe, v *evctlProc, threshold int64, what string, start time.Time) {
	if !waitUntil(ts, v, fmt.Sprintf("%d committed offsets", threshold), func(ctx context.Context) bool { return pr.committed(ctx) >= threshold }) {
		v.requireExit(ts, 0)
		ts.Fatalf("%s: %s finished before the group committed %d offsets: no kill happened", what, v.name, threshold)
	}
	v.kill()
	<-v.done
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	killedAt := pr.committed(ctx)
	cancel()
	ts.Logf("%s: SIGKILLed %s %s after start, once the group had committed %d of %d offsets (threshold %d)",
		what, v.name, time.Since(start).Round(time.Millisecond), killedAt, pr.total, threshold)
}

// killPlan picks, from seed, a victim among procs members and when it
// dies: once the group has committed 10% to 50% of the source.
func killPlan(pr *probe, seed uint64, procs int) (threshold int64, victim int) {
	rng := rand.New(rand.NewPCG(seed, 0))
	threshold = pr.total/10 + rng.Int64N(max(pr.total*4/10, 1))
	return threshold, rng.IntN(procs)
}

// startMembers starts procs evctl processes with args (which hold
// --create), the group's members, watched by pr. The first member makes
// the destination: concurrent --create race on it (the loser fails with
// "topic already exists"). Every other member says --resume too, since
// another may have committed progress by the time it looks (without it, a
// member that starts late is refused).
func startMembers(ts *testscript.TestScript, pr *probe, procs int, args []string) []*evctlProc {
	members := []*evctlProc{startEvctl(ts, "member 0", "member-0.stderr", args)}
	if !waitUntil(ts, members[0], "the destination's creation", func(ctx context.Context) bool {
		_, err := topicPartitions(ctx, pr.cl, pr.dst)
		return err == nil
	}) {
		members[0].requireExit(ts, 0)
	}
	resumeArgs := append(slices.Clone(args), "--resume")
	for i := 1; i < procs; i++ {
		members = append(members, startEvctl(ts, fmt.Sprintf("member %d", i), fmt.Sprintf("member-%d.stderr", i), resumeArgs))
	}
	for _, m := range members {
		m.probe = pr
	}
	return members
}

// cmdInterruptAt is interrupt-at: see TestScripts.
func cmdInterruptAt(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 4 {
		ts.Fatalf("usage: interrupt-at topic N status command [args...]")
	}
	topic := args[0]
	n, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	want, err := strconv.Atoi(args[2])
	ts.Check(err)
	if args[3] != "evctl" {
		ts.Fatalf("interrupt-at runs evctl only")
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(scriptBrokers(ts)...))
	ts.Check(err)
	defer cl.Close()
	pr := &probe{cl: cl, dst: topic}
	p := startEvctl(ts, "evctl", "interrupted.stderr", args[4:])
	if waitUntil(ts, p, fmt.Sprintf("%d committed offsets in %s", n, topic), func(ctx context.Context) bool { return pr.dstLSO(ctx) >= n }) {
		ts.Check(p.cmd.Process.Signal(os.Interrupt))
	}
	p.waitExit(ts, runDeadline)
	ts.Check(os.WriteFile(ts.MkAbs("interrupted.stdout"), nil, 0o644))
	p.requireExit(ts, want)
}

// cmdReplayVerify is replay-verify: see TestScripts.
func cmdReplayVerify(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: replay-verify source dest")
	}
	verifyExactlyOnce(ts, args[0], args[1], "replay-verify")
}

// loc is a record's place in a topic.
type loc struct {
	partition int32
	offset    int64
}

func (l loc) String() string { return fmt.Sprintf("%d/%d", l.partition, l.offset) }

// verifyExactlyOnce fails unless a read_committed reader of dst sees every
// record of src exactly once, in the same partition, in source order, with
// the same key, value, headers and timestamp.
func verifyExactlyOnce(ts *testscript.TestScript, src, dst, what string) {
	start := time.Now()
	brokers := ts.Getenv("EVCTL_BROKERS")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srcRecs, _, err := readTopic(ctx, brokers, src)
	ts.Check(err)
	dstRecs, markers, err := readTopic(ctx, brokers, dst)
	ts.Check(err)
	problems := compareCopies(src, dst, srcRecs, dstRecs)
	var nsrc, ndst int
	for _, rs := range srcRecs {
		nsrc += len(rs)
	}
	for _, rs := range dstRecs {
		ndst += len(rs)
	}
	if len(problems) > 0 {
		ts.Fatalf("EXACTLY-ONCE VIOLATED (%s): %s has %d records, %s %d (read_committed)\n%s",
			what, src, nsrc, dst, ndst, strings.Join(problems, "\n"))
	}
	ts.Logf("exactly once: %d records of %s in %s, byte for byte, in order, same partitions; %d commit and %d abort markers (checked in %s)",
		nsrc, src, dst, markers.commits, markers.aborts, time.Since(start).Round(time.Millisecond))
}

type markerCount struct{ commits, aborts int }

// readTopic reads every committed record of topic, once no transaction is
// open on it, with franz-go.
func readTopic(ctx context.Context, brokers, topic string) (map[int32][]*kgo.Record, markerCount, error) {
	var mc markerCount
	adm, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		return nil, mc, err
	}
	defer adm.Close()
	parts, err := topicPartitions(ctx, adm, topic)
	if err != nil {
		return nil, mc, err
	}
	// A read_committed reader stops at the first open transaction: wait
	// for the last stable offsets to reach the high watermarks.
	var hwm, lso map[int32]int64
	for {
		hwm, err = endOffsets(ctx, adm, topic, parts, false)
		if err == nil {
			lso, err = endOffsets(ctx, adm, topic, parts, true)
		}
		if err == nil && maps.Equal(hwm, lso) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, mc, fmt.Errorf("%s: a transaction stays open (last stable offsets %v, high watermarks %v): %w", topic, lso, hwm, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	offsets := map[int32]kgo.Offset{}
	for p, h := range hwm {
		if h > 0 {
			offsets[p] = kgo.NewOffset().AtStart()
		}
	}
	out := map[int32][]*kgo.Record{}
	if len(offsets) == 0 {
		return out, mc, nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Markers show where each partition ends: its last offset is a
		// record or a transaction marker.
		kgo.KeepControlRecords())
	if err != nil {
		return nil, mc, err
	}
	defer cl.Close()
	left := len(offsets)
	last := map[int32]int64{}
	for left > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, mc, fmt.Errorf("%s: read up to %v of %v within the deadline", topic, last, hwm)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = fmt.Errorf("read %s[%d]: %w", t, p, err) })
		if ferr != nil {
			return nil, mc, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			last[r.Partition] = r.Offset
			if r.Offset == hwm[r.Partition]-1 {
				left--
			}
			if r.Attrs.IsControl() {
				if len(r.Key) >= 4 && r.Key[3] == 0 {
					mc.aborts++
				} else {
					mc.commits++
				}
				return
			}
			out[r.Partition] = append(out[r.Partition], r)
		})
	}
	return out, mc, nil
}

// compareCopies lists what keeps dst from being an exact copy of src: the
// first difference of each partition, then duplicates, missing records and
// records in the wrong partition, the first few of each.
func compareCopies(src, dst string, srcRecs, dstRecs map[int32][]*kgo.Record) []string {
	var problems []string
	ident := func(r *kgo.Record) string { return string(r.Key) + "\x00" + string(r.Value) }
	// Where each source record is, by key and value.
	index := map[string][]loc{}
	for p, rs := range srcRecs {
		for _, r := range rs {
			index[ident(r)] = append(index[ident(r)], loc{p, r.Offset})
		}
	}
	srcAt := func(l loc) *kgo.Record {
		for _, r := range srcRecs[l.partition] {
			if r.Offset == l.offset {
				return r
			}
		}
		return nil
	}
	// Each destination record's source, in order.
	seen := map[loc][]loc{} // source -> destination places
	var foreign, misplaced, reordered, changed []string
	parts := slices.Sorted(maps.Keys(srcRecs))
	for _, p := range slices.Sorted(maps.Keys(dstRecs)) {
		if !slices.Contains(parts, p) {
			parts = append(parts, p)
		}
	}
	for _, p := range parts {
		s, d := srcRecs[p], dstRecs[p]
		prev := int64(-1)
		differed := false
		for i, r := range d {
			here := loc{p, r.Offset}
			cands := index[ident(r)]
			if len(cands) == 0 {
				foreign = append(foreign, fmt.Sprintf("destination %s (key %q) is no source record's key and value", here, r.Key))
				continue
			}
			from := cands[0]
			for _, c := range cands { // the first one of this partition not yet seen
				if c.partition == p && len(seen[c]) == 0 {
					from = c
					break
				}
			}
			seen[from] = append(seen[from], here)
			if from.partition != p {
				misplaced = append(misplaced, fmt.Sprintf("source %s (key %q) is in destination partition %d, at %s", from, r.Key, p, here))
				continue
			}
			if from.offset <= prev {
				reordered = append(reordered, fmt.Sprintf("destination %s holds source %s after source %d/%d", here, from, p, prev))
			}
			prev = max(prev, from.offset)
			if diff := recordDiff(srcAt(from), r); diff != "" {
				changed = append(changed, fmt.Sprintf("source %s -> destination %s: %s", from, here, diff))
			}
			if !differed && i < len(s) && s[i].Offset != from.offset {
				// Only the first difference of a partition.
				differed = true
				problems = append(problems, fmt.Sprintf("partition %d: the destination's record #%d (offset %d) should be source %d/%d (key %q) but is source %s (key %q)",
					p, i, r.Offset, p, s[i].Offset, s[i].Key, from, r.Key))
			}
		}
		if len(s) != len(d) {
			problems = append(problems, fmt.Sprintf("partition %d: %d records in %s, %d in %s", p, len(s), src, len(d), dst))
		}
	}
	var dups, missing []string
	for _, p := range slices.Sorted(maps.Keys(srcRecs)) {
		for _, r := range srcRecs[p] {
			l := loc{p, r.Offset}
			switch n := len(seen[l]); {
			case n == 0:
				missing = append(missing, fmt.Sprintf("source %s (key %q, ts %s) is not in the destination", l, r.Key, r.Timestamp.UTC().Format(time.RFC3339Nano)))
			case n > 1:
				dups = append(dups, fmt.Sprintf("source %s (key %q) is in the destination %d times, at %v", l, r.Key, n, seen[l]))
			}
		}
	}
	add := func(what string, list []string) {
		if len(list) == 0 {
			return
		}
		problems = append(problems, fmt.Sprintf("%d %s, first:", len(list), what))
		for _, s := range list[:min(len(list), 5)] {
			problems = append(problems, "  "+s)
		}
	}
	add("duplicated records", dups)
	add("missing records", missing)
	add("records out of source order", reordered)
	add("records in the wrong partition", misplaced)
	add("records changed on the way", changed)
	add("records not from the source", foreign)
	return problems
}

// recordDiff says how two records with the same key and value differ.
func recordDiff(a, b *kgo.Record) string {
	var diffs []string
	if (a.Key == nil) != (b.Key == nil) {
		diffs = append(diffs, fmt.Sprintf("key null %v vs %v", a.Key == nil, b.Key == nil))
	}
	if (a.Value == nil) != (b.Value == nil) {
		diffs = append(diffs, fmt.Sprintf("value null %v vs %v", a.Value == nil, b.Value == nil))
	}
	if !a.Timestamp.Equal(b.Timestamp) || a.Attrs.TimestampType() != b.Attrs.TimestampType() {
		diffs = append(diffs, fmt.Sprintf("timestamp %s (type %d) vs %s (type %d)",
			a.Timestamp.UTC().Format(time.RFC3339Nano), a.Attrs.TimestampType(), b.Timestamp.UTC().Format(time.RFC3339Nano), b.Attrs.TimestampType()))
	}
	if !slices.EqualFunc(a.Headers, b.Headers, func(x, y kgo.RecordHeader) bool {
		return x.Key == y.Key && bytes.Equal(x.Value, y.Value) && (x.Value == nil) == (y.Value == nil)
	}) {
		diffs = append(diffs, fmt.Sprintf("headers %s vs %s", fmtHeaders(a.Headers), fmtHeaders(b.Headers)))
	}
	return strings.Join(diffs, "; ")
}

func fmtHeaders(hs []kgo.RecordHeader) string {
	parts := make([]string, len(hs))
	for i, h := range hs {
		parts[i] = fmt.Sprintf("%s=%q", h.Key, h.Value)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// topicPartitions lists a topic's partitions.
func topicPartitions(ctx context.Context, cl *kgo.Client, topic string) ([]int32, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	if len(resp.Topics) != 1 {
		return nil, fmt.Errorf("metadata of %s: %d topics", topic, len(resp.Topics))
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	var parts []int32
	for _, p := range resp.Topics[0].Partitions {
		parts = append(parts, p.Partition)
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("metadata of %s: no partitions yet", topic)
	}
	slices.Sort(parts)
	return parts, nil
}

// endOffsets returns the partitions' high watermarks, or with committed
// their last stable offsets.
func endOffsets(ctx context.Context, cl *kgo.Client, topic string, parts []int32, committed bool) (map[int32]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	if committed {
		req.IsolationLevel = 1
	}
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for _, p := range parts {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = p
		rp.Timestamp = -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("end offset of %s[%d]: %w", topic, p.Partition, err)
			}
			out[p.Partition] = p.Offset
		}
	}
	if len(out) != len(parts) {
		return nil, fmt.Errorf("end offsets of %s: %d partitions of %d", topic, len(out), len(parts))
	}
	return out, nil
}

// groupOffsets returns group's committed offsets on topic (-1: none),
// whether or not a transaction still holds them.
func groupOffsets(ctx context.Context, cl *kgo.Client, group, topic string) (map[int32]int64, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	if len(resp.Groups) > 0 {
		g := resp.Groups[0]
		if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
			return nil, fmt.Errorf("offsets of group %s: %w", group, err)
		}
		for _, t := range g.Topics {
			for _, p := range t.Partitions {
				if t.Topic == topic && p.ErrorCode == 0 {
					out[p.Partition] = p.Offset
				}
			}
		}
		return out, nil
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("offsets of group %s: %w", group, err)
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if t.Topic == topic && p.ErrorCode == 0 {
				out[p.Partition] = p.Offset
			}
		}
	}
	return out, nil
}

// diagnose describes the copy's state for a hang report: the group's
// committed offsets against the source's ends, the destination's ends,
// and the group's members and their assignments.
func (pr *probe) diagnose() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var b strings.Builder
	srcEnd, err := endOffsets(ctx, pr.cl, pr.src, pr.srcParts, false)
	fmt.Fprintf(&b, "source %s ends: %v %v\n", pr.src, srcEnd, errOrNil(err))
	committed, err := groupOffsets(ctx, pr.cl, pr.group, pr.src)
	fmt.Fprintf(&b, "group %s committed: %v %v\n", pr.group, committed, errOrNil(err))
	if parts, err := topicPartitions(ctx, pr.cl, pr.dst); err == nil {
		hwm, _ := endOffsets(ctx, pr.cl, pr.dst, parts, false)
		lso, _ := endOffsets(ctx, pr.cl, pr.dst, parts, true)
		fmt.Fprintf(&b, "destination %s high watermarks %v, last stable offsets %v\n", pr.dst, hwm, lso)
	}
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{pr.group}
	resp, err := req.RequestWith(ctx, pr.cl)
	if err != nil {
		fmt.Fprintf(&b, "describe group: %v\n", err)
		return b.String()
	}
	for _, g := range resp.Groups {
		fmt.Fprintf(&b, "group state %s, protocol %s/%s, error %v, %d members\n", g.State, g.ProtocolType, g.Protocol, errOrNil(kerr.ErrorForCode(g.ErrorCode)), len(g.Members))
		for _, m := range g.Members {
			var a kmsg.ConsumerMemberAssignment
			assigned := "?"
			if err := a.ReadFrom(m.MemberAssignment); err == nil {
				var parts []string
				for _, t := range a.Topics {
					parts = append(parts, fmt.Sprintf("%s%v", t.Topic, t.Partitions))
				}
				assigned = strings.Join(parts, " ")
			}
			fmt.Fprintf(&b, "  member %s (%s, %s): %s\n", m.MemberID, m.ClientID, m.ClientHost, assigned)
		}
	}
	return b.String()
}

func errOrNil(err error) string {
	if err == nil {
		return ""
	}
	return "(" + err.Error() + ")"
}
