package kafka

// A producer's records, handed to librdkafka one cgo call each, with no
// copy in C memory made from Go first. confluent-kafka-go's Produce
// copies each key and value into C memory it allocates (and each header
// key and value, one allocation each), then makes the call: about 2 µs
// of CPU a record, a third of a copy's (bench/README.md). directProducer
// packs the record into one reused Go buffer that librdkafka copies from
// (RD_KAFKA_MSG_F_COPY) during the call. It serves producers without
// delivery reports (a copier's transactional one), whose records carry
// no opaque. As batch.go, it calls the librdkafka confluent-kafka-go
// links in and reaches the producer's handle by reflection; where that
// fails, Produce serves and TestDirectProducerAvailable fails.

/*
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_topic_s rd_kafka_topic_t;
typedef struct rd_kafka_topic_conf_s rd_kafka_topic_conf_t;
typedef struct rd_kafka_headers_s rd_kafka_headers_t;
typedef int rd_kafka_resp_err_t;

rd_kafka_topic_t *rd_kafka_topic_new(rd_kafka_t *rk, const char *topic, rd_kafka_topic_conf_t *conf);
void rd_kafka_topic_destroy(rd_kafka_topic_t *rkt);
rd_kafka_resp_err_t rd_kafka_producev(rd_kafka_t *rk, ...);
rd_kafka_headers_t *rd_kafka_headers_new(size_t initial_count);
void rd_kafka_headers_destroy(rd_kafka_headers_t *hdrs);
rd_kafka_resp_err_t rd_kafka_header_add(rd_kafka_headers_t *hdrs, const char *name, ssize_t name_size,
	const void *value, ssize_t value_size);

// rdkafka.h's rd_kafka_vtype_t and RD_KAFKA_MSG_F_COPY.
enum { VT_END = 0, VT_RKT = 2, VT_PARTITION = 3, VT_VALUE = 4, VT_KEY = 5, VT_MSGFLAGS = 7, VT_TIMESTAMP = 8, VT_HEADERS = 10 };
#define MSG_F_COPY 0x2
#define NULL_FIELD UINT32_MAX

static uint32_t get32(const unsigned char **p) { uint32_t v; memcpy(&v, *p, 4); *p += 4; return v; }
static uint16_t get16(const unsigned char **p) { uint16_t v; memcpy(&v, *p, 2); *p += 2; return v; }

// field takes a length-prefixed field off *p: NULL for a null one.
static const void *field(const unsigned char **p, size_t *len) {
	uint32_t n = get32(p);
	if (n == NULL_FIELD) {
		*len = 0;
		return NULL;
	}
	const void *v = *p;
	*p += n;
	*len = n;
	return v;
}

// evctl_produce produces the record packed at buf (key, value, headers,
// as directProducer.pack writes them) to rkt's partition (-1: any), at
// timestamp ts (0: now), librdkafka copying every byte.
static rd_kafka_resp_err_t evctl_produce(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int32_t partition, int64_t ts,
		const unsigned char *buf) {
	const unsigned char *p = buf;
	size_t klen, vlen;
	const void *key = field(&p, &klen);
	const void *value = field(&p, &vlen);
	uint16_t nh = get16(&p);
	rd_kafka_headers_t *hdrs = NULL;
	if (nh > 0) {
		hdrs = rd_kafka_headers_new(nh);
		for (uint16_t i = 0; i < nh; i++) {
			uint16_t nlen = get16(&p);
			const char *name = (const char *)p;
			p += nlen;
			size_t hlen;
			const void *hval = field(&p, &hlen);
			rd_kafka_header_add(hdrs, name, nlen, hval, (ssize_t)hlen);
		}
	}
	rd_kafka_resp_err_t err;
	if (hdrs)
		err = rd_kafka_producev(rk, VT_RKT, rkt, VT_PARTITION, partition, VT_MSGFLAGS, MSG_F_COPY,
			VT_VALUE, value, vlen, VT_KEY, key, klen, VT_TIMESTAMP, ts, VT_HEADERS, hdrs, VT_END);
	else
		err = rd_kafka_producev(rk, VT_RKT, rkt, VT_PARTITION, partition, VT_MSGFLAGS, MSG_F_COPY,
			VT_VALUE, value, vlen, VT_KEY, key, klen, VT_TIMESTAMP, ts, VT_END);
	if (err && hdrs)
		rd_kafka_headers_destroy(hdrs); // librdkafka owns them only once produced
	return err;
}
*/
import "C"

