package diff

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/evctl/evctl/internal/english"
)

// Painter colours text; iostreams.Palette is one, and Plain leaves text
// alone.
type Painter interface {
	Bold(string) string
	Dim(string) string
	Red(string) string
	Green(string) string
	Yellow(string) string
	Cyan(string) string
}

// Plain is a Painter without colour.
type Plain struct{}

func (Plain) Bold(s string) string   { return s }
func (Plain) Dim(s string) string    { return s }
func (Plain) Red(s string) string    { return s }
func (Plain) Green(s string) string  { return s }
func (Plain) Yellow(s string) string { return s }
func (Plain) Cyan(s string) string   { return s }

// WriteJSON writes the report as one JSON document (-o json). With stat,
// the lists are left out: counts only.
func WriteJSON(w io.Writer, r *Report, stat bool) error {
	e := json.NewEncoder(w)
	e.SetEscapeHTML(false)
	e.SetIndent("", "  ")
	if stat {
		return e.Encode(struct {
			Version      int              `json:"version"`
			Mode         Mode             `json:"mode"`
			A            string           `json:"a"`
			B            string           `json:"b"`
			Equal        bool             `json:"equal"`
			Counts       Counts           `json:"counts"`
			Notes        []string         `json:"notes,omitempty"`
			Warnings     []string         `json:"warnings,omitempty"`
			SkippedTypes map[string]int64 `json:"skippedTypes,omitempty"`
		}{r.Version, r.Mode, r.A, r.B, r.Equal, r.Counts, r.Notes, r.Warnings, r.SkippedTypes})
	}
	return e.Encode(r)
}

// WriteStat writes the counts only (--stat): the summary line.
func WriteStat(w io.Writer, r *Report, p Painter) error {
	_, err := fmt.Fprintln(w, Summary(r, p))
	return err
}

// Summary is the report's last line: what was compared and what differs.
func Summary(r *Report, p Painter) string {
	c := r.Counts
	if r.Mode == ModeHistory {
		head := fmt.Sprintf("a: %s (%s, %s), b: %s (%s, %s): ", r.A, english.Plural(c.A, "key"), english.Plural(c.EventsA, "event"), r.B, english.Plural(c.B, "key"), english.Plural(c.EventsB, "event"))
		if r.Equal {
			return head + p.Green("same")
		}
		return head + fmt.Sprintf("%s, %s, %s, %d same; events: %d missing, %d extra, %d changed, %d reordered",
			p.Green(fmt.Sprintf("%d added", c.Added)), p.Red(fmt.Sprintf("%d removed", c.Removed)), p.Yellow(fmt.Sprintf("%d changed", c.Changed)), c.Same,
			c.Missing, c.Extra, c.ChangedEv, c.Reordered)
	}
	head := fmt.Sprintf("a: %s (%s), b: %s (%s): ", r.A, english.Plural(c.A, "key"), r.B, english.Plural(c.B, "key"))
	if r.Equal {
		return head + p.Green("same")
	}
	return head + fmt.Sprintf("%s, %s, %s, %d same",
		p.Green(fmt.Sprintf("%d added", c.Added)), p.Red(fmt.Sprintf("%d removed", c.Removed)), p.Yellow(fmt.Sprintf("%d changed", c.Changed)), c.Same)
}

// WriteText writes the report for people: every differing key in key
// order — "-" only in a, "+" only in b, "~" changed, with its fields —
// then the summary line.
func WriteText(w io.Writer, r *Report, p Painter) error {
	bw := bufio.NewWriter(w)
	if !r.Equal && len(r.Added)+len(r.Removed)+len(r.Changed) > 0 {
		fmt.Fprintf(bw, "%s\n%s\n", p.Bold("--- a: "+r.A), p.Bold("+++ b: "+r.B))
	}
	ia, ir, ic := 0, 0, 0
	for ia < len(r.Added) || ir < len(r.Removed) || ic < len(r.Changed) {
		// Merge the three sorted lists by key.
		next, key := -1, ""
		if ir < len(r.Removed) {
			next, key = 0, r.Removed[ir].Key.Text
		}
		if ia < len(r.Added) && (next < 0 || r.Added[ia].Key.Text < key) {
			next, key = 1, r.Added[ia].Key.Text
		}
		if ic < len(r.Changed) && (next < 0 || r.Changed[ic].Key.Text < key) {
			next = 2
		}
		switch next {
		case 0:
			writeEntry(bw, p, "-", r.Removed[ir], r.Mode)
			ir++
		case 1:
			writeEntry(bw, p, "+", r.Added[ia], r.Mode)
			ia++
		case 2:
			writeChange(bw, p, r.Changed[ic])
			ic++
		}
	}
	if r.Truncated {
		shown := len(r.Added) + len(r.Removed) + len(r.Changed)
		if more := r.Counts.Added + r.Counts.Removed + r.Counts.Changed - shown; more > 0 { // else only a key's events were cut
			fmt.Fprintf(bw, "%s\n", p.Dim(fmt.Sprintf("... %s not shown: --max-changes %d shows the first by key", english.Plural(more, "more differing key"), shown)))
		}
	}
	writeGroups(bw, p, r)
	fmt.Fprintln(bw, Summary(r, p))
	return bw.Flush()
}

