package registry_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/evctl/evctl/internal/sandbox/registry"
)

const (
	userV1 = `{"type":"record","name":"User","namespace":"com.example","fields":[
		{"name":"id","type":"string"}]}`
	// adds a field with a default: backward and forward compatible.
	userV2 = `{"type":"record","name":"User","namespace":"com.example","fields":[
		{"name":"id","type":"string"},
		{"name":"email","type":["null","string"],"default":null}]}`
	// adds a field without a default: forward compatible only.
	userV3 = `{"type":"record","name":"User","namespace":"com.example","fields":[
		{"name":"id","type":"string"},
		{"name":"email","type":["null","string"],"default":null},
		{"name":"age","type":"int"}]}`
	// drops id, which has no default: backward compatible only.
	userNoID = `{"type":"record","name":"User","namespace":"com.example","fields":[
		{"name":"email","type":["null","string"],"default":null}]}`
	// id changes type: neither.
	userIntID = `{"type":"record","name":"User","namespace":"com.example","fields":[
		{"name":"id","type":"int"}]}`

	// id gets a default: reads data without id, but not data with an int id.
	userIDDefault = `{"type":"record","name":"User","namespace":"com.example","fields":[
		{"name":"email","type":["null","string"],"default":null},
		{"name":"id","type":"string","default":""}]}`

	addressSchema = `{"type":"record","name":"Address","namespace":"com.example","fields":[
		{"name":"street","type":"string"}]}`
	customerSchema = `{"type":"record","name":"Customer","namespace":"com.example","fields":[
		{"name":"name","type":"string"},
		{"name":"address","type":"com.example.Address"}]}`
)

func newServer(t *testing.T) (*registry.Registry, *httptest.Server, *sr.Client) {
	t.Helper()
	reg := registry.New()
	srv := httptest.NewServer(reg.Handler())
	t.Cleanup(srv.Close)
	cl, err := sr.NewClient(sr.URLs(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	return reg, srv, cl
}

// post sends a raw JSON body and returns the status and the decoded answer.
func post(t *testing.T, url string, body any) (int, map[string]any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url, "application/vnd.schemaregistry.v1+json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("POST %s: %d %s: %v", url, resp.StatusCode, raw, err)
	}
	return resp.StatusCode, out
}

func responseCode(t *testing.T, err error) (status, code int) {
	t.Helper()
	var re *sr.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T) is not an *sr.ResponseError", err, err)
	}
	return re.StatusCode, re.ErrorCode
}

func TestRegisterAnswersFullBody(t *testing.T) {
	_, srv, _ := newServer(t)

	status, body := post(t, srv.URL+"/subjects/users-value/versions", map[string]any{"schema": userV1})
	if status != http.StatusOK {
		t.Fatalf("status %d: %v", status, body)
	}
	for _, k := range []string{"id", "version", "guid", "schema", "subject"} {
		if _, ok := body[k]; !ok {
			t.Errorf("register answer lacks %q: %v", k, body)
		}
	}
	if _, ok := body["schemaType"]; ok {
		t.Errorf("register answer names schemaType for AVRO: %v", body)
	}
	if body["subject"] != "users-value" || body["version"] != 1.0 || body["id"] != 1.0 {
		t.Errorf("answer = %v", body)
	}

	status, body = post(t, srv.URL+"/subjects/doc-value/versions",
		map[string]any{"schema": `{"type":"object"}`, "schemaType": "JSON"})
	if status != http.StatusOK || body["schemaType"] != "JSON" {
		t.Errorf("JSON schema register: %d %v", status, body)
	}
	status, body = post(t, srv.URL+"/subjects/proto-value/versions",
		map[string]any{"schema": `syntax = "proto3"; message M { string a = 1; }`, "schemaType": "PROTOBUF"})
	if status != http.StatusOK || body["schemaType"] != "PROTOBUF" {
		t.Errorf("Protobuf register: %d %v", status, body)
	}
}

func TestRegisterSameSchemaTwiceKeepsVersion(t *testing.T) {
	reg, _, _ := newServer(t)
	first, err := reg.Register("users-value", sr.Schema{Schema: userV1})
	if err != nil {
		t.Fatal(err)
	}
	// Different whitespace, same schema.
	again, err := reg.Register("users-value", sr.Schema{Schema: strings.ReplaceAll(userV1, "\n", " ")})
	if err != nil {
		t.Fatal(err)
	}
	if first.ID != again.ID || first.Version != again.Version {
		t.Errorf("re-register = id %d v%d, want id %d v%d", again.ID, again.Version, first.ID, first.Version)
	}
}

