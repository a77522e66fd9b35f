package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	rdk "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde/avrov2"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde/jsonschema"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde/protobuf"
	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/evctl/evctl/internal/cli"
	"github.com/evctl/evctl/internal/iostreams"
	"github.com/evctl/evctl/internal/sandbox"
)

// The cross-check the other way round: records `evctl produce` writes
// are read back by confluent-kafka-go's own deserializers (serde/avrov2,
// serde/protobuf, serde/jsonschema), which evctl's code has no part in,
// and the values they give equal the lines evctl was given.

// kitchenLines are xKitchen values as tail prints them (kitchenSchema);
// the first leaves out note, which has a default.
var kitchenLines = []string{
	`{"id":"0b7e6c1a-3f2d-4e5b-9a8c-1d2e3f4a5b6c","at":"2026-11-20T09:14:03.250Z","amount":"120.50","status":"OPEN","labels":{"segment":"retail","tier":"gold \"vip\""},"address":{"street":"1 Main St","zip":10115},"big":9007199254740993,"day":"2026-11-20"}`,
	`{"id":"ffffffff-0000-4000-8000-000000000001","at":"2026-01-02T03:04:05.007+01:00","amount":"-1234567.89","status":"FROZEN","labels":{},"note":"hello, wörld","address":{"street":"","zip":-1},"big":-9223372036854775808,"day":"1969-07-20"}`,
	// Avro's own union wrapping.
	`{"id":"00000000-0000-0000-0000-000000000000","at":"1969-12-31T23:59:59.999Z","amount":"-0.01","status":"CLOSED","labels":{"k":""},"note":{"string":"null"},"address":{"street":"Rue de l'Église 5","zip":75001},"big":9223372036854775807,"day":"1970-01-01"}`,
}

var kitchenWant = []xKitchen{
	{
		ID: "0b7e6c1a-3f2d-4e5b-9a8c-1d2e3f4a5b6c", At: time.Date(2026, 11, 20, 9, 14, 3, 250_000_000, time.UTC),
		Amount: big.NewRat(12050, 100), Status: "OPEN", Labels: map[string]string{"segment": "retail", "tier": `gold "vip"`},
		Address: xAddress{Street: "1 Main St", Zip: 10115}, Big: 1<<53 + 1, Day: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC),
	},
	{
		ID: "ffffffff-0000-4000-8000-000000000001", At: time.Date(2026, 1, 2, 2, 4, 5, 7_000_000, time.UTC),
		Amount: big.NewRat(-123456789, 100), Status: "FROZEN", Labels: map[string]string{}, Note: strp("hello, wörld"),
		Address: xAddress{Street: "", Zip: -1}, Big: -9223372036854775808, Day: time.Date(1969, 7, 20, 0, 0, 0, 0, time.UTC),
	},
	{
		ID: "00000000-0000-0000-0000-000000000000", At: time.Date(1969, 12, 31, 23, 59, 59, 999_000_000, time.UTC),
		Amount: big.NewRat(-1, 100), Status: "CLOSED", Labels: map[string]string{"k": ""}, Note: strp("null"),
		Address: xAddress{Street: "Rue de l'Église 5", Zip: 75001}, Big: 9223372036854775807, Day: time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
	},
}

const xTransferProto = `syntax = "proto3";
package xcheck.v1;
import "google/protobuf/timestamp.proto";
message Transfer {
  string id = 1;
  int64 cents = 2;
  google.protobuf.Timestamp at = 3;
  repeated Leg legs = 4;
  map<string, string> tags = 5;
  Kind kind = 6;
  bytes memo = 7;
  message Leg { string account = 1; sint32 sign = 2; }
}
enum Kind { KIND_UNSPECIFIED = 0; INSTANT = 1; SCHEDULED = 2; }
message Refund { string transfer_id = 1; double share = 2; }
`

const xTransferJSONSchema = `{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "Transfer", "type": "object", "required": ["id", "amount"],
  "properties": {
    "id": {"type": "string"},
    "amount": {"type": "string", "pattern": "^-?[0-9]+\\.[0-9]{2}$"},
    "legs": {"type": "array", "items": {"type": "object", "properties": {"account": {"type": "string"}, "cents": {"type": "integer"}}}},
    "note": {"type": ["string", "null"]}
  },
  "additionalProperties": false
}`

