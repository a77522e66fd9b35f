package main

import (
	"context"
	"math/big"
	"strings"
	"time"

	"github.com/bufbuild/protocompile"

	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde/avrov2"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde/protobuf"
	"github.com/hamba/avro/v2"
	"github.com/rogpeppe/go-internal/testscript"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// The cross-check writes records with confluent-kafka-go's own Avro
// serializer (serde/avrov2, hamba inside), so evctl's decoder is checked
// against bytes and registry entries it did not produce. Every value below is
// rendered by hand in testdata/script/tail_avrov2.txtar; change both together.

// xcheckBase is the first record's timestamp; each record is a second later.
var xcheckBase = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// kitchenSchema has one field of each kind the decoder renders specially.
const kitchenSchema = `{
  "type": "record", "name": "Kitchen", "namespace": "com.xcheck",
  "fields": [
    {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
    {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}},
    {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["OPEN", "FROZEN", "CLOSED"]}},
    {"name": "labels", "type": {"type": "map", "values": "string"}},
    {"name": "note", "type": ["null", "string"], "default": null},
    {"name": "address", "type": {"type": "record", "name": "Address", "fields": [
      {"name": "street", "type": "string"},
      {"name": "zip", "type": "int"}
    ]}},
    {"name": "big", "type": "long"},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}}
  ]
}`

type xAddress struct {
	Street string `avro:"street"`
	Zip    int32  `avro:"zip"`
}

type xKitchen struct {
	ID      string            `avro:"id"`
	At      time.Time         `avro:"at"`
	Amount  *big.Rat          `avro:"amount"`
	Status  string            `avro:"status"`
	Labels  map[string]string `avro:"labels"`
	Note    *string           `avro:"note"`
	Address xAddress          `avro:"address"`
	Big     int64             `avro:"big"`
	Day     time.Time         `avro:"day"`
}

// Schema gives the serializer the schema to auto-register (it would
// otherwise derive one from the struct, without logical types).
func (*xKitchen) Schema() avro.Schema { return avro.MustParse(kitchenSchema) }

// The union-of-references case, shaped like bank.account-events-value.
const (
	xASchemaV1 = `{"type": "record", "name": "A", "namespace": "com.x", "fields": [
  {"name": "id", "type": "string"},
  {"name": "n", "type": "int"}
]}`
	// V2 of com.x.A adds a field with a default: BACKWARD compatible.
	xASchemaV2 = `{"type": "record", "name": "A", "namespace": "com.x", "fields": [
  {"name": "id", "type": "string"},
  {"name": "n", "type": "int"},
  {"name": "extra", "type": "string", "default": "none"}
]}`
	xBSchema = `{"type": "record", "name": "B", "namespace": "com.x", "fields": [
  {"name": "id", "type": "string"},
  {"name": "ok", "type": "boolean"},
  {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}}
]}`
	xUnionSchema = `["com.x.A", "com.x.B"]`
)

type xA struct {
	ID string `avro:"id"`
	N  int32  `avro:"n"`
}

type xA2 struct {
	ID    string `avro:"id"`
	N     int32  `avro:"n"`
	Extra string `avro:"extra"`
}

type xB struct {
	ID string    `avro:"id"`
	OK bool      `avro:"ok"`
	At time.Time `avro:"at"`
}

// The evolution case: one subject, two versions of one record.
const (
	xProfileV1 = `{"type": "record", "name": "Profile", "namespace": "com.xcheck", "fields": [
  {"name": "name", "type": "string"},
  {"name": "visits", "type": "long"}
]}`
	xProfileV2 = `{"type": "record", "name": "Profile", "namespace": "com.xcheck", "fields": [
  {"name": "name", "type": "string"},
  {"name": "visits", "type": "long"},
  {"name": "tier", "type": "string", "default": "basic"}
]}`
)

type xProfileV1Msg struct {
	Name   string `avro:"name"`
	Visits int64  `avro:"visits"`
}

type xProfileV2Msg struct {
	Name   string `avro:"name"`
	Visits int64  `avro:"visits"`
	Tier   string `avro:"tier"`
}

func strp(s string) *string { return &s }

// cmdAvroV2Produce implements `avrov2produce topic`: it writes records with
// confluent-kafka-go's avrov2 serializer to topic (every logical type),
// topic.refs (a union of schema references, whose referenced type evolves)
// and topic.evo (two versions of one subject), each to partition 0.
func cmdAvroV2Produce(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: avrov2produce topic")
	}
	topic := args[0]
	sr, err := schemaregistry.NewClient(schemaregistry.NewConfig(ts.Getenv("EVCTL_REGISTRY")))
	ts.Check(err)
	defer func() { _ = sr.Close() }()

	var recs []*kgo.Record
	add := func(topic, key string, value []byte) {
		at := xcheckBase.Add(time.Duration(len(recs)) * time.Second)
		recs = append(recs, &kgo.Record{Topic: topic, Partition: 0, Key: []byte(key), Value: value, Timestamp: at})
	}

	// 1. Every logical type, auto-registered under topic-value.
	auto, err := avrov2.NewSerializer(sr, serde.ValueSerde, avrov2.NewSerializerConfig())
	ts.Check(err)
	kitchens := []*xKitchen{
		{
			ID:      "0b7e6c1a-3f2d-4e5b-9a8c-1d2e3f4a5b6c",
			At:      time.Date(2026, 11, 20, 9, 14, 3, 250_000_000, time.UTC),
			Amount:  big.NewRat(12050, 100), // 120.50: the trailing zero stays
			Status:  "OPEN",
			Labels:  map[string]string{"segment": "retail"},
			Note:    nil,
			Address: xAddress{Street: "1 Main St", Zip: 10115},
			Big:     1<<53 + 1, // 9007199254740993: not a float64
			Day:     time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC),
		},
		{
			ID: "ffffffff-0000-4000-8000-000000000001",
			// Written in another zone; rendered in UTC.
			At:      time.Date(2026, 1, 2, 3, 4, 5, 7_000_000, time.FixedZone("CET", 3600)),
			Amount:  big.NewRat(-123456789, 100), // -1234567.89
			Status:  "FROZEN",
			Labels:  map[string]string{"tier": "gold \"vip\""},
			Note:    strp("hello, wörld"),
			Address: xAddress{Street: "", Zip: -1},
			Big:     -9223372036854775808,
			Day:     time.Date(1969, 7, 20, 0, 0, 0, 0, time.UTC),
		},
		{
			ID:      "00000000-0000-0000-0000-000000000000",
			At:      time.Date(1969, 12, 31, 23, 59, 59, 999_000_000, time.UTC), // -1 ms
			Amount:  big.NewRat(-1, 100),                                        // -0.01
			Status:  "CLOSED",
			Labels:  map[string]string{},
			Note:    strp(""),
			Address: xAddress{Street: "Rue de l'Église 5", Zip: 75001},
			Big:     9223372036854775807,
			Day:     time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		},
		{
			ID:      "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
			At:      time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC),
			Amount:  big.NewRat(5, 100), // 0.05
			Status:  "OPEN",
			Labels:  map[string]string{"k": ""},
			Note:    strp("null"),
			Address: xAddress{Street: "x", Zip: 0},
			Big:     0,
			Day:     time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC),
		},
		{
			ID:      "1e2d3c4b-5a69-4788-9766-554433221100",
			At:      time.Date(2026, 11, 20, 12, 0, 0, 1_000_000, time.UTC),
			Amount:  big.NewRat(100, 1), // 100.00
			Status:  "FROZEN",
			Labels:  map[string]string{"a": "b"},
			Note:    nil,
			Address: xAddress{Street: "A&B <Co>", Zip: 2147483647},
			Big:     -(1<<53 + 1),
			Day:     time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC),
		},
	}
	for i, k := range kitchens {
		b, err := auto.Serialize(topic, k)
		ts.Check(err)
		add(topic, "kitchen-"+string(rune('1'+i)), b)
	}
	// The same schema named by a GUID header instead of the payload prefix.
	hdr, err := avrov2.NewSerializer(sr, serde.ValueSerde, avrov2.NewSerializerConfig())
	ts.Check(err)
	hdr.SchemaIDSerializer = serde.HeaderSchemaIDSerializer
	headers, b, err := hdr.SerializeWithHeaders(topic, &xKitchen{
		ID:      "a0a0a0a0-b1b1-4c2c-8d3d-e4e4e4e4e4e4",
		At:      time.Date(2026, 11, 20, 23, 59, 59, 999_000_000, time.UTC),
		Amount:  new(big.Rat), // 0.00
		Status:  "CLOSED",
		Labels:  map[string]string{"via": "header"},
		Note:    strp("guid"),
		Address: xAddress{Street: "z", Zip: 1},
		Big:     1 << 62,
		Day:     time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC),
	})
	ts.Check(err)
	add(topic, "kitchen-6", b)
	for _, h := range headers {
		last := recs[len(recs)-1]
		last.Headers = append(last.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}

	// 2. A union of references under topic.refs-value, written with the
	// latest version; then com.x.A evolves and the union is registered again
	// with the same text but a reference to A's version 2.
	refs := topic + ".refs"
	_, err = sr.Register("com.x.A", schemaregistry.SchemaInfo{Schema: xASchemaV1}, false)
	ts.Check(err)
	_, err = sr.Register("com.x.B", schemaregistry.SchemaInfo{Schema: xBSchema}, false)
	ts.Check(err)
	unionRefs := func(aVersion int) []schemaregistry.Reference {
		return []schemaregistry.Reference{
			{Name: "com.x.A", Subject: "com.x.A", Version: aVersion},
			{Name: "com.x.B", Subject: "com.x.B", Version: 1},
		}
	}
	_, err = sr.Register(refs+"-value", schemaregistry.SchemaInfo{Schema: xUnionSchema, References: unionRefs(1)}, false)
	ts.Check(err)
	latest := func(cl schemaregistry.Client) *avrov2.Serializer {
		conf := avrov2.NewSerializerConfig()
		conf.AutoRegisterSchemas = false
		conf.UseLatestVersion = true
		s, err := avrov2.NewSerializer(cl, serde.ValueSerde, conf)
		ts.Check(err)
		return s
	}
	ser := latest(sr)
	ser.RegisterType("com.x.A", xA{})
	ser.RegisterType("com.x.B", xB{})
	b, err = ser.Serialize(refs, &xA{ID: "a-1", N: 7})
	ts.Check(err)
	add(refs, "ref-a", b)
	b, err = ser.Serialize(refs, &xB{ID: "b-1", OK: true, At: time.Date(2026, 11, 20, 8, 0, 0, 5_000_000, time.UTC)})
	ts.Check(err)
	add(refs, "ref-b", b)

	_, err = sr.Register("com.x.A", schemaregistry.SchemaInfo{Schema: xASchemaV2}, false)
	ts.Check(err)
	_, err = sr.Register(refs+"-value", schemaregistry.SchemaInfo{Schema: xUnionSchema, References: unionRefs(2)}, false)
	ts.Check(err)
	// A fresh client: the first one caches the subject's latest version
	// forever, and would keep writing id and schema of version 1.
	sr2, err := schemaregistry.NewClient(schemaregistry.NewConfig(ts.Getenv("EVCTL_REGISTRY")))
	ts.Check(err)
	defer func() { _ = sr2.Close() }()
	ser2 := latest(sr2)
	ser2.RegisterType("com.x.A", xA2{})
	ser2.RegisterType("com.x.B", xB{})
	b, err = ser2.Serialize(refs, &xA2{ID: "a-2", N: 8, Extra: "evolved"})
	ts.Check(err)
	add(refs, "ref-a2", b)

	// 3. Evolution: version 1, then version 2 with a defaulted field, under
	// topic.evo-value (BACKWARD, the default level, is enforced). Registered
	// through the client and written with UseSchemaID: auto-registering
	// would register hamba's canonical form, which drops the default, and
	// version 2 would then be refused as incompatible.
	evo := topic + ".evo"
	byID := func(schema string) *avrov2.Serializer {
		id, err := sr.Register(evo+"-value", schemaregistry.SchemaInfo{Schema: schema}, false)
		ts.Check(err)
		conf := avrov2.NewSerializerConfig()
		conf.AutoRegisterSchemas = false
		conf.UseSchemaID = id
		s, err := avrov2.NewSerializer(sr, serde.ValueSerde, conf)
		ts.Check(err)
		return s
	}
	b, err = byID(xProfileV1).Serialize(evo, &xProfileV1Msg{Name: "ada", Visits: 3})
	ts.Check(err)
	add(evo, "evo-1", b)
	b, err = byID(xProfileV2).Serialize(evo, &xProfileV2Msg{Name: "grace", Visits: 5, Tier: "gold"})
	ts.Check(err)
	add(evo, "evo-2", b)

	produceInOrder(ts, recs)
}