// maxGroupLines bounds the groups text output lists; -o json has them all.
const maxGroupLines = 20

// writeGroups lists the changes several keys (or events) share.
func writeGroups(w io.Writer, p Painter, r *Report) {
	if len(r.Groups) == 0 {
		return
	}
	noun := "key"
	if r.Mode == ModeHistory {
		noun = "event"
	}
	fmt.Fprintln(w, p.Bold("changes shared by several "+noun+"s:"))
	for i, g := range r.Groups {
		if i == maxGroupLines {
			fmt.Fprintf(w, "    %s\n", p.Dim(fmt.Sprintf("... and %d more (-o json lists them all)", len(r.Groups)-i)))
			break
		}
		fmt.Fprintf(w, "    %s: %s  %s\n", p.Cyan(g.Path), p.Yellow(g.Change), p.Dim("("+english.Plural(g.Count, noun)+")"))
	}
}

func writeEntry(w io.Writer, p Painter, mark string, e Entry, mode Mode) {
	paint := p.Green
	if mark == "-" {
		paint = p.Red
	}
	if mode == ModeHistory {
		fmt.Fprintf(w, "%s %s  (%s)\n", paint(mark), p.Bold(e.Key.Text), english.Plural(e.Events, "event"))
		return
	}
	fmt.Fprintf(w, "%s %s  %s\n", paint(mark), p.Bold(e.Key.Text), p.Dim(e.At))
	fmt.Fprintf(w, "    %s\n", paint(string(e.Value)))
}

func writeChange(w io.Writer, p Painter, c Change) {
	if c.Events == nil {
		at := c.AtA + " → " + c.AtB
		switch {
		case c.AtA == "" && c.AtB == "":
			at = ""
		case c.AtA == "":
			at = "b " + c.AtB
		case c.AtB == "":
			at = "a " + c.AtA
		}
		fmt.Fprintf(w, "%s %s  %s\n", p.Yellow("~"), p.Bold(c.Key.Text), p.Dim(at))
		writeFields(w, p, c.Fields, "    ")
		return
	}
	fmt.Fprintf(w, "%s %s\n", p.Yellow("~"), p.Bold(c.Key.Text))
	for _, e := range c.Events {
		var at string
		switch {
		case e.A != "" && e.B != "":
			at = "a " + e.A + " → b " + e.B
		case e.A != "":
			at = "a " + e.A
		default:
			at = "b " + e.B
		}
		kind := fmt.Sprintf("%-9s", e.Kind)
		switch e.Kind {
		case Missing:
			kind = p.Red(kind)
		case Extra:
			kind = p.Green(kind)
		default:
			kind = p.Yellow(kind)
		}
		fmt.Fprintf(w, "    %s %s  %s\n", kind, at, e.Type)
		writeFields(w, p, e.Fields, "        ")
	}
	if c.MoreEvents > 0 {
		fmt.Fprintf(w, "    %s\n", p.Dim(fmt.Sprintf("... and %s of %s not shown: --max-changes %d shows the first of each key",
			english.Plural(c.MoreEvents, "more event difference"), c.Key.Text, len(c.Events))))
	}
}

func writeFields(w io.Writer, p Painter, fields []Field, indent string) {
	for _, f := range fields {
		fmt.Fprintf(w, "%s%s: %s → %s\n", indent, p.Cyan(f.Path), p.Red(shown(f.A)), p.Green(shown(f.B)))
	}
}

func shown(v json.RawMessage) string {
	if v == nil {
		return "(absent)"
	}
	return strings.TrimSpace(string(v))
}