func TestProduceReadByConfluentSerdes(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	sb, err := sandbox.Start(ctx, sandbox.Options{Accounts: 2, Events: 4, Now: xcheckBase})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sb.Close() }()
	sr, err := schemaregistry.NewClient(schemaregistry.NewConfig(sb.RegistryURL()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sr.Close() }()
	register := func(subject, typ, text string) {
		t.Helper()
		if _, err := sr.Register(subject, schemaregistry.SchemaInfo{Schema: text, SchemaType: typ}, false); err != nil {
			t.Fatalf("registering %s: %v", subject, err)
		}
	}
	register("x.kitchen-value", "AVRO", kitchenSchema)
	register("x.transfers-value", "PROTOBUF", xTransferProto)
	register("x.json-value", "JSON", xTransferJSONSchema)

	produce := func(input string, args ...string) {
		t.Helper()
		ios, in, _, errOut := iostreams.Test()
		in.WriteString(input)
		root := cli.NewRootCmd(cli.NewFactory("test", ios))
		root.SetArgs(append([]string{"produce", "--brokers", sb.Brokers(), "--registry", sb.RegistryURL(), "--create"}, args...))
		if err := root.ExecuteContext(ctx); err != nil {
			t.Fatalf("evctl produce %s: %v\n%s", strings.Join(args, " "), err, errOut)
		}
	}

	t.Run("avrov2", func(t *testing.T) {
		produce(strings.Join(kitchenLines, "\n")+"\n", "x.kitchen", "--subject", "x.kitchen-value")
		produce(kitchenLines[0]+"\n", "x.kitchen.guid", "--subject", "x.kitchen-value", "--schema-id-header")
		de, err := avrov2.NewDeserializer(sr, serde.ValueSerde, avrov2.NewDeserializerConfig())
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range readAll(ctx, t, sb.Brokers(), "x.kitchen", len(kitchenLines)) {
			var got xKitchen
			if err := de.DeserializeInto("x.kitchen", r.Value, &got); err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			if diff := cmp.Diff(kitchenWant[i], got, cmp.Comparer(func(a, b *big.Rat) bool { return a.Cmp(b) == 0 })); diff != "" {
				t.Errorf("record %d as confluent-kafka-go reads it (-want +got):\n%s", i, diff)
			}
		}
		r := readAll(ctx, t, sb.Brokers(), "x.kitchen.guid", 1)[0]
		var hs []rdk.Header
		for _, h := range r.Headers {
			hs = append(hs, rdk.Header{Key: h.Key, Value: h.Value})
		}
		var got xKitchen
		if err := de.DeserializeWithHeadersInto("x.kitchen.guid", hs, r.Value, &got); err != nil {
			t.Fatalf("schema id in a header: %v", err)
		}
		if diff := cmp.Diff(kitchenWant[0], got, cmp.Comparer(func(a, b *big.Rat) bool { return a.Cmp(b) == 0 })); diff != "" {
			t.Errorf("schema id in a header (-want +got):\n%s", diff)
		}
	})

	t.Run("protobuf", func(t *testing.T) {
		transfers := []string{
			`{"id":"t-1","cents":"-12050","at":"2026-11-20T09:14:03.250Z","legs":[{"account":"a","sign":-1},{"account":"b","sign":1}],"tags":{"z":"1","a":"2"},"kind":"SCHEDULED","memo":"3q2+7w=="}`,
			`{"id":"t-2","cents":"9007199254740993","kind":"INSTANT"}`,
		}
		refund := `{"transferId":"t-1","share":0.25}`
		produce(strings.Join(transfers, "\n")+"\n", "x.transfers", "--subject", "x.transfers-value")
		produce(refund+"\n", "x.transfers", "--subject", "x.transfers-value", "--message", "xcheck.v1.Refund")
		c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
			if path != "transfer.proto" {
				return protocompile.SearchResult{}, fmt.Errorf("no %s", path)
			}
			return protocompile.SearchResult{Source: strings.NewReader(xTransferProto)}, nil
		}))}
		files, err := c.Compile(ctx, "transfer.proto")
		if err != nil {
			t.Fatal(err)
		}
		de, err := protobuf.NewDeserializer(sr, serde.ValueSerde, protobuf.NewDeserializerConfig())
		if err != nil {
			t.Fatal(err)
		}
		want := append(append([]string{}, transfers...), refund)
		names := []string{"xcheck.v1.Transfer", "xcheck.v1.Transfer", "xcheck.v1.Refund"}
		for i, r := range readAll(ctx, t, sb.Brokers(), "x.transfers", len(want)) {
			md := files[0].FindDescriptorByName(protoreflect.FullName(names[i])).(protoreflect.MessageDescriptor)
			got := dynamicpb.NewMessage(md)
			if err := de.DeserializeInto("x.transfers", r.Value, got); err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			b, err := protojson.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(jsonValue(t, want[i]), jsonValue(t, string(b))); diff != "" {
				t.Errorf("record %d as confluent-kafka-go reads it (-want +got):\n%s", i, diff)
			}
		}
	})

	t.Run("jsonschema", func(t *testing.T) {
		lines := []string{
			`{"id":"t-1","amount":"120.50","legs":[{"account":"a","cents":9007199254740993}],"note":null}`,
			`{"id":"t-2","amount":"-0.01"}`,
		}
		produce(strings.Join(lines, "\n")+"\n", "x.json", "--subject", "x.json-value")
		conf := jsonschema.NewDeserializerConfig()
		conf.EnableValidation = true
		de, err := jsonschema.NewDeserializer(sr, serde.ValueSerde, conf)
		if err != nil {
			t.Fatal(err)
		}
		// A struct, so that the 64-bit integer is read exactly.
		type leg struct {
			Account string `json:"account"`
			Cents   int64  `json:"cents"`
		}
		type transfer struct {
			ID     string  `json:"id"`
			Amount string  `json:"amount"`
			Legs   []leg   `json:"legs,omitempty"`
			Note   *string `json:"note"`
		}
		want := []transfer{
			{ID: "t-1", Amount: "120.50", Legs: []leg{{Account: "a", Cents: 1<<53 + 1}}},
			{ID: "t-2", Amount: "-0.01"},
		}
		for i, r := range readAll(ctx, t, sb.Brokers(), "x.json", len(lines)) {
			var got transfer
			if err := de.DeserializeInto("x.json", r.Value, &got); err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			if diff := cmp.Diff(want[i], got); diff != "" {
				t.Errorf("record %d as confluent-kafka-go reads it (-want +got):\n%s", i, diff)
			}
		}
	})
}

// jsonValue parses s, numbers kept exact.
func jsonValue(t *testing.T, s string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return v
}

// readAll reads n records of topic's partition 0 with franz-go, in order.
func readAll(ctx context.Context, t *testing.T, brokers, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("%s: read %d of %d records: %v", topic, len(out), n, err)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}
