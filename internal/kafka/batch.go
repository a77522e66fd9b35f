package kafka

// A consumer's fetched messages, polled in batches: one cgo call copies up
// to batchEvents of them into a Go buffer, where confluent-kafka-go's Poll
// makes one cgo call a message and converts each into a *Message of about
// a dozen allocations (its headers twice). On the 1M-record bank topic
// Poll was ~3 CPU-s of evctl tail's 8; see bench/README.md.
//
// The C code below calls the librdkafka that confluent-kafka-go links in,
// through the few declarations of its stable C ABI that it needs (the
// structs are rdkafka.h's own, unchanged since librdkafka 0.9). It reads
// the consumer's queue, which confluent-kafka-go keeps unexported, by
// reflection: consumerQueue. Where that fails (another version of the
// client) the Reader polls as before, and TestBatchPollerAvailable fails.

/*
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct rd_kafka_queue_s rd_kafka_queue_t;
typedef struct rd_kafka_event_s rd_kafka_event_t;
typedef struct rd_kafka_topic_s rd_kafka_topic_t;
typedef struct rd_kafka_headers_s rd_kafka_headers_t;
typedef int rd_kafka_resp_err_t;
typedef int rd_kafka_timestamp_type_t;

typedef struct rd_kafka_message_s {
	rd_kafka_resp_err_t err;
	rd_kafka_topic_t *rkt;
	int32_t partition;
	void *payload;
	size_t len;
	void *key;
	size_t key_len;
	int64_t offset;
	void *_private;
} rd_kafka_message_t;

typedef struct rd_kafka_topic_partition_s {
	char *topic;
	int32_t partition;
	int64_t offset;
	void *metadata;
	size_t metadata_size;
	void *opaque;
	rd_kafka_resp_err_t err;
	void *_private;
} rd_kafka_topic_partition_t;

typedef struct rd_kafka_topic_partition_list_s {
	int cnt;
	int size;
	rd_kafka_topic_partition_t *elems;
} rd_kafka_topic_partition_list_t;

rd_kafka_topic_partition_list_t *rd_kafka_event_topic_partition_list(rd_kafka_event_t *rkev);
rd_kafka_event_t *rd_kafka_queue_poll(rd_kafka_queue_t *rkqu, int timeout_ms);
int rd_kafka_event_type(const rd_kafka_event_t *rkev);
void rd_kafka_event_destroy(rd_kafka_event_t *rkev);
const rd_kafka_message_t *rd_kafka_event_message_next(rd_kafka_event_t *rkev);
rd_kafka_resp_err_t rd_kafka_event_error(rd_kafka_event_t *rkev);
const char *rd_kafka_event_error_string(rd_kafka_event_t *rkev);
int rd_kafka_event_error_is_fatal(rd_kafka_event_t *rkev);
rd_kafka_topic_partition_t *rd_kafka_event_topic_partition(rd_kafka_event_t *rkev);
void rd_kafka_topic_partition_destroy(rd_kafka_topic_partition_t *rktpar);
const char *rd_kafka_topic_name(const rd_kafka_topic_t *rkt);
int64_t rd_kafka_message_timestamp(const rd_kafka_message_t *rkmessage, rd_kafka_timestamp_type_t *tstype);
rd_kafka_resp_err_t rd_kafka_message_headers(const rd_kafka_message_t *rkmessage, rd_kafka_headers_t **hdrsp);
size_t rd_kafka_header_cnt(const rd_kafka_headers_t *hdrs);
rd_kafka_resp_err_t rd_kafka_header_get_all(const rd_kafka_headers_t *hdrs, size_t idx,
	const char **namep, const void **valuep, size_t *sizep);

#define EVCTL_EVENT_FETCH 0x2
#define EVCTL_EVENT_ERROR 0x8
#define EVCTL_EVENT_REBALANCE 0x10
#define EVCTL_ERR_PARTITION_EOF (-191)

enum { ENTRY_MESSAGE = 1, ENTRY_EOF = 2, ENTRY_ERROR = 3, ENTRY_MESSAGE_ERROR = 4, ENTRY_REBALANCE = 5 };
#define NULL_LEN UINT32_MAX
#define MAX_ERROR_STRING 4096

static void put8(unsigned char **p, uint8_t v) { **p = v; *p += 1; }
static void put16(unsigned char **p, uint16_t v) { memcpy(*p, &v, 2); *p += 2; }
static void put32(unsigned char **p, uint32_t v) { memcpy(*p, &v, 4); *p += 4; }
static void put64(unsigned char **p, uint64_t v) { memcpy(*p, &v, 8); *p += 8; }
static void putbytes(unsigned char **p, const void *b, size_t n) { if (n) memcpy(*p, b, n); *p += n; }

static size_t topic_len(const rd_kafka_topic_t *rkt) {
	size_t n = rkt ? strlen(rd_kafka_topic_name(rkt)) : 0;
	return n > UINT16_MAX ? UINT16_MAX : n;
}

static void put_topic(unsigned char **p, const rd_kafka_topic_t *rkt) {
	size_t n = topic_len(rkt);
	put16(p, (uint16_t)n);
	if (n) putbytes(p, rd_kafka_topic_name(rkt), n);
}

static size_t string_len(const char *s) {
	size_t n = s ? strlen(s) : 0;
	return n > MAX_ERROR_STRING ? MAX_ERROR_STRING : n;
}

// entry_size is how many bytes put_event writes for ev.
static size_t entry_size(rd_kafka_event_t *ev, const rd_kafka_message_t *m) {
	if (rd_kafka_event_type(ev) == EVCTL_EVENT_REBALANCE) {
		rd_kafka_topic_partition_list_t *l = rd_kafka_event_topic_partition_list(ev);
		size_t n = 1 + 4 + 4;
		for (int i = 0; l && i < l->cnt; i++)
			n += 2 + string_len(l->elems[i].topic) + 4 + 8;
		return n;
	}
	if (rd_kafka_event_type(ev) == EVCTL_EVENT_ERROR)
		return 1 + 4 + 4 + 8 + 1 + 2 + 2 + MAX_ERROR_STRING + UINT16_MAX;
	if (m->err)
		return 1 + 4 + 4 + 8 + 2 + topic_len(m->rkt) + 2 + (m->len > MAX_ERROR_STRING ? MAX_ERROR_STRING : m->len);
	size_t n = 1 + 4 + 8 + 8 + 1 + 2 + topic_len(m->rkt) + 4 + m->key_len + 4 + m->len + 2;
	rd_kafka_headers_t *hdrs = NULL;
	if (rd_kafka_message_headers(m, &hdrs) == 0 && hdrs) {
		size_t cnt = rd_kafka_header_cnt(hdrs);
		for (size_t i = 0; i < cnt; i++) {
			const char *name; const void *val; size_t size;
			if (rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == 0)
				n += 2 + strlen(name) + 4 + size;
		}
	}
	return n;
}

// put_event writes ev's entry at *p. ev is a fetch (one message, or a
// message carrying an error) or an error event (partition EOF among them).
static void put_event(unsigned char **p, rd_kafka_event_t *ev, const rd_kafka_message_t *m) {
	if (rd_kafka_event_type(ev) == EVCTL_EVENT_REBALANCE) {
		rd_kafka_topic_partition_list_t *l = rd_kafka_event_topic_partition_list(ev);
		int cnt = l ? l->cnt : 0;
		put8(p, ENTRY_REBALANCE);
		put32(p, (uint32_t)rd_kafka_event_error(ev));
		put32(p, (uint32_t)cnt);
		for (int i = 0; i < cnt; i++) {
			size_t n = string_len(l->elems[i].topic);
			put16(p, (uint16_t)n);
			putbytes(p, l->elems[i].topic, n);
			put32(p, (uint32_t)l->elems[i].partition);
			put64(p, (uint64_t)l->elems[i].offset);
		}
		return;
	}
	if (rd_kafka_event_type(ev) == EVCTL_EVENT_ERROR) {
		rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
		rd_kafka_topic_partition_t *tp = err == EVCTL_ERR_PARTITION_EOF ? rd_kafka_event_topic_partition(ev) : NULL;
		if (tp) {
			size_t n = string_len(tp->topic);
			put8(p, ENTRY_EOF);
			put32(p, (uint32_t)tp->partition);
			put64(p, (uint64_t)tp->offset);
			put16(p, (uint16_t)n);
			putbytes(p, tp->topic, n);
			rd_kafka_topic_partition_destroy(tp);
			return;
		}
		const char *s = rd_kafka_event_error_string(ev);
		size_t n = string_len(s);
		put8(p, ENTRY_ERROR);
		put32(p, (uint32_t)err);
		put8(p, (uint8_t)(rd_kafka_event_error_is_fatal(ev) != 0));
		put16(p, (uint16_t)n);
		putbytes(p, s, n);
		return;
	}
	if (m->err) {
		size_t n = m->len > MAX_ERROR_STRING ? MAX_ERROR_STRING : m->len;
		put8(p, ENTRY_MESSAGE_ERROR);
		put32(p, (uint32_t)m->err);
		put32(p, (uint32_t)m->partition);
		put64(p, (uint64_t)m->offset);
		put_topic(p, m->rkt);
		put16(p, (uint16_t)(m->payload ? n : 0));
		if (m->payload) putbytes(p, m->payload, n);
		return;
	}
	rd_kafka_timestamp_type_t tstype = 0;
	int64_t ts = rd_kafka_message_timestamp(m, &tstype);
	put8(p, ENTRY_MESSAGE);
	put32(p, (uint32_t)m->partition);
	put64(p, (uint64_t)m->offset);
	put64(p, (uint64_t)ts);
	put8(p, (uint8_t)tstype);
	put_topic(p, m->rkt);
	put32(p, m->key ? (uint32_t)m->key_len : NULL_LEN);
	if (m->key) putbytes(p, m->key, m->key_len);
	put32(p, m->payload ? (uint32_t)m->len : NULL_LEN);
	if (m->payload) putbytes(p, m->payload, m->len);
	rd_kafka_headers_t *hdrs = NULL;
	size_t cnt = 0;
	if (rd_kafka_message_headers(m, &hdrs) == 0 && hdrs)
		cnt = rd_kafka_header_cnt(hdrs);
	unsigned char *count = *p;
	put16(p, 0);
	uint16_t written = 0;
	for (size_t i = 0; i < cnt && written < UINT16_MAX; i++) {
		const char *name; const void *val; size_t size;
		if (rd_kafka_header_get_all(hdrs, i, &name, &val, &size) != 0)
			continue;
		size_t n = strlen(name);
		put16(p, (uint16_t)n);
		putbytes(p, name, n);
		put32(p, val ? (uint32_t)size : NULL_LEN);
		if (val) putbytes(p, val, size);
		written++;
	}
	memcpy(count, &written, 2);
}

// evctl_poll_batch writes the entries of up to max events of q into buf
// (cap bytes), waiting up to timeout_ms for the first: fetched messages,
// partition EOFs, errors and a rebalance, which ends the batch; other
// events (statistics) are dropped. An
// event that does not fit is kept in h for the next call, and need
// says how many bytes it takes; n is the bytes written.
typedef struct {
	rd_kafka_event_t *held;
	const rd_kafka_message_t *heldm; // held's message: an event yields it once
} evctl_held;

typedef struct {
	size_t n;    // bytes written
	size_t need; // bytes the held event takes, when it did not fit
	int rebalance; // the last entry is a rebalance
} evctl_polled;

static evctl_polled evctl_poll_batch(rd_kafka_queue_t *q, evctl_held *h, int timeout_ms,
		unsigned char *buf, size_t cap, int max) {
	unsigned char *p = buf;
	evctl_polled r = {0, 0, 0};
	for (int i = 0; i < max; i++) {
		rd_kafka_event_t *ev = h->held;
		const rd_kafka_message_t *m = h->heldm;
		h->held = NULL;
		h->heldm = NULL;
		if (!ev) {
			ev = rd_kafka_queue_poll(q, i == 0 ? timeout_ms : 0);
			if (!ev)
				break;
		}
		int type = rd_kafka_event_type(ev);
		if (type == EVCTL_EVENT_FETCH) {
			if (!m)
				m = rd_kafka_event_message_next(ev);
			if (!m) {
				rd_kafka_event_destroy(ev);
				continue;
			}
		} else if (type != EVCTL_EVENT_ERROR && type != EVCTL_EVENT_REBALANCE) {
			rd_kafka_event_destroy(ev);
			continue;
		}
		size_t n = entry_size(ev, m);
		if (n > cap - (size_t)(p - buf)) {
			h->held = ev;
			h->heldm = m;
			r.need = n;
			break;
		}
		put_event(&p, ev, m);
		rd_kafka_event_destroy(ev);
		if (type == EVCTL_EVENT_REBALANCE) {
			r.rebalance = 1;
			break; // what comes after it is of the assignment it makes
		}
	}
	r.n = (size_t)(p - buf);
	return r;
}

static evctl_held *evctl_held_new(void) { return calloc(1, sizeof(evctl_held)); }

// evctl_held_drop releases the held event when it is a message or an
// EOF of topic's partition, or of any partition when all is set: one
// fetched before a seek or an assignment, which the client's queue would
// have dropped.
static void evctl_held_drop(evctl_held *h, const char *topic, size_t topic_len, int32_t partition, int all) {
	rd_kafka_event_t *ev = h ? h->held : NULL;
	if (!ev)
		return;
	const char *t = NULL;
	int32_t p = -1;
	rd_kafka_topic_partition_t *tp = NULL;
	switch (rd_kafka_event_type(ev)) {
	case EVCTL_EVENT_FETCH:
		if (!h->heldm)
			return;
		t = h->heldm->rkt ? rd_kafka_topic_name(h->heldm->rkt) : NULL;
		p = h->heldm->partition;
		break;
	case EVCTL_EVENT_ERROR:
		if (rd_kafka_event_error(ev) != EVCTL_ERR_PARTITION_EOF)
			return;
		tp = rd_kafka_event_topic_partition(ev);
		if (!tp)
			return;
		t = tp->topic;
		p = tp->partition;
		break;
	default:
		return;
	}
	int match = all || (t && p == partition && strlen(t) == topic_len && memcmp(t, topic, topic_len) == 0);
	if (tp)
		rd_kafka_topic_partition_destroy(tp);
	if (match) {
		rd_kafka_event_destroy(ev);
		h->held = NULL;
		h->heldm = NULL;
	}
}

static void evctl_held_free(evctl_held *h) {
	if (h->held)
		rd_kafka_event_destroy(h->held);
	free(h);
}
*/
import "C"

