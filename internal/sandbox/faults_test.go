package sandbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/sandbox"
)

// finding is what the reference checker below reports.
type finding struct {
	Kind      sandbox.FaultKind
	Account   string
	Partition int32
	Offset    int64
}

// TestFaultsTopicHoldsOneOfEachProblem reads the faulty topic back, decodes
// it as evctl does, runs a plain checker over it and finds exactly the
// documented faults, each once.
func TestFaultsTopicHoldsOneOfEachProblem(t *testing.T) {
	opts := sandbox.Options{Now: testNow, Accounts: 10, Events: 100, Seed: 9, Faults: true}
	s := start(t, opts)
	ctx := context.Background()

	dec := evctlDecoder(t, s)
	recs := consume(t, s, sandbox.FaultsTopic)
	if want := sandbox.ExpectedCounts(s.Options())[sandbox.FaultsTopic]; len(recs) != want || want < 40 {
		t.Errorf("%s: %d records, ExpectedCounts %d", sandbox.FaultsTopic, len(recs), want)
	}
	partitions := map[int32]bool{}
	for _, r := range recs {
		partitions[r.Partition] = true
	}
	if len(partitions) < 5 {
		t.Errorf("records on partitions %v only", partitions)
	}

	var got []finding
	report := func(kind sandbox.FaultKind, r *kgo.Record) {
		got = append(got, finding{kind, string(r.Key), r.Partition, r.Offset})
	}
	type aggregate struct {
		partition int32
		version   int
		last      time.Time
		closed    bool
		balance   int64
	}
	aggregates := map[string]*aggregate{}
	eventIDs := map[string]bool{}
	types := map[string]int{}
	for _, r := range recs { // partition by partition, offsets rising
		d := dec.Decode(ctx, message(r))
		headers := map[string]string{}
		for _, h := range r.Headers {
			headers[h.Key] = string(h.Value)
		}
		if len(headers[sandbox.HeaderEventID]) != 36 || len(headers[sandbox.HeaderCorrelationID]) != 36 || headers[sandbox.HeaderEventType] == "" {
			t.Errorf("%d/%d: headers %v", r.Partition, r.Offset, headers)
		}
		if eventIDs[headers[sandbox.HeaderEventID]] {
			report(sandbox.FaultDuplicateEventID, r)
		}
		eventIDs[headers[sandbox.HeaderEventID]] = true

		id := string(r.Key)
		a := aggregates[id]
		if a == nil {
			a = &aggregate{partition: r.Partition}
			aggregates[id] = a
		}
		if r.Partition != a.partition {
			report(sandbox.FaultSplitPartitions, r)
		}
		if r.Timestamp.Before(a.last) {
			report(sandbox.FaultTimeBackwards, r)
		}
		a.last = r.Timestamp

		switch {
		case d.Error != "" && d.Schema != nil:
			report(sandbox.FaultUndecodable, r)
			continue
		case d.Error != "":
			t.Fatalf("%d/%d: %s", r.Partition, r.Offset, d.Error)
		case d.ValueEncoding == record.EncodingJSON:
			report(sandbox.FaultNoSchema, r)
			continue
		case d.ValueEncoding != record.EncodingAvro:
			t.Fatalf("%d/%d: encoding %s", r.Partition, r.Offset, d.ValueEncoding)
		}
		var ev struct {
			EventID   string `json:"eventId"`
			AccountID string `json:"accountId"`
			Version   int    `json:"version"`
			Amount    string `json:"amount"`
		}
		if err := json.Unmarshal(d.Value, &ev); err != nil {
			t.Fatalf("%d/%d: %v: %s", r.Partition, r.Offset, err, d.Value)
		}
		typ := strings.TrimPrefix(d.Type, "com.bank.")
		types[typ]++
		if ev.AccountID != id || ev.EventID != headers[sandbox.HeaderEventID] || typ != headers[sandbox.HeaderEventType] {
			t.Errorf("%d/%d: key %s, headers %v; event %s %+v", r.Partition, r.Offset, id, headers, typ, ev)
		}
		switch {
		case ev.Version == a.version:
			report(sandbox.FaultDuplicateVersion, r)
		case ev.Version > a.version+1:
			report(sandbox.FaultVersionGap, r)
		case ev.Version < a.version:
			t.Errorf("%d/%d: version %d after %d", r.Partition, r.Offset, ev.Version, a.version)
		}
		a.version = ev.Version
		if a.closed {
			report(sandbox.FaultAfterTerminal, r)
		}
		switch typ {
		case sandbox.TypeAccountOpened:
			a.balance = 0
		case sandbox.TypeMoneyDeposited:
			a.balance += amountCents(t, ev.Amount)
		case sandbox.TypeMoneyWithdrawn:
			a.balance -= amountCents(t, ev.Amount)
			if a.balance < 0 {
				report(sandbox.FaultNegativeBalance, r)
			}
		case sandbox.TypeAccountClosed:
			a.closed = true
		default:
			report(sandbox.FaultUnknownType, r)
		}
	}

	var want []finding
	for _, f := range sandbox.Faults(s.Options()) {
		want = append(want, finding{f.Kind, f.Account, f.Partition, f.Offset})
	}
	sortFindings(got)
	sortFindings(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-Faults +checker):\n%s", diff)
	}
	if len(want) != 10 || len(aggregates) != 16 {
		t.Errorf("%d faults over %d accounts, want 10 over 16", len(want), len(aggregates))
	}
	for _, typ := range []string{sandbox.TypeAccountOpened, sandbox.TypeMoneyDeposited, sandbox.TypeMoneyWithdrawn, sandbox.TypeAccountClosed} {
		if types[typ] == 0 {
			t.Errorf("no %s: %v", typ, types)
		}
	}
	if types[sandbox.TypeInterestAccrued] != 1 {
		t.Errorf("%d InterestAccrued, want 1", types[sandbox.TypeInterestAccrued])
	}
}

