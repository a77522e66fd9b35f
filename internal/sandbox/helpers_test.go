package sandbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/evctl/evctl/internal/sandbox"
	"github.com/evctl/evctl/internal/schema"
)

// testNow anchors every test sandbox so that runs compare.
var testNow = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

func start(t *testing.T, opts sandbox.Options) *sandbox.Sandbox {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := sandbox.Start(ctx, opts)
	if err != nil {
		t.Fatalf("start sandbox: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close sandbox: %v", err)
		}
	})
	return s
}

func newClient(t *testing.T, s *sandbox.Sandbox, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(s.Brokers())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// endOffsets returns each partition's high watermark.
func endOffsets(t *testing.T, ctx context.Context, cl *kgo.Client, topic string) map[int32]int64 {
	t.Helper()
	meta := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	meta.Topics = append(meta.Topics, mt)
	mresp, err := meta.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(mresp.Topics) != 1 || kerr.ErrorForCode(mresp.Topics[0].ErrorCode) != nil {
		t.Fatalf("metadata for %s: %+v", topic, mresp.Topics)
	}

	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for _, p := range mresp.Topics[0].Partitions {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = p.Partition
		rp.Timestamp = -1 // latest
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	ends := map[int32]int64{}
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				t.Fatalf("list offsets %s/%d: %v", topic, p.Partition, err)
			}
			ends[p.Partition] = p.Offset
		}
	}
	return ends
}

// consume reads topic from the start to the end offsets it has now, in
// partition order (partition 0 first), offsets ascending.
func consume(t *testing.T, s *sandbox.Sandbox, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := newClient(t, s, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ends := endOffsets(t, ctx, cl, topic)
	left := 0
	for _, end := range ends {
		left += int(end)
	}
	byPartition := make(map[int32][]*kgo.Record, len(ends))
	for left > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consume %s: %d records missing: %v", topic, left, err)
		}
		fetches.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fetches.EachRecord(func(r *kgo.Record) {
			byPartition[r.Partition] = append(byPartition[r.Partition], r)
			left--
		})
	}
	var out []*kgo.Record
	for p := range int32(len(ends)) {
		out = append(out, byPartition[p]...)
	}
	return out
}

// evctlDecoder is evctl's own decoder, through the sandbox's registry.
func evctlDecoder(t *testing.T, s *sandbox.Sandbox) *schema.Decoder {
	t.Helper()
	reg, err := schema.NewRegistryClient(schema.RegistryConfig{URL: s.RegistryURL()})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := schema.NewDecoder(schema.DecoderOptions{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	return dec
}
