package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"testing"

	"github.com/evctl/evctl/internal/filter"
	"github.com/evctl/evctl/internal/record"
)

// sliceSource yields messages from memory; the pipeline, not Kafka, is
// under test here.
type sliceSource struct {
	msgs []*record.Message
	i    int
}

func (s *sliceSource) Read(ctx context.Context) (*record.Message, error) {
	if s.i == len(s.msgs) {
		return nil, io.EOF
	}
	s.i++
	return s.msgs[s.i-1], ctx.Err()
}

// textDecoder renders keys as JSON strings and values as they are.
type textDecoder struct{}

func (textDecoder) Decode(_ context.Context, m *record.Message) *record.Record {
	k, _ := json.Marshal(string(m.Key))
	r := &record.Record{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: k, Value: m.Value, Type: "com.bank." + string(m.Headers[0].Value)}
	if !json.Valid(m.Value) {
		r.Error = "value: not JSON"
		r.Value = json.RawMessage(`null`)
	}
	return r
}

func messages(n int) []*record.Message {
	out := make([]*record.Message, n)
	for i := range out {
		typ := "MoneyDeposited"
		if i%3 == 0 {
			typ = "MoneyWithdrawn"
		}
		v := []byte(fmt.Sprintf(`{"n":%d}`, i))
		if i%10 == 7 {
			v = []byte("\xff")
		}
		out[i] = &record.Message{Topic: "t", Offset: int64(i), Key: []byte("acct-" + strconv.Itoa(i%5)), Value: v,
			Headers: []record.RawHeader{{Key: "type", Value: []byte(typ)}}}
	}
	return out
}

func TestRunKeepsOrderAcrossWorkers(t *testing.T) {
	const n = 5000
	var got []int64
	st, err := Run(context.Background(), &sliceSource{msgs: messages(n)}, Options{Decoder: textDecoder{}, Workers: 4, BatchSize: 7},
		func(it Item) error { got = append(got, it.Record.Offset); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("got %d records, want %d", len(got), n)
	}
	for i, off := range got {
		if off != int64(i) {
			t.Fatalf("record %d has offset %d: order lost", i, off)
		}
	}
	if st.Read != n || st.Kept != n || st.Undecodable != n/10 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestRunSelects(t *testing.T) {
	f, err := filter.Compile(`.value.n >= 30`)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Decoder: textDecoder{}, Key: "acct-1", KeySet: true, Types: []string{"MoneyWithdrawn"}, Filter: f}
	var got []int64
	st, err := Run(context.Background(), &sliceSource{msgs: messages(100)}, opts, func(it Item) error {
		got = append(got, it.Record.Offset)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// key acct-1: offsets ≡ 1 mod 5; withdrawn: ≡ 0 mod 3; n >= 30; 7 mod 10 is not JSON.
	want := []int64{36, 51, 66, 81, 96}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if st.FilteredOut != 95 || st.FilterErrors != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestRunStopsOnSinkError(t *testing.T) {
	boom := errors.New("boom")
	n := 0
	_, err := Run(context.Background(), &sliceSource{msgs: messages(10000)}, Options{Decoder: textDecoder{}}, func(Item) error {
		n++
		if n == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || n != 10 {
		t.Fatalf("err = %v after %d records; want boom after 10", err, n)
	}
	n = 0
	_, err = Run(context.Background(), &sliceSource{msgs: messages(10000)}, Options{Decoder: textDecoder{}}, func(Item) error {
		n++
		if n == 3 {
			return ErrStop
		}
		return nil
	})
	if err != nil || n != 3 {
		t.Fatalf("ErrStop: err = %v after %d records", err, n)
	}
}

func TestRunFormatsOnWorkers(t *testing.T) {
	format := func(buf []byte, r *record.Record) ([]byte, error) {
		return strconv.AppendInt(buf, r.Offset, 10), nil
	}
	var out []byte
	_, err := Run(context.Background(), &sliceSource{msgs: messages(20)}, Options{Decoder: textDecoder{}, Format: format}, func(it Item) error {
		out = append(append(out, it.Out...), ',')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19," {
		t.Fatalf("out = %s", out)
	}
}

// TestRunReusesRenderings: batches render into buffers the sink is done
// with, never into one whose records the sink has yet to see.
func TestRunReusesRenderings(t *testing.T) {
	format := func(buf []byte, r *record.Record) ([]byte, error) {
		for range r.Offset % 7 { // records of different lengths
			buf = append(buf, '.')
		}
		return strconv.AppendInt(buf, r.Offset, 10), nil
	}
	n := 0
	_, err := Run(context.Background(), &sliceSource{msgs: messages(5000)}, Options{Decoder: textDecoder{}, Format: format, Workers: 3, BatchSize: 16}, func(it Item) error {
		want, _ := format(nil, it.Record)
		if string(it.Out) != string(want) {
			return fmt.Errorf("record %d: Out = %q, want %q", it.Record.Offset, it.Out, want)
		}
		n++
		return nil
	})
	if err != nil || n != 5000 {
		t.Fatalf("Run: %d records, %v", n, err)
	}
}

func TestRunStopDoesNotCountFilterErrors(t *testing.T) {
	f, err := filter.Compile(`.value.n >= 0`)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Run(context.Background(), &sliceSource{msgs: messages(20000)}, Options{Decoder: textDecoder{}, Filter: f, Workers: 2, BatchSize: 8},
		func(Item) error { return ErrStop })
	if err != nil {
		t.Fatal(err)
	}
	if st.FilterErrors != 0 {
		t.Fatalf("stopping counted %d filter errors (first: %v)", st.FilterErrors, st.FirstFilterError)
	}
}