import (
	"encoding/binary"
	"reflect"
	"time"
	"unsafe"

	rdk "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/evctl/evctl/internal/record"
)

const (
	// batchEvents bounds the events one cgo call polls.
	batchEvents = 4096
	// batchBytes is the buffer they are copied into; a larger record
	// grows it.
	batchBytes = 1 << 20
	nullLen    = ^uint32(0)
)

// Entry kinds, as the C code writes them.
const (
	entryMessage      = 1
	entryEOF          = 2
	entryError        = 3
	entryMessageError = 4
	entryRebalance    = 5
)

// librdkafka's rebalance event errors.
const (
	errAssignPartitions = -175
	errRevokePartitions = -174
)

// consumerQueue returns c's consumer queue, the one its Poll serves, or
// nil when the client's layout is not the one expected.
func consumerQueue(c *rdk.Consumer) *C.rd_kafka_queue_t {
	v := reflect.ValueOf(c).Elem().FieldByName("handle")
	if !v.IsValid() || v.Kind() != reflect.Struct {
		return nil
	}
	q := v.FieldByName("rkq")
	if !q.IsValid() || q.Kind() != reflect.Pointer || q.Type().Elem().Name() != "_Ctype_struct_rd_kafka_queue_s" {
		return nil
	}
	return (*C.rd_kafka_queue_t)(q.UnsafePointer())
}