func TestLookupByIDAndGUID(t *testing.T) {
	_, srv, cl := newServer(t)
	ctx := context.Background()

	ss, err := cl.CreateSchema(ctx, "users-value", sr.Schema{Schema: userV1})
	if err != nil {
		t.Fatal(err)
	}
	byID, err := cl.SchemaByID(ctx, ss.ID)
	if err != nil {
		t.Fatal(err)
	}
	if byID.Schema != ss.Schema.Schema {
		t.Errorf("by id: %q, want %q", byID.Schema, ss.Schema.Schema)
	}
	byGUID, err := cl.SchemaByGUID(ctx, ss.GUID)
	if err != nil {
		t.Fatal(err)
	}
	if byGUID.ID != ss.ID || byGUID.Subject != "users-value" {
		t.Errorf("by guid = %+v, want id %d", byGUID, ss.ID)
	}

	// A real registry finds the id whatever subject the client names.
	resp, err := http.Get(srv.URL + "/schemas/ids/1?subject=other-value")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /schemas/ids/1?subject=other-value: %d, want 200", resp.StatusCode)
	}

	if _, err := cl.SchemaByID(ctx, 99); err == nil {
		t.Error("unknown id: no error")
	} else if status, _ := responseCode(t, err); status != http.StatusNotFound {
		t.Errorf("unknown id: status %d, want 404", status)
	}
}

func TestReferences(t *testing.T) {
	reg, _, cl := newServer(t)
	ctx := context.Background()

	addr, err := cl.CreateSchema(ctx, "com.example.Address", sr.Schema{Schema: addressSchema})
	if err != nil {
		t.Fatal(err)
	}
	refs := []sr.SchemaReference{{Name: "com.example.Address", Subject: "com.example.Address", Version: addr.Version}}
	cust, err := cl.CreateSchema(ctx, "customers-value", sr.Schema{Schema: customerSchema, References: refs})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(refs, cust.References); diff != "" {
		t.Errorf("references (-want +got):\n%s", diff)
	}
	got, err := cl.SchemaByID(ctx, cust.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(refs, got.References); diff != "" {
		t.Errorf("by id references (-want +got):\n%s", diff)
	}

	// Without its reference the schema names an unknown type.
	_, err = cl.CreateSchema(ctx, "orphans-value", sr.Schema{Schema: customerSchema})
	if status, code := responseCode(t, err); status != 422 || code != registry.CodeInvalidSchema {
		t.Errorf("no reference: %d/%d, want 422/42201", status, code)
	}
	// A reference to nothing.
	_, err = reg.Register("orphans-value", sr.Schema{Schema: customerSchema,
		References: []sr.SchemaReference{{Name: "com.example.Address", Subject: "nope", Version: 1}}})
	var re *registry.Error
	if !errors.As(err, &re) || re.Status != 422 || re.Code != registry.CodeInvalidSchema {
		t.Errorf("dangling reference: %v, want 422/42201", err)
	}
}

func TestInvalidSchemaIs422(t *testing.T) {
	tests := []struct {
		name   string
		schema sr.Schema
	}{
		{"not json", sr.Schema{Schema: `{"type":`}},
		{"unknown type", sr.Schema{Schema: `{"type":"record","name":"R","fields":[{"name":"a","type":"nosuch"}]}`}},
		{"record without fields", sr.Schema{Schema: `{"type":"record","name":"R"}`}},
		{"bad default", sr.Schema{Schema: `{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":"x"}]}`}},
		{"enum without symbols", sr.Schema{Schema: `{"type":"enum","name":"E"}`}},
		{"json schema not json", sr.Schema{Schema: `{"type":`, Type: sr.TypeJSON}},
		{"empty protobuf", sr.Schema{Schema: ` `, Type: sr.TypeProtobuf}},
	}
	_, srv, cl := newServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cl.CreateSchema(context.Background(), "bad-value", tt.schema)
			if status, code := responseCode(t, err); status != 422 || code != 42201 {
				t.Errorf("register: %d/%d, want 422/42201", status, code)
			}
			status, body := post(t, srv.URL+"/compatibility/subjects/bad-value/versions/latest", tt.schema)
			if status != 422 || body["error_code"] != 42201.0 {
				t.Errorf("compatibility: %d %v, want 422/42201", status, body)
			}
		})
	}
}

