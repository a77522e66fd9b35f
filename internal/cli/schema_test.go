package cli

import (
	"testing"

	"github.com/evctl/evctl/internal/schema"
)

func TestNewCmdSchemaShow(t *testing.T) {
	tests := []flagCase[SchemaShowOptions]{
		{name: "latest by default", args: []string{"s"}, want: SchemaShowOptions{Subject: "s", Version: schema.Latest, Output: "text"}},
		{name: "version and resolve", args: []string{"s", "--version", "3", "--resolve", "-o", "json"},
			want: SchemaShowOptions{Subject: "s", Version: 3, Resolve: true, Output: "json"}},
		{name: "latest by name", args: []string{"s", "--version", "latest"}, want: SchemaShowOptions{Subject: "s", Version: schema.Latest, Output: "text"}},
		{name: "version zero", args: []string{"s", "--version", "0"}, wantErr: `invalid version "0"`},
		{name: "version not a number", args: []string{"s", "--version", "two"}, wantErr: `invalid version "two"`},
		{name: "no subject", args: nil, wantErr: "accepts 1 arg"},
	}
	checkFlagCases(t, NewCmdSchemaShow, tests, "IO", "Registry")
}

func TestNewCmdSchemaConfig(t *testing.T) {
	tests := []flagCase[SchemaConfigOptions]{
		{name: "global", args: nil, want: SchemaConfigOptions{Output: "text"}},
		{name: "subject set", args: []string{"s", "--set", "FULL_TRANSITIVE"}, want: SchemaConfigOptions{Subject: "s", Set: "FULL_TRANSITIVE", Output: "text"}},
		{name: "unknown level", args: []string{"--set", "full"}, wantErr: `invalid --set "full": want NONE, BACKWARD`},
	}
	checkFlagCases(t, NewCmdSchemaConfig, tests, "IO", "Registry")
}

func TestNewCmdSchemaRegister(t *testing.T) {
	tests := []flagCase[SchemaRegisterOptions]{
		{name: "plain", args: []string{"orders-value", "orders.avsc"}, want: SchemaRegisterOptions{Subject: "orders-value", File: "orders.avsc", Output: "text"}},
		{name: "references and type", args: []string{"s", "f", "--type", "JSON", "--reference", "a.B=a.B:2", "--reference", "c=ns:sub:ject:1"},
			want: SchemaRegisterOptions{Subject: "s", File: "f", Format: "JSON", Output: "text", References: []schema.Reference{
				{Name: "a.B", Subject: "a.B", Version: 2}, {Name: "c", Subject: "ns:sub:ject", Version: 1}}}},
		{name: "reference without version", args: []string{"s", "f", "--reference", "a=b"}, wantErr: `invalid --reference "a=b": want name=subject:version`},
		{name: "reference without name", args: []string{"s", "f", "--reference", "=b:1"}, wantErr: `want name=subject:version`},
		{name: "reference version zero", args: []string{"s", "f", "--reference", "a=b:0"}, wantErr: "the version must be a number from 1"},
		{name: "unknown type", args: []string{"s", "f", "--type", "XML"}, wantErr: `invalid --type "XML"`},
		{name: "one argument", args: []string{"s"}, wantErr: "accepts 2 arg"},
	}
	checkFlagCases(t, NewCmdSchemaRegister, tests, "IO", "Registry")
}

func TestSchemaFormat(t *testing.T) {
	tests := []struct{ file, text, want string }{
		{"orders.proto", `syntax = "proto3";`, schema.FormatProtobuf},
		{"orders.json", `{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"}`, schema.FormatJSON},
		{"orders.json", `{"type": "record", "name": "Order", "fields": []}`, schema.FormatAvro},
		{"orders.avsc", `"string"`, schema.FormatAvro},
	}
	for _, tt := range tests {
		if got := schemaFormat(tt.file, []byte(tt.text)); got != tt.want {
			t.Errorf("schemaFormat(%q, %q) = %s, want %s", tt.file, tt.text, got, tt.want)
		}
	}
}

func TestNewCmdSchemaDiff(t *testing.T) {
	tests := []flagCase[SchemaDiffOptions]{
		{name: "two versions", args: []string{"s", "1", "2"}, want: SchemaDiffOptions{Subject: "s", From: 1, To: 2, Output: "text"}},
		{name: "latest", args: []string{"s", "3", "latest", "-o", "json"}, want: SchemaDiffOptions{Subject: "s", From: 3, To: schema.Latest, Output: "json"}},
		{name: "bad version", args: []string{"s", "-1", "2"}, wantErr: "unknown shorthand flag"},
		{name: "not a version", args: []string{"s", "1", "v2"}, wantErr: `invalid version "v2"`},
		{name: "one version", args: []string{"s", "1"}, wantErr: "accepts 3 arg"},
	}
	checkFlagCases(t, NewCmdSchemaDiff, tests, "IO", "Registry")
}

func TestNewCmdSchemaCheck(t *testing.T) {
	tests := []flagCase[SchemaCheckOptions]{
		{name: "plain", args: []string{"s-value", "c.avsc"}, want: SchemaCheckOptions{Subject: "s-value", File: "c.avsc", Output: "text"}},
		{name: "topics and references", args: []string{"s", "c.avsc", "--topic", "a", "--topic", "b", "--reference", "x=y:2", "-o", "json"},
			want: SchemaCheckOptions{Subject: "s", File: "c.avsc", Topics: []string{"a", "b"}, Output: "json",
				References: []schema.Reference{{Name: "x", Subject: "y", Version: 2}}}},
		{name: "bad reference", args: []string{"s", "c.avsc", "--reference", "x"}, wantErr: `invalid --reference "x"`},
		{name: "sample", args: []string{"s", "c.avsc", "--sample", "5"}, want: SchemaCheckOptions{Subject: "s", File: "c.avsc", Sample: 5, Output: "text"}},
		{name: "negative sample", args: []string{"s", "c.avsc", "--sample", "-1"}, wantErr: `invalid --sample -1`},
		{name: "for CI", args: []string{"s", "c.json", "--type", "JSON", "--junit", "r.xml", "--no-progress"},
			want: SchemaCheckOptions{Subject: "s", File: "c.json", Format: schema.FormatJSON, JUnit: "r.xml", NoProgress: true, Output: "text"}},
		{name: "unknown type", args: []string{"s", "c.json", "--type", "XML"}, wantErr: `invalid --type "XML": want AVRO, JSON or PROTOBUF`},
		{name: "no file", args: []string{"s"}, wantErr: "accepts 2 arg"},
	}
	checkFlagCases(t, NewCmdSchemaCheck, tests, "IO", "Registry", "Kafka")
}