// cmdProtoProduce implements `protoproduce topic file.proto records`: it
// compiles file.proto (its imports read from the script's directory, the
// well-known types built in) and writes one record per line of records,
// "key message-name json", with confluent-kafka-go's Protobuf serializer,
// which registers file.proto under topic-value and each import under its
// path, with references. The JSON only builds the message (protojson): what
// evctl shows of it is checked by hand in the script.
func cmdProtoProduce(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: protoproduce topic file.proto records")
	}
	topic := args[0]
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		ImportPaths: []string{ts.MkAbs(".")},
	})}
	files, err := c.Compile(context.Background(), args[1])
	ts.Check(err)
	sr, err := schemaregistry.NewClient(schemaregistry.NewConfig(ts.Getenv("EVCTL_REGISTRY")))
	ts.Check(err)
	defer func() { _ = sr.Close() }()
	ser, err := protobuf.NewSerializer(sr, serde.ValueSerde, protobuf.NewSerializerConfig())
	ts.Check(err)

	var recs []*kgo.Record
	for line := range strings.Lines(ts.ReadFile(args[2])) {
		key, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		name, js, ok := strings.Cut(rest, " ")
		if !ok {
			ts.Fatalf("records: want lines of key message-name json, got %q", line)
		}
		md, ok := files[0].FindDescriptorByName(protoreflect.FullName(name)).(protoreflect.MessageDescriptor)
		if !ok {
			ts.Fatalf("records: no message %s in %s", name, args[1])
		}
		m := dynamicpb.NewMessage(md)
		ts.Check(protojson.Unmarshal([]byte(js), m))
		b, err := ser.Serialize(topic, m)
		ts.Check(err)
		at := xcheckBase.Add(time.Duration(len(recs)) * time.Second)
		recs = append(recs, &kgo.Record{Topic: topic, Partition: 0, Key: []byte(key), Value: b, Timestamp: at})
	}

	produceInOrder(ts, recs)
}

// produceInOrder writes recs to the script's sandbox one at a time, to the
// partitions they name: offsets follow their order.
func produceInOrder(ts *testscript.TestScript, recs []*kgo.Record) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(scriptBrokers(ts)...), kgo.AllowAutoTopicCreation(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ts.Check(err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, r := range recs {
		ts.Check(cl.ProduceSync(ctx, r).FirstErr())
	}
}
