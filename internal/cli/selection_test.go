package cli

import (
	"context"
	"io"
	"slices"
	"testing"

	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/schema"
	"github.com/evctl/evctl/internal/stream"
)

// messages is a stream.Source over a fixed list.
type messages []*record.Message

func (ms *messages) Read(context.Context) (*record.Message, error) {
	if len(*ms) == 0 {
		return nil, io.EOF
	}
	m := (*ms)[0]
	*ms = (*ms)[1:]
	return m, nil
}

// TestTailAndReplaySelectTheSameKeys runs tail's selection (stream) and
// replay's (replaySelection) over the same records: one key, as text, is
// one key to both, and neither takes a null key for the empty one.
func TestTailAndReplaySelectTheSameKeys(t *testing.T) {
	value := []byte(`{"n":1}`)
	msgs := []*record.Message{
		{Offset: 0, Key: nil, Value: value},                      // null key
		{Offset: 1, Key: []byte{}, Value: value},                 // empty key
		{Offset: 2, Key: []byte("k1"), Value: value},             // text
		{Offset: 3, Key: []byte(`"k1"`), Value: value},           // a JSON string
		{Offset: 4, Key: []byte{0xff, 0x01}, Value: value},       // bytes
		{Offset: 5, Key: []byte(`{"b":1, "a":2}`), Value: value}, // JSON
		{Offset: 6, Key: []byte("null"), Value: value},           // the text null
	}
	noRegistry := func() (*schema.RegistryClient, error) { return nil, nil }
	for key, want := range map[string][]int64{
		"":              {1},
		"k1":            {2, 3},
		"base64:/wE=":   {4},
		`{"a":2,"b":1}`: {5},
		"null":          {6},
		"absent":        nil,
	} {
		for _, typed := range []bool{false, true} { // --type makes both decode first
			var types []string
			if typed {
				types = []string{"", "x"}
			}
			dec, err := newDecoder(noRegistry, schema.DecoderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			src := messages(slices.Clone(msgs))
			var tail []int64
			_, err = stream.Run(context.Background(), &src, stream.Options{Decoder: dec, Key: key, KeySet: true, Types: types, Workers: 1}, func(it stream.Item) error {
				tail = append(tail, it.Record.Offset)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}

			o := &ReplayOptions{Registry: noRegistry, Keys: []string{key}, Types: types}
			if err := loadKeys(o); err != nil {
				t.Fatal(err)
			}
			selection, _, err := replaySelection(o, nil, false)
			if err != nil {
				t.Fatal(err)
			}
			sel := selection.Selector()
			var rep []int64
			for _, m := range msgs {
				keep, _, err := sel(context.Background(), m)
				if err != nil {
					t.Fatal(err)
				}
				if keep {
					rep = append(rep, m.Offset)
				}
			}
			if !slices.Equal(tail, want) || !slices.Equal(rep, want) {
				t.Errorf("--key %q (--type: %v): tail keeps %v, replay keeps %v; want %v", key, typed, tail, rep, want)
			}
		}
	}
}
