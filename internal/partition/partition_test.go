package partition

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Kafka's own murmur2 vectors (UtilsTest.testMurmur2), as signed ints.
func TestMurmur2(t *testing.T) {
	tests := map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	}
	for in, want := range tests {
		if got := int32(murmur2([]byte(in))); got != want {
			t.Errorf("murmur2(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestPartition(t *testing.T) {
	tests := []struct {
		partitioner string
		key         []byte
		want        int32
	}{
		{"murmur2", nil, Any},
		{"murmur2_random", nil, Any},
		{"consistent", nil, Any},
		{"consistent_random", []byte{}, Any},
		{"consistent", []byte{}, 0}, // crc32("") is 0
		{"crc32", []byte{}, 0},
		// FNV-1a of nothing is its offset basis, 0x811c9dc5: negative as an
		// int32, so librdkafka takes 2128831035, and 2128831035 % 7 = 2.
		{"fnv1a", []byte{}, 2},
		{"random", []byte("k"), Any},
	}
	for _, tt := range tests {
		got, err := Partition(tt.partitioner, tt.key, 7)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("Partition(%s, %q) = %d, want %d", tt.partitioner, tt.key, got, tt.want)
		}
	}
	if _, err := Partition("sticky", []byte("k"), 3); err == nil {
		t.Error("Partition(sticky) did not fail")
	}
	if _, err := Partition("murmur2", []byte("k"), 0); err == nil {
		t.Error("Partition over 0 partitions did not fail")
	}
}

func TestKeyPartitions(t *testing.T) {
	key := []byte("acct-0042")
	m, _ := Partition("murmur2", key, 6)
	c, _ := Partition("consistent", key, 6)
	want := slices.Compact(slices.Sorted(slices.Values([]int32{m, c})))
	if diff := cmp.Diff(want, KeyPartitions(key, 6, DefaultHistory...)); diff != "" {
		t.Errorf("KeyPartitions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int32{0, 1, 2}, KeyPartitions(nil, 3, DefaultHistory...)); diff != "" {
		t.Errorf("KeyPartitions(nil) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int32{0, 1, 2}, KeyPartitions(key, 3, "nonsense")); diff != "" {
		t.Errorf("KeyPartitions(unknown partitioner) (-want +got):\n%s", diff)
	}
}
