package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"
	"github.com/itchyny/gojq"

	"github.com/evctl/evctl/internal/filter"
	"github.com/evctl/evctl/internal/record"
)

// Columns are jq expressions (one jq expression, its comma-separated
// parts: .value.amount, .value.reason) whose values the record list shows
// in place of the value's preview.
type columnSet struct {
	exprs []*filter.Expr
}

// maxColumn is the widest a column grows.
const maxColumn = 30

// ParseColumns compiles the columns of a --columns or c expression: the
// parts of its top-level commas, each a jq expression over the record.
// The empty text is no columns.
func ParseColumns(text string) ([]*filter.Expr, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	q, err := gojq.Parse(text)
	if err != nil {
		_, err = filter.CompileExpr(text) // for its message, which shows where
		return nil, fmt.Errorf("columns: %w", err)
	}
	var parts []*gojq.Query
	var split func(q *gojq.Query)
	split = func(q *gojq.Query) {
		if q.Op == gojq.OpComma && q.Meta == nil && len(q.FuncDefs) == 0 && len(q.Imports) == 0 {
			split(q.Left)
			split(q.Right)
			return
		}
		parts = append(parts, q)
	}
	split(q)
	out := make([]*filter.Expr, 0, len(parts))
	for _, p := range parts {
		e, err := filter.CompileExpr(p.String())
		if err != nil {
			return nil, fmt.Errorf("columns: %w", err)
		}
		out = append(out, e)
	}
	return out, nil
}

func (c columnSet) String() string {
	strs := make([]string, len(c.exprs))
	for i, e := range c.exprs {
		strs[i] = e.String()
	}
	return strings.Join(strs, ", ")
}

// cells are a record's column values on one line each: strings as they
// are, null or nothing as -, anything else as JSON; an error as !.
func (m *Model) cells(r *record.Record) []string {
	out := make([]string, len(m.list.cols.exprs))
	for i, e := range m.list.cols.exprs {
		v, ok, err := e.Eval(m.o.Context, r)
		switch {
		case err != nil:
			out[i] = "!"
		case !ok || v == nil:
			out[i] = "-"
		default:
			if s, isString := v.(string); isString {
				out[i] = record.OneLine(s)
			} else {
				b, _ := gojq.Marshal(v)
				out[i] = string(b)
			}
		}
	}
	return out
}

// columnWidths are each column's width over the records shown: its
// widest value, up to maxColumn.
func (m *Model) columnWidths(rows [][]string) []int {
	w := make([]int, len(m.list.cols.exprs))
	for _, cells := range rows {
		for i, c := range cells {
			w[i] = min(max(w[i], ansi.StringWidth(c)), maxColumn)
		}
	}
	return w
}

// columnLine joins cells padded to widths, the last one left as it is.
func columnLine(cells []string, widths []int) string {
	var b strings.Builder
	for i, c := range cells {
		if i > 0 {
			b.WriteString("  ")
		}
		c = ansi.Truncate(c, widths[i], "…")
		if i < len(cells)-1 {
			c = padRight(c, widths[i])
		}
		b.WriteString(c)
	}
	return b.String()
}