// batchPoller polls a consumer's queue a batch at a time, for one
// goroutine. Its entries are read one by one with next.
type batchPoller struct {
	c    *rdk.Consumer
	q    *C.rd_kafka_queue_t
	held *C.evctl_held // an event that did not fit the buffer, in C memory
	buf  []byte
	rest []byte // the entries not yet read
	keys map[string]string
	// dropped are partitions whose entries left in rest are skipped: the
	// consumer was told to fetch them from elsewhere (drop).
	dropped   []TopicPartition
	dropEvery bool
	// repoll, when set, has next look at the queue again once the entries
	// left have been read for that long (see pollMore); polledAt is when
	// it last did, reads counts the entries read since.
	repoll   time.Duration
	polledAt time.Time
	reads    int
}

// newBatchPoller returns nil when c's queue cannot be had.
func newBatchPoller(c *rdk.Consumer) *batchPoller {
	q := consumerQueue(c)
	if q == nil {
		return nil
	}
	return &batchPoller{c: c, q: q, held: C.evctl_held_new(), buf: make([]byte, batchBytes), keys: map[string]string{}}
}

// polled is one entry: a message (whose key, value and headers build
// copies out of the buffer), a partition's EOF, or an error.
type polled struct {
	kind      byte
	topic     []byte // into the buffer: valid until the next poll
	partition int32
	offset    int64
	err       error // a message's error, or the error event's
	// event is an error event's error, as the client's Poll returns it.
	event   rdk.Error
	message []byte // a message's timestamp, key, value and headers
	// rebalance is a rebalance's rdk.AssignedPartitions or
	// rdk.RevokedPartitions, as the client's Poll hands them to its
	// callback.
	rebalance rdk.Event
}