func TestCompatibilityLevelsOnRegister(t *testing.T) {
	tests := []struct {
		level    sr.CompatibilityLevel
		existing []string // registered in order, each must succeed
		next     string
		want     bool
	}{
		{sr.CompatBackward, []string{userV1}, userV2, true},
		{sr.CompatBackward, []string{userV2}, userV3, false},
		{sr.CompatBackward, []string{userV1}, userIntID, false},
		{sr.CompatBackward, []string{userV2}, userNoID, true},
		{sr.CompatForward, []string{userV2}, userV3, true},
		{sr.CompatForward, []string{userV2}, userNoID, false},
		{sr.CompatFull, []string{userV1}, userV2, true},
		{sr.CompatFull, []string{userV2}, userV3, false},
		{sr.CompatFull, []string{userV2}, userNoID, false},
		{sr.CompatNone, []string{userV1}, userIntID, true},
		// userIDDefault reads userNoID's data but not userIntID's: only the
		// transitive level checks it against userIntID too.
		{sr.CompatBackward, []string{userIntID, userNoID}, userIDDefault, true},
		{sr.CompatBackwardTransitive, []string{userIntID, userNoID}, userIDDefault, false},
		{sr.CompatFullTransitive, []string{userIntID, userNoID}, userIDDefault, false},
		{sr.CompatBackwardTransitive, []string{userV1, userV2}, userNoID, true},
		{sr.CompatForwardTransitive, []string{userNoID, userV2}, userV3, true},
		{sr.CompatForwardTransitive, []string{userV2, userV3}, userV1, false},
		{sr.CompatForward, []string{userV2, userV3}, userV1, false},
		{sr.CompatFullTransitive, []string{userV1, userV2}, userV2, true},
	}
	for _, tt := range tests {
		t.Run(tt.level.String(), func(t *testing.T) {
			_, _, cl := newServer(t)
			ctx := context.Background()
			for _, r := range cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatNone}, "users-value") {
				if r.Err != nil {
					t.Fatal(r.Err)
				}
			}
			for _, s := range tt.existing {
				if _, err := cl.CreateSchema(ctx, "users-value", sr.Schema{Schema: s}); err != nil {
					t.Fatal(err)
				}
			}
			for _, r := range cl.SetCompatibility(ctx, sr.SetCompatibility{Level: tt.level}, "users-value") {
				if r.Err != nil {
					t.Fatal(r.Err)
				}
			}
			check, err := cl.CheckCompatibility(ctx, "users-value", -2, sr.Schema{Schema: tt.next})
			if err != nil {
				t.Fatal(err)
			}
			_, err = cl.CreateSchema(ctx, "users-value", sr.Schema{Schema: tt.next})
			if tt.want {
				if err != nil {
					t.Errorf("register: %v, want success", err)
				}
				if !check.Is {
					t.Errorf("compatibility check: %+v, want compatible", check)
				}
				return
			}
			if status, code := responseCode(t, err); status != http.StatusConflict || code != 409 {
				t.Errorf("register: %d/%d, want 409/409", status, code)
			}
			if check.Is || len(check.Messages) == 0 {
				t.Errorf("compatibility check: %+v, want incompatible with messages", check)
			}
		})
	}
}

