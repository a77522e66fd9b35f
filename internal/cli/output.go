package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/template"

	"github.com/evctl/evctl/internal/filter"
	"github.com/evctl/evctl/internal/iostreams"
	"github.com/evctl/evctl/internal/record"
)

// recordPrinter appends one record's output to buf. Printers are safe for
// concurrent use, so records can be formatted in parallel and written in
// order.
type recordPrinter interface {
	Append(buf []byte, r *record.Record) ([]byte, error)
}

// newRecordPrinter picks the printer once, from -o and --template.
func newRecordPrinter(ios *iostreams.IOStreams, output, tmpl string) (recordPrinter, error) {
	if tmpl != "" {
		return newTemplatePrinter(tmpl)
	}
	switch output {
	case "json":
		return jsonPrinter{}, nil
	case "raw":
		return rawPrinter{}, nil
	case "text", "":
		if ios.IsStdoutTTY() {
			return ttyPrinter{p: ios.Palette()}, nil
		}
		if ios.ColorEnabled() { // --color always (or CLICOLOR_FORCE) on a pipe
			p := ios.Palette()
			return tsvPrinter{paint: &p}, nil
		}
		return tsvPrinter{}, nil
	}
	return nil, flagErrorf("invalid --output %q: want text, json or raw", output)
}

// jsonPrinter writes the capture format.
type jsonPrinter struct{}

func (jsonPrinter) Append(buf []byte, r *record.Record) ([]byte, error) {
	return record.AppendJSON(buf, r)
}

// rawPrinter writes the value's exact bytes and a newline, as kcat does.
type rawPrinter struct{}

func (rawPrinter) Append(buf []byte, r *record.Record) ([]byte, error) {
	if r.RawValue != nil || r.ValueEncoding == record.EncodingNull {
		return append(append(buf, r.RawValue...), '\n'), nil
	}
	return append(append(buf, record.PayloadText(r.Value, r.ValueEncoding)...), '\n'), nil
}

// tsvPrinter is text output for pipes: one tab-separated line per record,
// timestamp, topic, partition, offset, key, type, value; grep and cut work.
// With paint (--color always) each field is coloured as on a terminal, the
// tabs outside the colours, so the fields still split on them.
type tsvPrinter struct{ paint *iostreams.Palette }

func (t tsvPrinter) Append(buf []byte, r *record.Record) ([]byte, error) {
	key := record.OneLine(record.PayloadText(r.Key, r.KeyEncoding))
	typ := r.Type
	if typ == "" {
		typ = "-"
	}
	value := record.OneLine(record.PayloadText(r.Value, r.ValueEncoding))
	if p := t.paint; p != nil {
		return fmt.Appendf(buf, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			p.Dim(r.Timestamp.UTC().Format(record.TimestampFormat)),
			p.Blue(r.Topic), p.Blue(strconv.Itoa(int(r.Partition))), p.Blue(strconv.FormatInt(r.Offset, 10)),
			p.Cyan(key), p.Magenta(typ), value), nil
	}
	buf = r.Timestamp.UTC().AppendFormat(buf, record.TimestampFormat)
	buf = append(buf, '\t')
	buf = append(buf, r.Topic...)
	buf = append(buf, '\t')
	buf = strconv.AppendInt(buf, int64(r.Partition), 10)
	buf = append(buf, '\t')
	buf = strconv.AppendInt(buf, r.Offset, 10)
	buf = append(buf, '\t')
	buf = append(buf, key...)
	buf = append(buf, '\t')
	buf = append(buf, typ...)
	buf = append(buf, '\t')
	buf = append(buf, value...)
	return append(buf, '\n'), nil
}

// ttyPrinter is text output for people: aligned, coloured when allowed,
// with the error under an undecodable record.
type ttyPrinter struct{ p iostreams.Palette }