// next returns the next entry, polling up to timeout for more when none
// is left; ok is false when the wait ended without one.
func (b *batchPoller) next(timeout time.Duration) (e polled, ok bool) {
	for {
		if len(b.rest) == 0 {
			if b.c.IsClosed() {
				closed := rdk.NewError(rdk.ErrState, "Operation not allowed on closed client", false)
				return polled{kind: entryError, err: closed, event: closed}, true
			}
			b.dropped, b.dropEvery = b.dropped[:0], false
			if !b.poll(timeout) {
				return polled{}, false
			}
		} else if b.repoll > 0 {
			if b.reads++; b.reads%64 == 0 && time.Since(b.polledAt) >= b.repoll {
				b.pollMore()
			}
		}
		if e := b.entry(); !b.isDropped(e) {
			return e, true
		}
	}
}

// buffered returns the next entry taken off the queue already, without
// waiting: those left in the buffer, then the one held for not fitting
// it. ok is false when none is left. A nil poller has none.
func (b *batchPoller) buffered() (e polled, ok bool) {
	for b != nil {
		for len(b.rest) > 0 {
			if e := b.entry(); !b.isDropped(e) {
				return e, true
			}
		}
		if b.held == nil || b.held.held == nil {
			break
		}
		b.dropped, b.dropEvery = b.dropped[:0], false
		b.fill(0, 1)
	}
	return polled{}, false
}

