package diff

import (
	"fmt"
	"strconv"
	"strings"
)

// Path is a jq-style path into a JSON value: .a.b[2], .["odd key"], .a[]
// (any element of an array).
type Path []Step

// Step is one step of a Path: an object member, an array index, or any
// array element.
type Step struct {
	Name  string
	Index int // >= 0 for an index; -1 for a member name; anyIndex for []
}

const (
	memberStep = -1
	anyIndex   = -2
)

func member(name string) Step { return Step{Name: name, Index: memberStep} }

// ParsePath parses .a.b, .a[2], .a[], .["a b"] and ."a b". The empty path
// "." is the whole value.
func ParsePath(s string) (Path, error) {
	if !strings.HasPrefix(s, ".") && !strings.HasPrefix(s, "[") {
		return nil, fmt.Errorf("invalid path %q: want a jq path like .updatedAt or .items[0].price", s)
	}
	var p Path
	i := 0
	bad := func(why string) (Path, error) {
		return nil, fmt.Errorf("invalid path %q at position %d: %s", s, i, why)
	}
	for i < len(s) {
		switch s[i] {
		case '.':
			i++
			if i == len(s) {
				if len(p) == 0 {
					return p, nil // "." is the whole value
				}
				return bad("a path cannot end with '.'")
			}
			switch s[i] {
			case '"':
				name, n, err := quoted(s[i:])
				if err != nil {
					return bad(err.Error())
				}
				p = append(p, member(name))
				i += n
			case '[':
				// .[...] is handled as [ below
			default:
				j := i
				for j < len(s) && isIdent(s[j], j == i) {
					j++
				}
				if j == i {
					return bad("want a name")
				}
				p = append(p, member(s[i:j]))
				i = j
			}
		case '[':
			i++
			switch {
			case i < len(s) && s[i] == ']':
				p = append(p, Step{Index: anyIndex})
				i++
				continue
			case i < len(s) && s[i] == '"':
				name, n, err := quoted(s[i:])
				if err != nil {
					return bad(err.Error())
				}
				p = append(p, member(name))
				i += n
			default:
				j := i
				for j < len(s) && s[j] >= '0' && s[j] <= '9' {
					j++
				}
				n, err := strconv.Atoi(s[i:j])
				if err != nil {
					return bad("want an index, a quoted name or ]")
				}
				p = append(p, Step{Index: n})
				i = j
			}
			if i >= len(s) || s[i] != ']' {
				return bad("want ]")
			}
			i++
		default:
			return bad("want . or [")
		}
	}
	return p, nil
}

func quoted(s string) (string, int, error) {
	for j := 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			name, err := strconv.Unquote(s[:j+1])
			return name, j + 1, err
		}
	}
	return "", 0, fmt.Errorf("unterminated string")
}

func isIdent(c byte, first bool) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (!first && c >= '0' && c <= '9')
}

// String renders the path as jq would: .a.b[2], .["a b"].
func (p Path) String() string {
	if len(p) == 0 {
		return "."
	}
	var b strings.Builder
	for _, s := range p {
		switch {
		case s.Index == anyIndex:
			b.WriteString("[]")
		case s.Index >= 0:
			b.WriteString("[" + strconv.Itoa(s.Index) + "]")
		case identName(s.Name):
			b.WriteString("." + s.Name)
		default:
			if b.Len() == 0 {
				b.WriteByte('.')
			}
			b.WriteString("[" + strconv.Quote(s.Name) + "]")
		}
	}
	return b.String()
}

func identName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIdent(s[i], i == 0) {
			return false
		}
	}
	return true
}

// matcher tracks which ignore paths still match the path walked so far.
// The zero matcher ignores nothing and costs nothing.
type matcher struct {
	paths []Path
	depth int
}

// member descends into an object member; ignored is true when a path ends
// there (the member is left out).
func (m matcher) member(name string) (next matcher, ignored bool) {
	return m.step(func(s Step) bool { return s.Index == memberStep && s.Name == name })
}

// index descends into an array element.
func (m matcher) index(i int) (next matcher, ignored bool) {
	return m.step(func(s Step) bool { return s.Index == anyIndex || s.Index == i })
}

func (m matcher) step(match func(Step) bool) (matcher, bool) {
	if len(m.paths) == 0 {
		return m, false
	}
	var keep []Path
	for _, p := range m.paths {
		if match(p[m.depth]) {
			if len(p) == m.depth+1 {
				return matcher{}, true
			}
			keep = append(keep, p)
		}
	}
	return matcher{paths: keep, depth: m.depth + 1}, false
}

func newMatcher(paths []Path) matcher {
	var keep []Path
	for _, p := range paths {
		if len(p) > 0 {
			keep = append(keep, p)
		}
	}
	return matcher{paths: keep}
}
