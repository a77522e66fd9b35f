package cli

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evctl/evctl/internal/iostreams"
	"github.com/evctl/evctl/internal/position"
)

func testFactory(t *testing.T) *Factory {
	t.Helper()
	ios, _, _, _ := iostreams.Test()
	f := NewFactory("test", ios)
	env := map[string]string{"EVCTL_CONFIG": t.TempDir() + "/config.yaml"}
	f.Getenv = func(k string) string { return env[k] }
	return f
}

func TestNewCmdTail(t *testing.T) {
	tests := []flagCase[TailOptions]{
		{name: "defaults", args: []string{"t"}, want: TailOptions{Topics: []string{"t"}, Last: 10, Output: "text"}},
		{name: "validate", args: []string{"t", "--validate", "--strict"}, want: TailOptions{Topics: []string{"t"}, Last: 10, Output: "text", Validate: true, Strict: true}},
		{name: "raw with text output", args: []string{"t", "--raw"}, wantErr: "--raw adds the exact bytes to -o json or --template output"},
		{name: "raw with a template", args: []string{"t", "--raw", "--template", "{{.rawKey}}"}, want: TailOptions{Topics: []string{"t"}, Last: 10, Output: "text", Raw: true, Template: "{{.rawKey}}"}},
		{name: "range and selection", args: []string{"a", "b", "--from", "@-1h", "--to", "end", "-p", "0,2", "-k", "acct-1", "-t", "MoneyWithdrawn", "--filter", ".value", "--max", "5", "-o", "json", "--raw"},
			want: TailOptions{Topics: []string{"a", "b"}, From: "@-1h", To: "end", Partitions: []int32{0, 2}, Key: "acct-1", KeySet: true, Types: []string{"MoneyWithdrawn"}, Filter: ".value", Max: 5, Last: 10, Output: "json", Raw: true}},
		{name: "empty key is a key", args: []string{"t", "--key", ""}, want: TailOptions{Topics: []string{"t"}, KeySet: true, Last: 10, Output: "text"}},
		{name: "follow", args: []string{"t", "-f", "-n", "3"}, want: TailOptions{Topics: []string{"t"}, Follow: true, Last: 3, Output: "text"}},
		{name: "no topic", args: []string{}, wantErr: "requires at least 1 arg(s)"},
		{name: "follow with to", args: []string{"t", "-f", "--to", "end"}, wantErr: "--to and --follow exclude each other"},
		{name: "last with from", args: []string{"t", "-n", "3", "--from", "start"}, wantErr: "-n/--last goes without --from"},
		{name: "template with output", args: []string{"t", "--template", "{{.key}}", "-o", "json"}, wantErr: "--template and --output exclude each other"},
		{name: "negative max", args: []string{"t", "--max", "-1"}, wantErr: "zero or more"},
	}
	checkFlagCases(t, NewCmdTail, tests, "IO", "Kafka", "Registry", "Now", "Getenv")
}

func TestPlanTail(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		opts TailOptions
		want tailPlan
	}{
		{"last N reads the end of each partition", TailOptions{Last: 10},
			tailPlan{from: position.Position{Kind: position.BeforeEnd, N: 10}, to: position.EndPos, lastN: 10}},
		{"a selection scans from the start", TailOptions{Last: 3, Filter: ".x"},
			tailPlan{from: position.StartPos, to: position.EndPos, lastN: 3}},
		{"a range", TailOptions{From: "+5", To: "-2"},
			tailPlan{from: position.Position{Kind: position.AfterStart, N: 5}, to: position.Position{Kind: position.BeforeEnd, N: 2}}},
		{"follow from a time", TailOptions{From: "@-1h", Follow: true},
			tailPlan{from: position.Position{Kind: position.Time, Time: now.Add(-time.Hour)}, follow: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := planTail(&tt.opts, now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(tailPlan{})); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
	_, err := planTail(&TailOptions{From: "yesterday"}, now)
	var fe *FlagError
	if !errors.As(err, &fe) {
		t.Fatalf("bad --from: err = %v, want a FlagError", err)
	}
}
