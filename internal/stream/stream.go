// Package stream turns Kafka messages into decoded, filtered records in
// parallel while keeping their order: read → decode → select → format
// on worker goroutines, then handed to one sink in the order they were read.
package stream

import (
	"context"
	"errors"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/evctl/evctl/internal/filter"
	"github.com/evctl/evctl/internal/record"
)

// Source yields messages; io.EOF ends a bounded read.
type Source interface {
	Read(ctx context.Context) (*record.Message, error)
}

// Decoder turns a message into a record; it must never fail (an
// undecodable payload is a record with Error set) and be safe for
// concurrent use.
type Decoder interface {
	Decode(ctx context.Context, m *record.Message) *record.Record
}

// Options say what to keep and how to render it.
type Options struct {
	Decoder Decoder
	// Key keeps records whose key, as text, equals it (when KeySet).
	Key    string
	KeySet bool
	// Types keeps records whose type or its short name is listed.
	Types []string
	// TypeSkipped, when set, is told the type of each record Types drops,
	// from the workers at once: a run that found none can say which
	// types there were.
	TypeSkipped func(typ string)
	Filter      *filter.Filter
	// Format, when set, renders each kept record on the workers,
	// appending it to buf (which holds the batch's earlier records).
	Format func(buf []byte, r *record.Record) ([]byte, error)
	// Workers decoding in parallel; 0 means GOMAXPROCS.
	Workers int
	// BatchSize caps how many messages a worker takes at once.
	BatchSize int
	// Idle, when set, is called on the sink's goroutine whenever no more
	// records are ready: the moment to flush buffered output.
	Idle func() error
}

// Item is one kept record and, with Options.Format, its rendering.
type Item struct {
	Record *record.Record
	// Out is valid only until the sink returns: its memory renders
	// later batches.
	Out []byte
}

// Stats count what happened to the messages read.
type Stats struct {
	Read         int64 // messages read from the source
	Kept         int64 // records handed to the sink
	Undecodable  int64 // kept records whose key or value did not decode
	FilteredOut  int64 // records dropped by --key, --type or --filter
	FilterErrors int64 // records the jq filter failed on (counted as filtered out)
	// FirstFilterError is the first jq runtime error, to show the user.
	FirstFilterError error
}

type batch struct {
	msgs  []*record.Message
	items []Item
	out   []byte // what the items' Out point into
	err   error
	done  chan struct{}
}