// TestFaultsAreDocumented pins what FaultsTopic's comment says of each
// fault, record by record.
func TestFaultsAreDocumented(t *testing.T) {
	opts := sandbox.Options{Now: testNow, Accounts: 5, Events: 30, Seed: 4, Faults: true}
	s := start(t, opts)
	faults := sandbox.Faults(s.Options())
	byOffset := map[string]*kgo.Record{}
	for _, r := range consume(t, s, sandbox.FaultsTopic) {
		byOffset[fmt.Sprint(r.Partition, "/", r.Offset)] = r
	}
	wantAccounts := map[sandbox.FaultKind]string{
		sandbox.FaultVersionGap: "acct-0007", sandbox.FaultDuplicateVersion: "acct-0008",
		sandbox.FaultDuplicateEventID: "acct-0009", sandbox.FaultSplitPartitions: "acct-0010",
		sandbox.FaultAfterTerminal: "acct-0011", sandbox.FaultTimeBackwards: "acct-0012",
		sandbox.FaultUndecodable: "acct-0013", sandbox.FaultNoSchema: "acct-0014",
		sandbox.FaultUnknownType: "acct-0015", sandbox.FaultNegativeBalance: "acct-0016",
	}
	if len(faults) != len(wantAccounts) {
		t.Fatalf("%d faults, want %d", len(faults), len(wantAccounts))
	}
	for _, f := range faults {
		if f.Account != wantAccounts[f.Kind] {
			t.Errorf("%s on %s, want %s", f.Kind, f.Account, wantAccounts[f.Kind])
		}
		r := byOffset[fmt.Sprint(f.Partition, "/", f.Offset)]
		if r == nil {
			t.Errorf("%s: no record at %d/%d", f.Kind, f.Partition, f.Offset)
			continue
		}
		headers := map[string]string{}
		for _, h := range r.Headers {
			headers[h.Key] = string(h.Value)
		}
		if string(r.Key) != f.Account || headers[sandbox.HeaderEventID] != f.EventID || headers[sandbox.HeaderEventType] != f.Type {
			t.Errorf("%s: record %s %v, fault %+v", f.Kind, r.Key, headers, f)
		}
		home := sandbox.KeyPartition(r.Key, sandbox.FaultsPartitions)
		if f.Kind == sandbox.FaultSplitPartitions {
			if f.Partition != home+1 {
				t.Errorf("%s: on partition %d, home %d: want the next one", f.Kind, f.Partition, home)
			}
		} else if f.Partition != home {
			t.Errorf("%s: on partition %d, want %d", f.Kind, f.Partition, home)
		}
		switch f.Kind {
		case sandbox.FaultUndecodable:
			if len(r.Value) < 6 || r.Value[0] != 0 || r.Value[5] != 0x0e {
				t.Errorf("%s: value % x", f.Kind, r.Value)
			}
		case sandbox.FaultNoSchema:
			var v map[string]any
			if err := json.Unmarshal(r.Value, &v); err != nil || v["type"] != sandbox.TypeMoneyDeposited || v["version"] != 3.0 {
				t.Errorf("%s: value %s: %v", f.Kind, r.Value, err)
			}
		case sandbox.FaultVersionGap:
			if f.Version != 4 {
				t.Errorf("%s: version %d", f.Kind, f.Version)
			}
		case sandbox.FaultDuplicateVersion:
			if f.Version != 2 || f.Type != sandbox.TypeMoneyWithdrawn {
				t.Errorf("%s: %s version %d", f.Kind, f.Type, f.Version)
			}
		case sandbox.FaultUnknownType:
			if f.Type != sandbox.TypeInterestAccrued {
				t.Errorf("%s: type %s", f.Kind, f.Type)
			}
		}
		if f.Detail == "" {
			t.Errorf("%s: no detail", f.Kind)
		}
	}
	// Faults is a pure function of the options.
	if diff := cmp.Diff(faults, sandbox.Faults(s.Options())); diff != "" {
		t.Errorf("Faults differs between two calls:\n%s", diff)
	}
	if history := testNow.Sub(minTimestamp(byOffset)); history > 24*time.Hour {
		t.Errorf("faulty history spans %v before Now, want at most a day", history)
	}
}

