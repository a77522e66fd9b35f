package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// FieldDiff lists where two JSON values differ, by jq path, leaving out
// the ignored paths. Objects compare member by member (in any order),
// arrays element by element, numbers by value. Equal values give nil.
func FieldDiff(a, b json.RawMessage, ignore []Path) ([]Field, error) {
	va, err := decodeValue(a)
	if err != nil {
		return nil, fmt.Errorf("side a: %w", err)
	}
	vb, err := decodeValue(b)
	if err != nil {
		return nil, fmt.Errorf("side b: %w", err)
	}
	var out []Field
	err = fieldDiff(&out, nil, va, vb, true, true, newMatcher(ignore))
	return out, err
}

func decodeValue(b json.RawMessage) (any, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func fieldDiff(out *[]Field, path Path, a, b any, hasA, hasB bool, m matcher) error {
	if hasA && hasB {
		switch x := a.(type) {
		case map[string]any:
			if y, ok := b.(map[string]any); ok {
				names := slices.Sorted(maps.Keys(x))
				for k := range y {
					if _, ok := x[k]; !ok {
						names = append(names, k)
					}
				}
				slices.Sort(names)
				for _, k := range names {
					sub, ignored := m.member(k)
					if ignored {
						continue
					}
					va, okA := x[k]
					vb, okB := y[k]
					if err := fieldDiff(out, append(slices.Clip(path), member(k)), va, vb, okA, okB, sub); err != nil {
						return err
					}
				}
				return nil
			}
		case []any:
			if y, ok := b.([]any); ok {
				for i := range max(len(x), len(y)) {
					sub, ignored := m.index(i)
					if ignored {
						continue
					}
					var va, vb any
					if i < len(x) {
						va = x[i]
					}
					if i < len(y) {
						vb = y[i]
					}
					if err := fieldDiff(out, append(slices.Clip(path), Step{Index: i}), va, vb, i < len(x), i < len(y), sub); err != nil {
						return err
					}
				}
				return nil
			}
		}
		if scalarEqual(a, b) {
			return nil
		}
	}
	f := Field{Path: path.String()}
	var err error
	if hasA {
		if f.A, err = rawJSON(a); err != nil {
			return err
		}
	}
	if hasB {
		if f.B, err = rawJSON(b); err != nil {
			return err
		}
	}
	*out = append(*out, f)
	return nil
}

func scalarEqual(a, b any) bool {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		return ok && canonicalNumber([]byte(x)) == canonicalNumber([]byte(y))
	case string, bool, nil:
		return a == b
	}
	return false
}

func rawJSON(v any) (json.RawMessage, error) {
	s, err := compactJSON(v)
	return json.RawMessage(s), err
}
