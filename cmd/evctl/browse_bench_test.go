package main

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evctl/evctl/internal/sandbox"
)

// BenchmarkBrowse measures what a user of evctl browse waits for on a
// topic of BROWSE_EVENTS events (default 1,000,000) over BROWSE_ACCOUNTS
// accounts (default 2,000: aggregates of 500 events), through a real
// terminal: the topic list showing, the topic opening at its latest
// records, g showing the first, G the last again, a showing the last
// record's aggregate timeline, and a filter that matches nothing reading
// the whole topic; and the process's peak RSS before that scan and after. bench/browse.sh
// runs it; the targets are under 1 s for each step but the scan, and a
// peak RSS that does not grow with the topic.
func BenchmarkBrowse(b *testing.B) {
	events, accounts := envInt(b, "BROWSE_EVENTS", 1_000_000), envInt(b, "BROWSE_ACCOUNTS", 2_000)
	sb, err := sandbox.Start(context.Background(), sandbox.Options{Accounts: accounts, Events: events, Now: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)})
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Close()
	listed := regexp.MustCompile(`(?m)^ bank.account-events +6 +` + strconv.Itoa(events) + ` `)
	atEnd := regexp.MustCompile(`(?m)^\d+ records loaded · up to the end`)
	atStart := regexp.MustCompile(`(?m)^\d+ records loaded · from the start`)
	timeline := regexp.MustCompile(`(?m)^aggregate acct-\d+ · .* · \d+ events`)
	scanned := regexp.MustCompile(`0 found in (\d+) of (\d+) records · all of it`)
	var list, open, first, last, agg, scan []time.Duration
	var rss, before []float64
	for b.Loop() {
		cmd := exec.Command("evctl", "browse")
		cmd.Env = append(os.Environ(), "EVCTL_BROKERS="+sb.Brokers(), "EVCTL_REGISTRY="+sb.RegistryURL(), "NO_COLOR=1")
		start := time.Now()
		t, err := startTTY(cmd, 120, 40)
		if err != nil {
			b.Fatal(err)
		}
		step := func(keys string, re *regexp.Regexp, into *[]time.Duration, within time.Duration) {
			start := time.Now()
			if keys != "" {
				if err := t.send(keys); err != nil {
					b.Fatal(err)
				}
			}
			if err := t.wait(re, within); err != nil {
				b.Fatal(err)
			}
			*into = append(*into, time.Since(start))
		}
		step("", listed, &list, time.Minute)
		list[len(list)-1] = time.Since(start)
		if err := t.send("/account-ev"); err != nil {
			b.Fatal(err)
		}
		step("\r", atEnd, &open, time.Minute)
		step("g", atStart, &first, time.Minute)
		step("G", atEnd, &last, time.Minute)
		step("a", timeline, &agg, time.Minute)
		var back []time.Duration // esc, back to the records
		step("\x1b", atEnd, &back, time.Minute)
		before = append(before, peakRSS(b, cmd.Process.Pid))
		step(`/.key == "none"`+"\r", scanned, &scan, 10*time.Minute)
		if m := scanned.FindStringSubmatch(t.screen()); m == nil || m[1] != m[2] {
			b.Fatalf("the filter did not read the whole topic: %q", m)
		}
		rss = append(rss, peakRSS(b, cmd.Process.Pid))
		if err := t.send("q"); err != nil {
			b.Fatal(err)
		}
		if status, err := t.exitStatus(time.Minute); err != nil || status != 0 {
			b.Fatalf("evctl browse exited %d, %v", status, err)
		}
		t.close()
	}
	b.ReportMetric(median(list), "list-ms")
	b.ReportMetric(median(open), "open-ms")
	b.ReportMetric(median(first), "first-ms")
	b.ReportMetric(median(last), "last-ms")
	b.ReportMetric(median(agg), "timeline-ms")
	b.ReportMetric(median(scan), "scan-ms")
	slices.Sort(rss)
	slices.Sort(before)
	b.ReportMetric(before[len(before)/2], "peak-MB")
	b.ReportMetric(rss[len(rss)/2], "scan-peak-MB")
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	return n
}

// peakRSS is a running process's peak resident set (VmHWM), in MB.
func peakRSS(b *testing.B, pid int) float64 {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if kb, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(kb), " kB"))
			if err != nil {
				b.Fatal(err)
			}
			return float64(n) / 1024
		}
	}
	b.Fatal("no VmHWM in /proc/PID/status")
	return 0
}

func median(ds []time.Duration) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[len(s)/2].Microseconds()) / 1000
}
