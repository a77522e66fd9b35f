package replay

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/evctl/evctl/internal/record"
)

const memberSpec = `
name: balance
initial: {balance: 0}
handlers:
  AccountOpened: .event.owner as $o | .state | .owner = $o
  MoneyDeposited: .event.amount as $a | .state | .balance += ($a | tonumber)
`

// changedStates renders Changed as "topic/partition id state" lines.
func changedStates(mf *MemberFold) []string {
	var out []string
	for _, s := range mf.Changed() {
		out = append(out, s.Partition.Topic+"/"+itoa(int(s.Partition.Partition))+" "+s.ID+" "+string(s.State))
	}
	return out
}

// A member folds each partition apart, yields only what changed since it
// last asked, and a member that takes a partition over from the states
// the first one wrote folds on to what one fold of every event gives.
func TestMemberFold(t *testing.T) {
	p := parseSpec(t, memberSpec)
	ctx := t.Context()
	apply := func(mf *MemberFold, rs ...*record.Record) {
		t.Helper()
		for _, r := range rs {
			if _, err := mf.Apply(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	first := p.NewMemberFold()
	apply(first, opened(0, 0, "a", "Ann", 1), opened(1, 0, "b", "Bo", 1), deposited(0, 1, "a", "5", 2))
	got := changedStates(first)
	want := []string{
		`bank.account-events/0 a {"balance":5,"owner":"Ann"}`,
		`bank.account-events/1 b {"balance":0,"owner":"Bo"}`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("first Changed (-want +got):\n%s", diff)
	}
	apply(first, deposited(1, 1, "b", "2", 2))
	if diff := cmp.Diff([]string{`bank.account-events/1 b {"balance":2,"owner":"Bo"}`}, changedStates(first)); diff != "" {
		t.Fatalf("second Changed (-want +got):\n%s", diff)
	}
	if first.Len() != 2 || first.Created() != 2 {
		t.Errorf("Len = %d, Created = %d, want 2 and 2", first.Len(), first.Created())
	}

	// Partition 0 moves to a second member, which restores its states.
	first.Drop(SourcePartition{"bank.account-events", 0})
	if first.Len() != 1 {
		t.Errorf("Len after Drop = %d, want 1", first.Len())
	}
	second := p.NewMemberFold()
	sp := SourcePartition{"bank.account-events", 0}
	if err := second.Restore(sp, "a", []byte(`{"balance":1,"owner":"Old"}`), opened(0, 0, "a", "", 1).Timestamp.Time); err != nil {
		t.Fatal(err)
	}
	if err := second.Restore(sp, "a", []byte(`{"balance":5,"owner":"Ann"}`), opened(0, 0, "a", "", 1).Timestamp.Time); err != nil {
		t.Fatal(err) // the latest restored wins
	}
	if err := second.Restore(sp, "gone", nil, opened(0, 0, "a", "", 1).Timestamp.Time); err != nil {
		t.Fatal(err)
	}
	if got := changedStates(second); len(got) != 0 {
		t.Errorf("restored states yielded as changed: %q", got)
	}
	apply(second, deposited(0, 2, "a", "7", 3), opened(0, 3, "gone", "New", 1))
	want = []string{
		`bank.account-events/0 a {"balance":12,"owner":"Ann"}`,
		`bank.account-events/0 gone {"balance":0,"owner":"New"}`, // a deleted aggregate starts again
	}
	if diff := cmp.Diff(want, changedStates(second)); diff != "" {
		t.Fatalf("Changed after the restore (-want +got):\n%s", diff)
	}
	if second.Created() != 0 || second.Len() != 2 {
		t.Errorf("after the restore: Created = %d, Len = %d, want 0 and 2", second.Created(), second.Len())
	}

	_, whole := foldAll(t, p, opened(0, 0, "a", "Ann", 1), deposited(0, 1, "a", "5", 2), deposited(0, 2, "a", "7", 3))
	if s, _ := second.folds[sp].Get("a"); !cmp.Equal(canonicalJSON(t, s), whole["a"]) {
		t.Errorf("taken-over state %s, one fold gives %v", s, whole["a"])
	}
}

func TestMemberFoldAggregateOnTwoPartitions(t *testing.T) {
	p := parseSpec(t, memberSpec)
	mf := p.NewMemberFold()
	if _, err := mf.Apply(t.Context(), opened(0, 0, "a", "Ann", 1)); err != nil {
		t.Fatal(err)
	}
	_, err := mf.Apply(t.Context(), deposited(3, 0, "a", "1", 2))
	if err == nil || !strings.Contains(err.Error(), `aggregate "a" has events in bank.account-events/0 and bank.account-events/3`) {
		t.Fatalf("err = %v, want the aggregate on two partitions named", err)
	}
}

func TestMemberFoldRestoreNotJSON(t *testing.T) {
	mf := parseSpec(t, memberSpec).NewMemberFold()
	err := mf.Restore(SourcePartition{"t", 2}, "a", []byte("not json"), opened(0, 0, "a", "", 1).Timestamp.Time)
	if err == nil || !strings.Contains(err.Error(), `restore aggregate "a" of t/2`) {
		t.Fatalf("err = %v", err)
	}
}
