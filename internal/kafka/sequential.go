package kafka

import (
	"cmp"
	"context"
	"errors"
	"io"
	"slices"
	"strings"

	"github.com/evctl/evctl/internal/record"
)

// SequentialReader reads a bounded range of partitions one after another,
// in topic then partition order, each in offset order, where a Reader
// interleaves partitions as the fetches happen to come back. Whatever
// acts on the first record of a kind (a fold's first failure, the first
// few records it skipped, a linter's findings, a stream of changes
// written as they happen) then meets the same record first on every run.
// The price is one partition's fetches at a time. Not safe for concurrent
// use.
type SequentialReader struct {
	cfg    Config
	ranges []PartitionRange
	next   int     // index in ranges of the next partition to open
	cur    *Reader // the partition being read; nil between partitions
}

// NewSequentialReader captures the ranges opts names, as NewReader does,
// and reads them in order; opts must be bounded (no Follow).
func NewSequentialReader(ctx context.Context, cfg Config, opts ReadOptions) (*SequentialReader, error) {
	if opts.Follow && opts.To.IsZero() {
		return nil, errors.New("a sequential read needs an end: it cannot follow")
	}
	probe, err := NewReader(ctx, cfg, opts)
	if err != nil {
		return nil, err
	}
	ranges := probe.Ranges()
	probe.Close()
	slices.SortFunc(ranges, func(a, b PartitionRange) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return &SequentialReader{cfg: cfg, ranges: ranges}, nil
}

// Ranges returns what the reader reads, in the order it reads it.
func (s *SequentialReader) Ranges() []PartitionRange { return slices.Clone(s.ranges) }

// Read returns the next record, and io.EOF after the last partition's end.
func (s *SequentialReader) Read(ctx context.Context) (*record.Message, error) {
	for {
		if s.cur == nil {
			if s.next == len(s.ranges) {
				return nil, io.EOF
			}
			pr := s.ranges[s.next]
			s.next++
			if pr.End <= pr.Start {
				continue
			}
			tp := TopicPartition{Topic: pr.Topic, Partition: pr.Partition}
			r, err := NewReader(ctx, s.cfg, ReadOptions{
				Topics: []string{pr.Topic}, Partitions: []int32{pr.Partition},
				StartOffsets: map[TopicPartition]int64{tp: pr.Start},
				StopOffsets:  map[TopicPartition]int64{tp: pr.End},
			})
			if err != nil {
				return nil, err
			}
			s.cur = r
		}
		m, err := s.cur.Read(ctx)
		if errors.Is(err, io.EOF) {
			s.cur.Close()
			s.cur = nil
			continue
		}
		return m, err
	}
}

// Close closes the partition being read, if any.
func (s *SequentialReader) Close() {
	if s.cur != nil {
		s.cur.Close()
		s.cur = nil
	}
}