// drop skips the messages of tp polled already: the consumer fetches it
// again from another offset (a seek), and the client's own queue drops
// what it had fetched of it before. A nil poller drops nothing.
func (b *batchPoller) drop(tp TopicPartition) {
	if b == nil || b.held == nil { // closed: the consumer's Close answers a rebalance
		return
	}
	if len(b.rest) > 0 {
		b.dropped = append(b.dropped, tp)
	}
	// And the record that did not fit the buffer: taken off the queue
	// before the seek too (replay lost 6119 records of a partition so on
	// the real cluster, broker_kill.txtar).
	topic := unsafe.Pointer(unsafe.StringData(tp.Topic))
	C.evctl_held_drop(b.held, (*C.char)(topic), C.size_t(len(tp.Topic)), C.int32_t(tp.Partition), 0)
}

// dropAll skips every message (and partition EOF) polled already: the
// consumer's assignment is replaced, and each partition fetched from the
// offset it gives.
func (b *batchPoller) dropAll() {
	if b == nil || b.held == nil {
		return
	}
	if len(b.rest) > 0 {
		b.dropEvery = true
	}
	C.evctl_held_drop(b.held, nil, 0, 0, 1)
}

// isDropped reports whether e is of a partition the consumer fetches
// again from elsewhere: a message, or an EOF, polled before it was told.
func (b *batchPoller) isDropped(e polled) bool {
	if e.kind != entryMessage && e.kind != entryMessageError && e.kind != entryEOF {
		return false
	}
	if b.dropEvery {
		return true
	}
	for _, tp := range b.dropped {
		if tp.Partition == e.partition && tp.Topic == string(e.topic) {
			return true
		}
	}
	return false
}

