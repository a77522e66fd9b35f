package diff

import (
	"context"
	"strings"
	"testing"
)

// onPartitions sets the events' partitions, in order.
func onPartitions(s *events, parts ...int32) *events {
	for i, p := range parts {
		s.evs[i].Partition = p
	}
	return s
}

// TestCompareStateSplitKey: a key whose records are on two partitions (a
// tombstone written with the wrong partitioner) is compared by whichever
// record was read last; the report warns, naming the key and partitions.
// Keys on one partition, and partitions that differ between the sides,
// are no reason to warn or to differ.
func TestCompareStateSplitKey(t *testing.T) {
	a := onPartitions(src("a", `acct-1={"n":1}`, `acct-2={"n":2}`, `acct-1=`, `acct-3={"n":3}`, `acct-3={"n":4}`), 1, 2, 4, 5, 5)
	b := onPartitions(src("b", `acct-2={"n":2}`, `acct-3={"n":4}`), 0, 3)
	r, err := Compare(context.Background(), a, b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], `a: key "acct-1" has records on partitions 1 and 4`) {
		t.Errorf("warnings = %q, want one naming acct-1 on partitions 1 and 4 of a", r.Warnings)
	}
	if !r.Equal || r.Counts.Same != 2 {
		t.Errorf("report %+v: want equal, acct-2 and acct-3 the same on other partitions", r.Counts)
	}
	// The same key the other way round: a value after its tombstone.
	a = onPartitions(src("a", `acct-1=`, `acct-1={"n":1}`), 4, 1)
	if r, err = Compare(context.Background(), a, src("b", `acct-1={"n":1}`), Options{Stat: true}); err != nil || len(r.Warnings) != 1 {
		t.Errorf("warnings = %q, %v; want one", r.Warnings, err)
	}
}