func TestFaultsRegisterASecondSchemaVersion(t *testing.T) {
	s := start(t, sandbox.Options{Now: testNow, Events: 10, Accounts: 5, Faults: true})
	ctx := context.Background()
	cl, err := sr.NewClient(sr.URLs(s.RegistryURL()))
	if err != nil {
		t.Fatal(err)
	}
	versions, err := cl.SubjectVersions(ctx, sandbox.SubjectFaultsValue)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(versions, []int{1, 2}) {
		t.Errorf("%s versions %v, want [1 2]", sandbox.SubjectFaultsValue, versions)
	}
	main, err := cl.SchemaByVersion(ctx, sandbox.SubjectAccountEventsValue, -1)
	if err != nil {
		t.Fatal(err)
	}
	v1, err := cl.SchemaByVersion(ctx, sandbox.SubjectFaultsValue, 1)
	if err != nil {
		t.Fatal(err)
	}
	if v1.ID != main.ID {
		t.Errorf("%s v1 has id %d, the bank's union %d", sandbox.SubjectFaultsValue, v1.ID, main.ID)
	}
	v2, err := cl.SchemaByVersion(ctx, sandbox.SubjectFaultsValue, 2)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(v2.References); n != 5 || v2.References[4].Subject != sandbox.SubjectInterestAccrued {
		t.Errorf("v2 references %+v, want the 4 events and InterestAccrued", v2.References)
	}

	// Without Faults: no topic, no subjects.
	plain := start(t, sandbox.Options{Now: testNow, Events: 10, Accounts: 5})
	cl2, err := sr.NewClient(sr.URLs(plain.RegistryURL()))
	if err != nil {
		t.Fatal(err)
	}
	subjects, err := cl2.Subjects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(subjects, sandbox.SubjectFaultsValue) || slices.Contains(subjects, sandbox.SubjectInterestAccrued) {
		t.Errorf("subjects without Faults: %v", subjects)
	}
	if _, ok := sandbox.ExpectedCounts(plain.Options())[sandbox.FaultsTopic]; ok {
		t.Errorf("ExpectedCounts without Faults counts %s", sandbox.FaultsTopic)
	}
}

func TestFaultsSameSeedSameRecords(t *testing.T) {
	opts := sandbox.Options{Now: testNow, Accounts: 5, Events: 20, Seed: 42, Faults: true}
	a, b := start(t, opts), start(t, opts)
	if diff := cmp.Diff(comparable(consume(t, a, sandbox.FaultsTopic)), comparable(consume(t, b, sandbox.FaultsTopic))); diff != "" {
		t.Errorf("%s differs between two sandboxes with seed 42 (-first +second):\n%s", sandbox.FaultsTopic, diff)
	}
}

func message(r *kgo.Record) *record.Message {
	m := &record.Message{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp, Key: r.Key, Value: r.Value}
	for _, h := range r.Headers {
		m.Headers = append(m.Headers, record.RawHeader{Key: h.Key, Value: h.Value})
	}
	return m
}

func sortFindings(fs []finding) {
	slices.SortFunc(fs, func(a, b finding) int {
		return strings.Compare(string(a.Kind)+a.Account+strconv.Itoa(int(a.Partition)), string(b.Kind)+b.Account+strconv.Itoa(int(b.Partition)))
	})
}

func minTimestamp(recs map[string]*kgo.Record) time.Time {
	oldest := testNow
	for _, r := range recs {
		oldest = minTime(oldest, r.Timestamp)
	}
	return oldest
}

// amountCents reads a decimal amount as evctl renders it ("120.50").
func amountCents(t *testing.T, amount string) int64 {
	t.Helper()
	r, ok := new(big.Rat).SetString(amount)
	if !ok {
		t.Fatalf("amount %q is not a decimal", amount)
	}
	return cents(t, r)
}
