package main

// rebuild-group: a projection rebuilt into a topic by several evctl
// processes in one consumer group, one SIGKILLed midway and run again with
// --resume (testdata/script/replay_rebuild_group.txtar). The destination
// is then read read_committed through franz-go and checked against the
// live read model the sandbox computes with Go code.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/testscript"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// cmdRebuildGroup is rebuild-group: see the comment at the top.
func cmdRebuildGroup(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("rebuild-group", flag.ContinueOnError)
	procs, seed, group, every := memberFlags(fs, "rebuild", 100)
	changes := fs.Bool("changes", false, "--emit changes: the destination holds every state, versions 1, 2, 3...")
	ts.Check(fs.Parse(args))
	if neg || fs.NArg() < 4 || *procs < 2 {
		ts.Fatalf("usage: rebuild-group [-procs N>=2] [-seed S] [-group G] [-every K] [-changes] source spec dest live [evctl flags...]")
	}
	src, spec, dst, live, extra := fs.Arg(0), fs.Arg(1), fs.Arg(2), fs.Arg(3), fs.Args()[4:]
	pr := newProbe(ts, src, dst, *group)
	threshold, victim := killPlan(pr, *seed, *procs)
	args = slices.Concat([]string{"replay", src, "--projection", spec, "--to-topic", dst, "--group", *group,
		"--checkpoint-every", strconv.Itoa(*every), "--no-progress", "--create"}, extra)
	if *changes {
		args = append(args, "--emit", "changes")
	}
	resumeArgs := append(slices.Clone(args), "--resume")
	start := time.Now()
	members := startMembers(ts, pr, *procs, args)
	// Kill a member that holds partitions: once each has its share.
	v := members[victim]
	if !waitUntil(ts, v, fmt.Sprintf("%d members with partitions", *procs), func(ctx context.Context) bool {
		n, err := assignedMembers(ctx, pr.cl, *group)
		pr.lastErr = err
		return n == *procs
	}) {
		v.requireExit(ts, 0)
		ts.Fatalf("rebuild-group -seed %d: %s finished before every member had partitions: no kill happened; slow the members down (--rate)", *seed, v.name)
	}
	killAt(ts, pr, v, threshold, fmt.Sprintf("rebuild-group -seed %d", *seed), start)
	members[victim] = startEvctl(ts, v.name+" again", fmt.Sprintf("member-%d-again.stderr", victim), resumeArgs)
	members[victim].probe = pr
	for _, m := range members {
		m.waitExit(ts, runDeadline+30*time.Second)
		m.requireExit(ts, 0)
		ts.Logf("%s: %s", m.name, strings.TrimSpace(m.stderr()))
	}
	ts.Logf("rebuild-group: all done %s after start", time.Since(start).Round(time.Millisecond))
	verifyRebuild(ts, src, dst, live, *changes, fmt.Sprintf("rebuild-group -seed %d (victim %s)", *seed, v.name))
}

// verifyRebuild checks a rebuilt read model, read_committed, against the
// live one: the same aggregates with the same last states and timestamps;
// each aggregate's states in one partition, the source partition its
// events are in; and no state written twice (the versions of an
// aggregate's states rise strictly), which a member that folded events
// twice, or folded on from a stale state, would break. With changes
// (--emit changes) every state is there: versions 1, 2, 3... each once.
func verifyRebuild(ts *testscript.TestScript, src, dst, live string, changes bool, what string) {
	brokers := ts.Getenv("EVCTL_BROKERS")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srcRecs, _, err := readTopic(ctx, brokers, src)
	ts.Check(err)
	dstRecs, markers, err := readTopic(ctx, brokers, dst)
	ts.Check(err)
	liveRecs, _, err := readTopic(ctx, brokers, live)
	ts.Check(err)
	srcPartition := map[string]int32{}
	for p, rs := range srcRecs {
		for _, r := range rs {
			srcPartition[string(r.Key)] = p
		}
	}
	type state struct {
		value any
		at    time.Time
	}
	lastOf := func(recs map[int32][]*kgo.Record) map[string]state {
		out := map[string]state{}
		for _, p := range slices.Sorted(maps.Keys(recs)) {
			for _, r := range recs[p] {
				out[string(r.Key)] = state{canonical(ts, r.Value), r.Timestamp.UTC()}
			}
		}
		return out
	}
	var problems []string
	written := 0
	for _, p := range slices.Sorted(maps.Keys(dstRecs)) {
		version := map[string]float64{}
		for _, r := range dstRecs[p] {
			written++
			id := string(r.Key)
			if sp, ok := srcPartition[id]; !ok || sp != p {
				problems = append(problems, fmt.Sprintf("%s/%d@%d: state of %q, whose events are in %s/%d", dst, p, r.Offset, id, src, sp))
			}
			st, _ := canonical(ts, r.Value).(map[string]any)
			n, err := st["version"].(json.Number).Float64()
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s/%d@%d: state of %q has no version: %s", dst, p, r.Offset, id, r.Value))
				continue
			}
			prev, ok := version[id]
			switch {
			case ok && n <= prev:
				problems = append(problems, fmt.Sprintf("%s/%d@%d: state of %q at version %v after version %v: written twice", dst, p, r.Offset, id, n, prev))
			case changes && n != prev+1:
				problems = append(problems, fmt.Sprintf("%s/%d@%d: change of %q to version %v after version %v: a change is missing", dst, p, r.Offset, id, n, prev))
			}
			version[id] = n
		}
	}
	rebuilt, want := lastOf(dstRecs), lastOf(liveRecs)
	if diff := cmp.Diff(want, rebuilt, cmp.AllowUnexported(state{})); diff != "" {
		problems = append(problems, fmt.Sprintf("read model (-%s +%s):\n%s", live, dst, diff))
	}
	if len(problems) > 0 {
		ts.Fatalf("REBUILD WRONG (%s): %d states of %d aggregates in %s (read_committed)\n%s", what, written, len(rebuilt), dst, strings.Join(problems, "\n"))
	}
	ts.Logf("rebuild: %d aggregates in %s equal %s, in %d committed states; %d commit and %d abort markers", len(rebuilt), dst, live, written, markers.commits, markers.aborts)
}

// assignedMembers counts the members of a stable group that hold partitions.
func assignedMembers(ctx context.Context, cl *kgo.Client, group string) (int, error) {
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{group}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, g := range resp.Groups {
		if g.State != "Stable" {
			return 0, nil
		}
		for _, m := range g.Members {
			var a kmsg.ConsumerMemberAssignment
			if a.ReadFrom(m.MemberAssignment) == nil && len(a.Topics) > 0 {
				n++
			}
		}
	}
	return n, nil
}

// canonical decodes JSON with exact numbers; cmp compares the result.
func canonical(ts *testscript.TestScript, b []byte) any {
	if b == nil {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	ts.Check(d.Decode(&v))
	return v
}