func TestCompatibilityEndpoint(t *testing.T) {
	_, srv, cl := newServer(t)
	ctx := context.Background()

	// Nothing registered yet: latest is compatible, a numbered version is not found.
	res, err := cl.CheckCompatibility(ctx, "users-value", -1, sr.Schema{Schema: userV1})
	if err != nil || !res.Is {
		t.Errorf("empty subject latest: %+v %v, want compatible", res, err)
	}
	_, err = cl.CheckCompatibility(ctx, "users-value", 1, sr.Schema{Schema: userV1})
	if status, code := responseCode(t, err); status != 404 || code != registry.CodeSubjectNotFound {
		t.Errorf("empty subject v1: %d/%d, want 404/40401", status, code)
	}

	if _, err := cl.CreateSchema(ctx, "users-value", sr.Schema{Schema: userV1}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CreateSchema(ctx, "users-value", sr.Schema{Schema: userV2}); err != nil {
		t.Fatal(err)
	}

	status, body := post(t, srv.URL+"/compatibility/subjects/users-value/versions/latest", sr.Schema{Schema: userV3})
	if status != 200 || body["is_compatible"] != false {
		t.Fatalf("v3 against latest: %d %v", status, body)
	}
	if msgs, _ := body["messages"].([]any); len(msgs) == 0 {
		t.Errorf("incompatible answer without messages: %v", body)
	}
	status, body = post(t, srv.URL+"/compatibility/subjects/users-value/versions/2", sr.Schema{Schema: userV2})
	if status != 200 || body["is_compatible"] != true {
		t.Errorf("v2 against v2: %d %v", status, body)
	}
	if msgs, ok := body["messages"].([]any); !ok || len(msgs) != 0 {
		t.Errorf("compatible answer: messages = %v, want []", body["messages"])
	}
	_, err = cl.CheckCompatibility(ctx, "users-value", 7, sr.Schema{Schema: userV2})
	if status, code := responseCode(t, err); status != 404 || code != registry.CodeVersionNotFound {
		t.Errorf("missing version: %d/%d, want 404/40402", status, code)
	}
	status, body = post(t, srv.URL+"/compatibility/subjects/users-value/versions/x", sr.Schema{Schema: userV2})
	if status != 422 || body["error_code"] != 42202.0 {
		t.Errorf("bad version: %d %v, want 422/42202", status, body)
	}
}

func TestAssociationsAnswerEmpty(t *testing.T) {
	_, srv, _ := newServer(t)
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/associations/subjects/users-value"},
		{http.MethodGet, "/associations/resources/lkc-1/users?resourceType=topic&associationType=value"},
		{http.MethodPost, "/associations"},
		{http.MethodDelete, "/associations/resources/x?cascadeLifecycle=false"},
	} {
		req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != "[]" {
			t.Errorf("%s %s = %d %s, want 200 []", tc.method, tc.path, resp.StatusCode, b)
		}
	}
}

func TestDefaultCompatibilityIsBackward(t *testing.T) {
	_, _, cl := newServer(t)
	res := cl.Compatibility(context.Background())
	if len(res) != 1 || res[0].Err != nil || res[0].Level != sr.CompatBackward {
		t.Errorf("global compatibility = %+v, want BACKWARD", res)
	}
}

// byLength is a Compiler whose rule is that a reader reads what a writer
// wrote when it is no shorter: enough to see which way each level asks.
type byLength struct{}

func (byLength) Compile(string, string, []sr.SchemaReference, registry.Lookup) error { return nil }

func (byLength) Incompatibilities(_ string, writer, reader sr.Schema, _ registry.Lookup) ([]string, error) {
	if len(reader.Schema) < len(writer.Schema) {
		return []string{"reader " + reader.Schema + " is shorter than writer " + writer.Schema}, nil
	}
	return nil, nil
}

// The Compiler judges Protobuf and JSON Schema in each level's direction:
// BACKWARD with the new schema as reader, FORWARD as writer, FULL both;
// its reasons are the 409's.
func TestCompilerJudgesOtherFormats(t *testing.T) {
	tests := []struct {
		level sr.CompatibilityLevel
		next  string
		want  string // "" compatible, else part of the 409 message
	}{
		{sr.CompatBackward, `syntax = "proto3"; // longer`, ""},
		{sr.CompatBackward, `x`, "BACKWARD: the new schema cannot read data written with version 1: reader x is shorter"},
		{sr.CompatForward, `x`, ""},
		{sr.CompatForward, `syntax = "proto3"; // longer`, "FORWARD: version 1 cannot read data written with the new schema: reader syntax"},
		{sr.CompatFull, `x`, "FULL: the new schema cannot read"},
		{sr.CompatNone, `x`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.level.String(), func(t *testing.T) {
			reg := registry.New()
			reg.SetCompiler(byLength{})
			if _, err := reg.Register("p-value", sr.Schema{Type: sr.TypeProtobuf, Schema: `syntax = "proto3";`}); err != nil {
				t.Fatal(err)
			}
			if err := reg.SetCompatibility("p-value", tt.level); err != nil {
				t.Fatal(err)
			}
			_, err := reg.Register("p-value", sr.Schema{Type: sr.TypeProtobuf, Schema: tt.next})
			var e *registry.Error
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("register: %v, want it compatible", err)
			case tt.want != "" && (!errors.As(err, &e) || e.Status != http.StatusConflict || !strings.Contains(e.Message, tt.want)):
				t.Errorf("register: %v, want a 409 saying %q", err, tt.want)
			}
		})
	}
}
