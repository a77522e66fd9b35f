//go:build cgo

// confluent-kafka-go's schemaregistry package imports its (cgo) kafka
// package for a version string, so these tests need cgo; the registry itself
// does not.

package registry_test

import (
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/rest"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde/avrov2"
	"github.com/google/go-cmp/cmp"

	"github.com/evctl/evctl/internal/sandbox/registry"
)

func newConfluentClient(t *testing.T) schemaregistry.Client {
	t.Helper()
	srv := httptest.NewServer(registry.New().Handler())
	t.Cleanup(srv.Close)
	return confluentClient(t, srv.URL)
}

func confluentClient(t *testing.T, url string) schemaregistry.Client {
	t.Helper()
	cl, err := schemaregistry.NewClient(schemaregistry.NewConfig(url))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

func errorCode(t *testing.T, err error) int {
	t.Helper()
	var re *rest.Error
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T) is not a *rest.Error", err, err)
	}
	return re.Code
}

func TestConfluentClientRegisterAndLookup(t *testing.T) {
	cl := newConfluentClient(t)

	md, err := cl.RegisterFullResponse("users-value", schemaregistry.SchemaInfo{Schema: userV1}, false)
	if err != nil {
		t.Fatal(err)
	}
	if md.ID != 1 || md.Version != 1 || md.GUID == "" || md.Subject != "users-value" || md.Schema == "" {
		t.Errorf("register answer = %+v, want id 1 version 1 with guid, subject and schema", md)
	}

	// Serializers look ids up under the topic's subject; a real registry
	// does not restrict the answer to that subject.
	info, err := cl.GetBySubjectAndID("some-other-subject", md.ID)
	if err != nil {
		t.Fatal(err)
	}
	if info.Schema != md.Schema {
		t.Errorf("by id: %q, want %q", info.Schema, md.Schema)
	}
	byGUID, err := cl.GetByGUID(md.GUID)
	if err != nil {
		t.Fatal(err)
	}
	if byGUID.Schema != md.Schema {
		t.Errorf("by guid: %q, want %q", byGUID.Schema, md.Schema)
	}
	latest, err := cl.GetLatestSchemaMetadata("users-value")
	if err != nil {
		t.Fatal(err)
	}
	if latest.ID != md.ID || latest.Version != 1 {
		t.Errorf("latest = %+v", latest)
	}
}

func TestConfluentClientReferences(t *testing.T) {
	cl := newConfluentClient(t)
	if _, err := cl.Register("com.example.Address", schemaregistry.SchemaInfo{Schema: addressSchema}, false); err != nil {
		t.Fatal(err)
	}
	refs := []schemaregistry.Reference{{Name: "com.example.Address", Subject: "com.example.Address", Version: 1}}
	md, err := cl.RegisterFullResponse("customers-value", schemaregistry.SchemaInfo{Schema: customerSchema, References: refs}, false)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(refs, md.References); diff != "" {
		t.Errorf("register references (-want +got):\n%s", diff)
	}
	info, err := cl.GetBySubjectAndID("customers-value", md.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(refs, info.References); diff != "" {
		t.Errorf("lookup references (-want +got):\n%s", diff)
	}
}

func TestConfluentClientErrors(t *testing.T) {
	cl := newConfluentClient(t)

	_, err := cl.Register("bad-value", schemaregistry.SchemaInfo{Schema: `{"type":"record","name":"R"}`}, false)
	if code := errorCode(t, err); code != 42201 {
		t.Errorf("invalid schema: error code %d, want 42201", code)
	}

	if _, err := cl.Register("users-value", schemaregistry.SchemaInfo{Schema: userV1}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.UpdateCompatibility("users-value", schemaregistry.Full); err != nil {
		t.Fatal(err)
	}
	ok, err := cl.TestCompatibility("users-value", -1, schemaregistry.SchemaInfo{Schema: userIntID})
	if err != nil || ok {
		t.Errorf("TestCompatibility = %v, %v; want false", ok, err)
	}
	ok, err = cl.TestCompatibility("users-value", 1, schemaregistry.SchemaInfo{Schema: userV2})
	if err != nil || !ok {
		t.Errorf("TestCompatibility = %v, %v; want true", ok, err)
	}
	_, err = cl.Register("users-value", schemaregistry.SchemaInfo{Schema: userIntID}, false)
	if code := errorCode(t, err); code != 409 {
		t.Errorf("incompatible schema: error code %d, want 409", code)
	}
}

func TestConfluentClientAssociations(t *testing.T) {
	cl := newConfluentClient(t)
	got, err := cl.GetAssociationsByResourceName("users", "lkc-1", "topic", []string{"value"}, "", 0, -1)
	if err != nil || len(got) != 0 {
		t.Errorf("associations = %v, %v; want none", got, err)
	}
}

type customer struct {
	Name    string  `avro:"name"`
	Address address `avro:"address"`
}

type address struct {
	Street string `avro:"street"`
}

// TestConfluentSerdeRoundTrip runs the official serializer and deserializer
// against the registry: associations first, then register or latest lookup,
// then id lookups with references.
func TestConfluentSerdeRoundTrip(t *testing.T) {
	srv := httptest.NewServer(registry.New().Handler())
	t.Cleanup(srv.Close)
	cl := confluentClient(t, srv.URL)

	autoSer, err := avrov2.NewSerializer(cl, serde.ValueSerde, avrov2.NewSerializerConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := autoSer.Serialize("addresses", &address{Street: "Main St"}); err != nil {
		t.Fatalf("auto-register serialize: %v", err)
	}

	if _, err := cl.Register("com.example.Address", schemaregistry.SchemaInfo{Schema: addressSchema}, false); err != nil {
		t.Fatal(err)
	}
	refs := []schemaregistry.Reference{{Name: "com.example.Address", Subject: "com.example.Address", Version: 1}}
	if _, err := cl.Register("customers-value", schemaregistry.SchemaInfo{Schema: customerSchema, References: refs}, false); err != nil {
		t.Fatal(err)
	}
	conf := avrov2.NewSerializerConfig()
	conf.AutoRegisterSchemas = false
	conf.UseLatestVersion = true
	ser, err := avrov2.NewSerializer(cl, serde.ValueSerde, conf)
	if err != nil {
		t.Fatal(err)
	}
	want := customer{Name: "Ada", Address: address{Street: "Main St"}}
	payload, err := ser.Serialize("customers", &want)
	if err != nil {
		t.Fatalf("serialize with references: %v", err)
	}

	// A second client has nothing cached, so it asks the registry.
	deser, err := avrov2.NewDeserializer(confluentClient(t, srv.URL), serde.ValueSerde, avrov2.NewDeserializerConfig())
	if err != nil {
		t.Fatal(err)
	}
	var got customer
	if err := deser.DeserializeInto("customers", payload, &got); err != nil {
		t.Fatalf("deserialize: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}