// poll fills the buffer, growing it for a record larger than it.
func (b *batchPoller) poll(timeout time.Duration) bool { return b.fill(timeout, batchEvents) }

// fill is poll, for at most max events.
func (b *batchPoller) fill(timeout time.Duration, max int) bool {
	ms := C.int(timeout / time.Millisecond)
	for {
		buf := (*C.uchar)(unsafe.Pointer(unsafe.SliceData(b.buf)))
		r := C.evctl_poll_batch(b.q, b.held, ms, buf, C.size_t(len(b.buf)), C.int(max))
		b.polledAt = time.Now()
		if r.n > 0 {
			b.rest = b.buf[:r.n]
			return true
		}
		if r.need == 0 {
			return false
		}
		b.buf = make([]byte, int(r.need))
		ms = 0
	}
}

// pollMore appends what the queue holds now to the entries left, without
// waiting. A member that takes long over each record (a transaction
// each) would otherwise see a rebalance only once it has read every
// record polled before, holding up the group's other members meanwhile.
// The client's queue puts a rebalance before the messages it has fetched
// and drops those of the assignment it ends; so does pollMore: the
// entries before a rebalance it finds are dropped, and the member reads
// them again from its group's offsets if it keeps their partitions. Not
// while entries are being dropped for a seek: what it appends comes
// after the seek.
func (b *batchPoller) pollMore() {
	b.polledAt = time.Now()
	if len(b.dropped) > 0 || b.dropEvery {
		return
	}
	n := copy(b.buf, b.rest)
	free := b.buf[n:]
	if len(free) == 0 {
		return
	}
	r := C.evctl_poll_batch(b.q, b.held, 0, (*C.uchar)(unsafe.Pointer(unsafe.SliceData(free))), C.size_t(len(free)), batchEvents)
	b.rest = b.buf[:n+int(r.n)]
	if r.rebalance != 0 {
		b.dropEvery = true
	}
}

// close releases the event held for the next poll; call it before the
// consumer closes.
func (b *batchPoller) close() {
	if b != nil && b.held != nil {
		C.evctl_held_free(b.held)
		b.held = nil
	}
}

var native = binary.NativeEndian

