package schema

import (
	"strings"
	"testing"
)

func TestBundleJSONSchema(t *testing.T) {
	money := Referenced{Reference: Reference{Name: "money.json", Subject: "money", Version: 1},
		Text: `{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "properties": {"units": {"type": "integer"}}}`}
	const draft7 = `{"$schema": "http://json-schema.org/draft-07/schema#", "properties": {"amount": {"$ref": "money.json"}}}`
	bundle, err := BundleJSONSchema("payment", draft7, []Referenced{money})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(bundle, `"definitions":{"money.json":{"$id":"money.json",`) {
		t.Errorf("draft-07 bundles under definitions: %s", bundle)
	}
	s, err := ParseSchema(FormatJSON, "bundle", bundle, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ValidateJSON([]byte(`{"amount": {"units": "ten"}}`)); err == nil || !strings.Contains(err.Error(), "/amount/units") {
		t.Errorf("the bundle validates through the embedded reference: %v", err)
	}
	if _, err := BundleJSONSchema("payment", `{"$defs": {"money.json": {}}}`, []Referenced{money}); err == nil {
		t.Error("a $defs entry with a reference's name is refused")
	}
}
