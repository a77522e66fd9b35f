package main

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/evctl/evctl/internal/sandbox"
)

// BenchmarkBrowse measures what a user of evctl browse waits for on a
// topic of BROWSE_EVENTS events (default 1,000,000), through a real
// terminal: the screen showing the latest records, g showing the first,
// and G the last again. bench/browse.sh runs it; the target is under 1 s
// to open and to jump to the end.
func BenchmarkBrowse(b *testing.B) {
	events := 1_000_000
	if v := os.Getenv("BROWSE_EVENTS"); v != "" {
		var err error
		if events, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	sb, err := sandbox.Start(context.Background(), sandbox.Options{Accounts: 10_000, Events: events, Now: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)})
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Close()
	atEnd := regexp.MustCompile(`(?m)^\d+ records loaded · up to the end`)
	atStart := regexp.MustCompile(`(?m)^\d+ records loaded · from the start`)
	var open, first, last []time.Duration
	for b.Loop() {
		cmd := exec.Command("evctl", "browse", "bank.account-events")
		cmd.Env = append(os.Environ(), "EVCTL_BROKERS="+sb.Brokers(), "EVCTL_REGISTRY="+sb.RegistryURL(), "NO_COLOR=1")
		start := time.Now()
		t, err := startTTY(cmd, 120, 40)
		if err != nil {
			b.Fatal(err)
		}
		step := func(keys string, re *regexp.Regexp, into *[]time.Duration) {
			start := time.Now()
			if keys != "" {
				if err := t.send(keys); err != nil {
					b.Fatal(err)
				}
			}
			if err := t.wait(re, time.Minute); err != nil {
				b.Fatal(err)
			}
			*into = append(*into, time.Since(start))
		}
		step("", atEnd, &open)
		open[len(open)-1] = time.Since(start)
		step("g", atStart, &first)
		step("G", atEnd, &last)
		if err := t.send("q"); err != nil {
			b.Fatal(err)
		}
		if status, err := t.exitStatus(time.Minute); err != nil || status != 0 {
			b.Fatalf("evctl browse exited %d, %v", status, err)
		}
		t.close()
	}
	b.ReportMetric(median(open), "open-ms")
	b.ReportMetric(median(first), "first-ms")
	b.ReportMetric(median(last), "last-ms")
}

func median(ds []time.Duration) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[len(s)/2].Microseconds()) / 1000
}