// entry decodes the entry at the front of rest, as put_event wrote it.
func (b *batchPoller) entry() polled {
	p := b.rest
	e := polled{kind: p[0]}
	p = p[1:]
	take := func(n int) []byte { s := p[:n:n]; p = p[n:]; return s }
	u16 := func() int { return int(native.Uint16(take(2))) }
	u32 := func() uint32 { return native.Uint32(take(4)) }
	u64 := func() int64 { return int64(native.Uint64(take(8))) }
	switch e.kind {
	case entryEOF:
		e.partition = int32(u32())
		e.offset = u64()
		e.topic = take(u16())
	case entryError:
		code := rdk.ErrorCode(int32(u32()))
		fatal := take(1)[0] != 0
		e.event = rdk.NewError(code, string(take(u16())), fatal)
		e.err = e.event
	case entryMessageError:
		code := rdk.ErrorCode(int32(u32()))
		e.partition = int32(u32())
		e.offset = u64()
		e.topic = take(u16())
		e.err = rdk.NewError(code, string(take(u16())), false)
	case entryRebalance:
		code := int32(u32())
		tps := make([]rdk.TopicPartition, u32())
		for i := range tps {
			topic := b.key(take(u16()))
			tps[i] = rdk.TopicPartition{Topic: &topic, Partition: int32(u32()), Offset: rdk.Offset(u64())}
		}
		switch code {
		case errAssignPartitions:
			e.rebalance = rdk.AssignedPartitions{Partitions: tps}
		case errRevokePartitions:
			e.rebalance = rdk.RevokedPartitions{Partitions: tps}
		}
	case entryMessage:
		e.partition = int32(u32())
		e.offset = u64()
		start := p
		take(9) // timestamp and its type
		e.topic = take(u16())
		for range 2 { // key, value
			if n := u32(); n != nullLen {
				take(int(n))
			}
		}
		for range u16() {
			take(u16())
			if n := u32(); n != nullLen {
				take(int(n))
			}
		}
		e.message = start[:len(start)-len(p)]
	}
	b.rest = p
	return e
}

// build returns the message of entry e, of topic, its bytes copied out
// of the buffer into one allocation.
func (b *batchPoller) build(topic string, e polled) *record.Message {
	p := e.message
	take := func(n int) []byte { s := p[:n:n]; p = p[n:]; return s }
	ts := int64(native.Uint64(take(8)))
	tstype := take(1)[0]
	take(int(native.Uint16(take(2)))) // the topic, known
	rawKey, rawValue := b.field(&p), b.field(&p)
	nh := int(native.Uint16(take(2)))
	// One block for the key, value and header values: counted first.
	size, q := len(rawKey)+len(rawValue), p
	for range nh {
		q = q[2+int(native.Uint16(q)):]
		n := native.Uint32(q)
		q = q[4:]
		if n != nullLen {
			size += int(n)
			q = q[n:]
		}
	}
	block := make([]byte, 0, size)
	dup := func(s []byte) []byte {
		if s == nil {
			return nil
		}
		at := len(block)
		block = append(block, s...)
		return block[at:len(block):len(block)]
	}
	m := newMessage(nh)
	m.Topic = topic
	m.Partition = e.partition
	m.Offset = e.offset
	m.Key, m.Value = dup(rawKey), dup(rawValue)
	if ts != -1 {
		m.Timestamp = time.Unix(ts/1000, (ts%1000)*int64(time.Millisecond)).UTC()
		switch rdk.TimestampType(tstype) {
		case rdk.TimestampCreateTime:
			m.TimestampType = record.TimestampCreateTime
		case rdk.TimestampLogAppendTime:
			m.TimestampType = record.TimestampLogAppendTime
		}
	}
	for i := range nh {
		key := take(int(native.Uint16(take(2))))
		m.Headers[i] = record.RawHeader{Key: b.key(key), Value: dup(b.field(&p))}
	}
	return m
}

// field takes a length-prefixed field off *p: nil for a null one.
func (b *batchPoller) field(p *[]byte) []byte {
	n := native.Uint32(*p)
	*p = (*p)[4:]
	if n == nullLen {
		return nil
	}
	s := (*p)[:n:n]
	*p = (*p)[n:]
	return s
}

// key returns k (a header key, a topic) as a string, the same string for
// every record: a topic's records carry few distinct header keys.
func (b *batchPoller) key(k []byte) string {
	if s, ok := b.keys[string(k)]; ok {
		return s
	}
	s := string(k)
	if len(b.keys) < 1024 {
		b.keys[s] = s
	}
	return s
}