func (t ttyPrinter) Append(buf []byte, r *record.Record) ([]byte, error) {
	p := t.p
	typ := record.ShortType(r.Type)
	if typ == "" {
		typ = r.ValueEncoding
	}
	buf = fmt.Appendf(buf, "%s %s %s %s %s\n",
		p.Dim(r.Timestamp.String()),
		p.Blue(fmt.Sprintf("%s/%d@%d", r.Topic, r.Partition, r.Offset)),
		p.Cyan(record.OneLine(record.PayloadText(r.Key, r.KeyEncoding))),
		p.Magenta(typ),
		record.OneLine(record.PayloadText(r.Value, r.ValueEncoding)))
	if r.Error != "" {
		buf = fmt.Appendf(buf, "  %s %s\n", p.Red("!"), p.Red(r.Error))
	}
	return buf, nil
}

// templatePrinter runs a Go template over the record's view (the same
// object jq filters see), adding a newline after each record.
type templatePrinter struct{ t *template.Template }

func newTemplatePrinter(src string) (templatePrinter, error) {
	t, err := template.New("record").Funcs(template.FuncMap{
		"json": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
		"short":  record.ShortType,
		"base64": func(b []byte) string { return base64.StdEncoding.EncodeToString(b) },
	}).Option("missingkey=zero").Parse(src)
	if err != nil {
		return templatePrinter{}, flagErrorf("invalid --template: %v", err)
	}
	return templatePrinter{t: t}, nil
}

func (p templatePrinter) Append(buf []byte, r *record.Record) ([]byte, error) {
	v, err := filter.View(r)
	if err != nil {
		return buf, err
	}
	w := bytes.NewBuffer(buf)
	if err := p.t.Execute(w, v); err != nil {
		return w.Bytes(), fmt.Errorf("--template: %w", err)
	}
	out := w.Bytes()
	if len(out) == 0 || out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return out, nil
}

// JUnit XML, as Jenkins, GitLab and GitHub test reporters read it.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr,omitempty"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr,omitempty"`
	Skipped    int             `xml:"skipped,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Error     *junitError   `xml:"error,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
}

// junitError is a test case that could not run to its verdict.
type junitError struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// junitOnEveryExit runs a command that writes its own JUnit report to path
// once it reaches a verdict (exit 0 or 1), so that a report is there on
// every other exit too: one saying the run did not finish replaces any old
// report first (CI never shows a stale one, even after a kill), and a run
// that fails writes its error as the test case name's <error>.
func junitOnEveryExit(path, suite, class, name string, run func() error) error {
	if path == "" {
		return run()
	}
	if err := writeJUnitError(path, suite, class, name, errors.New("the run did not finish")); err != nil {
		return err
	}
	err := run()
	var exit *ExitError
	if err == nil || (errors.As(err, &exit) && exit.Code == ExitNegative) {
		return err // a verdict: the command wrote its report
	}
	if jerr := writeJUnitError(path, suite, class, name, err); jerr != nil {
		return errors.Join(err, jerr)
	}
	return err
}

// writeJUnitError writes a report of one test case in error.
func writeJUnitError(path, suite, class, name string, failure error) error {
	c := junitCase{Name: name, Classname: class, Error: &junitError{Message: failure.Error(), Type: "error", Text: "evctl: " + failure.Error()}}
	return writeJUnitSuites(path, junitSuites{Name: suite, Tests: 1, Errors: 1, Suites: []junitSuite{{Name: suite, Tests: 1, Errors: 1, Cases: []junitCase{c}}}})
}

// writeJUnitSuites writes a JUnit XML file.
func writeJUnitSuites(path string, s junitSuites) error {
	b, err := xml.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append([]byte(xml.Header), append(b, '\n')...), 0o644); err != nil {
		return fmt.Errorf("--junit: %w", err)
	}
	return nil
}

// printJSON writes v as one indented JSON document, as the report
// commands' -o json print it; <, > and & stay as they are (check's
// assertions hold them), since nobody pastes these into HTML.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