// Run reads src until io.EOF, ctx ends, or sink returns an error, and
// calls sink for each kept record, in read order, from one goroutine.
// Returning ErrStop from sink ends the run without error.
func Run(ctx context.Context, src Source, opts Options, sink func(Item) error) (*Stats, error) {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	size := opts.BatchSize
	if size <= 0 {
		size = 256
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	st := &Stats{}
	var filterErrMu sync.Mutex
	msgs := make(chan *record.Message, 4*size)
	work := make(chan *batch, workers)
	order := make(chan *batch, 2*workers)
	readErr := make(chan error, 1)

	// The reader runs apart from the batcher so that an idle source hands
	// out what it has at once (low latency when following) while a busy
	// one fills whole batches (throughput when reading history).
	go func() {
		defer close(msgs)
		for {
			m, err := src.Read(ctx)
			if err != nil {
				if !errors.Is(err, io.EOF) {
					readErr <- err
				}
				return
			}
			select {
			case msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		defer close(order)
		defer close(work)
		for m := range msgs {
			b := &batch{msgs: make([]*record.Message, 1, size), done: make(chan struct{})}
			b.msgs[0] = m
		fill:
			for len(b.msgs) < size {
				select {
				case m, ok := <-msgs:
					if !ok {
						break fill
					}
					b.msgs = append(b.msgs, m)
				default:
					break fill
				}
			}
			select {
			case order <- b:
			case <-ctx.Done():
				return
			}
			work <- b
		}
	}()
	var outHint atomic.Int64               // the largest rendering of a full batch so far
	free := make(chan []byte, 2*workers+2) // renderings the sink is done with
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for b := range work {
				atomic.AddInt64(&st.Read, int64(len(b.msgs)))
				b.items = make([]Item, 0, len(b.msgs))
				// The batch's renderings share one buffer, reused once
				// the sink is done with them: growing a buffer per
				// record from nothing was a third of rendering a bank
				// event, and the buffers a third of what tail allocated.
				var out []byte
				if opts.Format != nil {
					select {
					case out = <-free:
					default:
						out = make([]byte, 0, outHint.Load()/int64(size)*int64(len(b.msgs))+4096)
					}
				}
				for _, m := range b.msgs {
					if ctx.Err() != nil {
						break // the run is over: what is left would only fail
					}
					r, keep, ferr := selectRecord(ctx, m, &opts)
					if ferr != nil && ctx.Err() == nil {
						atomic.AddInt64(&st.FilterErrors, 1)
						filterErrMu.Lock()
						if st.FirstFilterError == nil {
							st.FirstFilterError = ferr
						}
						filterErrMu.Unlock()
					}
					if !keep {
						atomic.AddInt64(&st.FilteredOut, 1)
						continue
					}
					it := Item{Record: r}
					if opts.Format != nil {
						start := len(out)
						var err error
						if out, err = opts.Format(out, r); err != nil {
							b.err = err
							break
						}
						// An item keeps its bytes when out grows: the
						// old array stays as it was.
						it.Out = out[start:len(out):len(out)]
					}
					b.items = append(b.items, it)
				}
				if n := int64(len(out)) * int64(size) / int64(max(len(b.msgs), 1)); n > outHint.Load() {
					outHint.Store(n)
				}
				b.out = out
				close(b.done)
			}
		})
	}
	defer wg.Wait()

	var err error
	for b := range order {
		<-b.done
		if err == nil {
			err = b.err
		}
		for _, it := range b.items {
			if err != nil {
				break
			}
			st.Kept++
			if it.Record.Error != "" {
				st.Undecodable++
			}
			err = sink(it)
		}
		if b.out != nil {
			select {
			case free <- b.out[:0]:
			default:
			}
		}
		if err == nil && opts.Idle != nil && len(order) == 0 {
			err = opts.Idle()
		}
		if err != nil {
			cancel()
		}
	}
	if err == nil {
		select {
		case err = <-readErr:
		default:
			err = ctx.Err()
		}
	}
	if errors.Is(err, ErrStop) {
		err = nil
	}
	return st, err
}

// ErrStop, returned by a sink, ends the run cleanly (say, after --max).
var ErrStop = errors.New("stop")

// selectRecord decodes m and applies the cheap selections first: a key
// that is plain text is compared before anything is decoded.
func selectRecord(ctx context.Context, m *record.Message, o *Options) (*record.Record, bool, error) {
	if o.KeySet && plainKeyMismatch(m, o) {
		return nil, false, nil
	}
	r := o.Decoder.Decode(ctx, m)
	if o.KeySet {
		if k, ok := r.KeyText(); !ok || k != o.Key {
			return nil, false, nil
		}
	}
	if len(o.Types) > 0 && !record.TypeMatches(r.Type, o.Types) {
		if o.TypeSkipped != nil {
			o.TypeSkipped(r.Type)
		}
		return nil, false, nil
	}
	if o.Filter != nil {
		ok, err := o.Filter.Match(ctx, r)
		if err != nil || !ok {
			return nil, false, err
		}
	}
	return r, true, nil
}

// plainKeyDecoder is a Decoder that can tell a key's text without
// decoding the record (schema.Decoder).
type plainKeyDecoder interface {
	PlainKeyText(m *record.Message) (text string, hasText, plain bool)
}

// plainKeyMismatch is true when the key surely is not want as text: it
// needs no schema to decode, and its text (or its null) differs.
func plainKeyMismatch(m *record.Message, o *Options) bool {
	d, ok := o.Decoder.(plainKeyDecoder)
	if !ok {
		return false
	}
	text, hasText, plain := d.PlainKeyText(m)
	return plain && (!hasText || text != o.Key)
}