import (
	"encoding/binary"
	"math"
	"reflect"
	"unsafe"

	rdk "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/evctl/evctl/internal/record"
)

// directProducer produces through a confluent-kafka-go Producer's
// librdkafka handle. Not safe for concurrent use.
type directProducer struct {
	p    *rdk.Producer
	rk   *C.rd_kafka_t
	rkts map[string]*C.rd_kafka_topic_t
	buf  []byte
}

// newDirectProducer returns nil when p's handle cannot be had.
func newDirectProducer(p *rdk.Producer) *directProducer {
	v := reflect.ValueOf(p).Elem().FieldByName("handle")
	if !v.IsValid() || v.Kind() != reflect.Struct {
		return nil
	}
	rk := v.FieldByName("rk")
	if !rk.IsValid() || rk.Kind() != reflect.Pointer || rk.Type().Elem().Name() != "_Ctype_struct_rd_kafka_s" || rk.IsNil() {
		return nil
	}
	return &directProducer{p: p, rk: (*C.rd_kafka_t)(rk.UnsafePointer()), rkts: map[string]*C.rd_kafka_topic_t{}}
}

// packable reports whether m fits evctl_produce's format: header keys
// and counts under 64 Ki (Produce serves the others).
func packable(m *record.Message) bool {
	if len(m.Headers) > math.MaxUint16 {
		return false
	}
	for _, h := range m.Headers {
		if len(h.Key) > math.MaxUint16 {
			return false
		}
	}
	return true
}

// produce produces m, packable, to topic's partition (rdk.PartitionAny:
// the partitioner's choice). Its error is an rdk.Error, as Produce's.
func (d *directProducer) produce(topic string, partition int32, m *record.Message) error {
	if d.p.IsClosed() {
		return rdk.NewError(rdk.ErrState, "Producer closed", false)
	}
	rkt := d.rkts[topic]
	if rkt == nil {
		name := C.CString(topic)
		rkt = C.rd_kafka_topic_new(d.rk, name, nil)
		C.free(unsafe.Pointer(name))
		if rkt == nil {
			return rdk.NewError(rdk.ErrUnknownTopic, "cannot produce to topic "+topic, false)
		}
		d.rkts[topic] = rkt
	}
	var ts int64
	if !m.Timestamp.IsZero() {
		ts = m.Timestamp.UnixMilli()
	}
	d.pack(m)
	buf := (*C.uchar)(unsafe.Pointer(unsafe.SliceData(d.buf)))
	if err := C.evctl_produce(d.rk, rkt, C.int32_t(partition), C.int64_t(ts), buf); err != 0 {
		return rdk.NewError(rdk.ErrorCode(err), "", false)
	}
	return nil
}

// pack writes m's key, value and headers into buf, as evctl_produce
// reads them: each field length-prefixed, math.MaxUint32 for null.
func (d *directProducer) pack(m *record.Message) {
	b := d.buf[:0]
	field := func(v []byte) {
		if v == nil {
			b = binary.NativeEndian.AppendUint32(b, math.MaxUint32)
			return
		}
		b = binary.NativeEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	field(m.Key)
	field(m.Value)
	b = binary.NativeEndian.AppendUint16(b, uint16(len(m.Headers)))
	for _, h := range m.Headers {
		b = binary.NativeEndian.AppendUint16(b, uint16(len(h.Key)))
		b = append(b, h.Key...)
		field(h.Value)
	}
	d.buf = b
}

// close releases the topic handles; call it before the producer closes.
func (d *directProducer) close() {
	if d == nil {
		return
	}
	for t, rkt := range d.rkts {
		C.rd_kafka_topic_destroy(rkt)
		delete(d.rkts, t)
	}
}
