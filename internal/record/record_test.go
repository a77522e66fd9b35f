package record

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestCompareTime(t *testing.T) {
	at := func(s int) Timestamp { return Timestamp{Time: time.Unix(int64(s), 0)} }
	in := []*Record{
		{Topic: "b", Partition: 0, Offset: 5, Timestamp: at(2)},
		{Topic: "a", Partition: 1, Offset: 9, Timestamp: at(2)},
		{Topic: "a", Partition: 0, Offset: 7, Timestamp: at(2)},
		{Topic: "a", Partition: 0, Offset: 3, Timestamp: at(2)},
		{Topic: "z", Partition: 9, Offset: 99, Timestamp: at(1)},
	}
	slices.SortFunc(in, CompareTime)
	var got []string
	for _, r := range in {
		got = append(got, fmt.Sprintf("%s/%d@%d", r.Topic, r.Partition, r.Offset))
	}
	want := []string{"z/9@99", "a/0@3", "a/0@7", "a/1@9", "b/0@5"}
	if !slices.Equal(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
}
