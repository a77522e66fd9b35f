package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/evctl/evctl/internal/iostreams"
	"github.com/evctl/evctl/internal/record"
)

func sampleRecord() *record.Record {
	return &record.Record{
		Topic: "bank.account-events", Partition: 3, Offset: 41,
		Timestamp: record.Timestamp{Time: time.Date(2026, 11, 20, 9, 14, 3, 250e6, time.UTC)},
		Key:       json.RawMessage(`"acct-0007"`), KeyEncoding: record.EncodingText,
		Value: json.RawMessage(`{"amount":"120.50","note":"a\tb"}`), ValueEncoding: record.EncodingAvro,
		Type:    "com.bank.MoneyDeposited",
		Headers: []record.Header{{Key: "event-type", Value: "MoneyDeposited"}},
	}
}

func TestPrinters(t *testing.T) {
	tombstone := sampleRecord()
	tombstone.Value, tombstone.ValueEncoding, tombstone.Type = json.RawMessage(`null`), record.EncodingNull, ""
	bad := sampleRecord()
	bad.Value, bad.ValueEncoding, bad.Error = json.RawMessage(`"AAAAAAX/"`), record.EncodingBase64, "value: truncated"

	tests := []struct {
		name   string
		tty    bool
		output string
		tmpl   string
		rec    *record.Record
		want   string
	}{
		{"tsv", false, "text", "", sampleRecord(),
			"2026-11-20T09:14:03.250Z\tbank.account-events\t3\t41\tacct-0007\tcom.bank.MoneyDeposited\t{\"amount\":\"120.50\",\"note\":\"a\\tb\"}\n"},
		{"tsv tombstone", false, "text", "", tombstone,
			"2026-11-20T09:14:03.250Z\tbank.account-events\t3\t41\tacct-0007\t-\tnull\n"},
		{"tsv base64 is marked", false, "text", "", bad,
			"2026-11-20T09:14:03.250Z\tbank.account-events\t3\t41\tacct-0007\tcom.bank.MoneyDeposited\tbase64:AAAAAAX/\n"},
		{"tty", true, "text", "", sampleRecord(),
			"2026-11-20T09:14:03.250Z bank.account-events/3@41 acct-0007 MoneyDeposited {\"amount\":\"120.50\",\"note\":\"a\\tb\"}\n"},
		{"tty shows the error", true, "text", "", bad,
			"2026-11-20T09:14:03.250Z bank.account-events/3@41 acct-0007 MoneyDeposited base64:AAAAAAX/\n  ! value: truncated\n"},
		{"raw", false, "raw", "", sampleRecord(), "{\"amount\":\"120.50\",\"note\":\"a\\tb\"}\n"},
		{"template", false, "", `{{.key}} {{short .type}} {{.value.amount}} {{index .headers "event-type"}}`, sampleRecord(),
			"acct-0007 MoneyDeposited 120.50 MoneyDeposited\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			ios.SetStdoutTTY(tt.tty)
			p, err := newRecordPrinter(ios, tt.output, tt.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Append(nil, tt.rec)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestJSONPrinterRoundTrips(t *testing.T) {
	in := sampleRecord()
	in.RawValue = []byte{0, 0, 0, 0, 5, 2}
	out, err := jsonPrinter{}.Append(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	var back record.Record
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if back.Offset != 41 || string(back.RawValue) != string(in.RawValue) || !back.Timestamp.Equal(in.Timestamp.Time) || back.Headers[0] != in.Headers[0] {
		t.Fatalf("round trip lost data: %+v", back)
	}
}

func TestPrinterErrors(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	if _, err := newRecordPrinter(ios, "yaml", ""); err == nil {
		t.Error("want an error for -o yaml")
	}
	if _, err := newRecordPrinter(ios, "", "{{.key"); err == nil {
		t.Error("want an error for a broken template")
	}
}

// A JUnit report is there on every exit: the command's own on a verdict,
// "did not finish" while it runs, the error when it fails.
func TestJUnitOnEveryExit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.xml")
	if err := os.WriteFile(path, []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	read := func() string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, tt := range []struct {
		name   string
		err    error
		writes bool // the command writes its own report: a verdict
		want   string
	}{
		{"verdict", nil, true, "own"},
		{"findings", &ExitError{Code: ExitNegative}, true, "own"},
		{"failure", errors.New(`topic "x" not found`), false, `<error message="topic &#34;x&#34; not found" type="error">evctl: topic &#34;x&#34; not found</error>`},
	} {
		err := junitOnEveryExit(path, "evctl test", "evctl.test", "case", func() error {
			if got := read(); !strings.Contains(got, `<error message="the run did not finish"`) {
				t.Errorf("%s: while running, the report is %q", tt.name, got)
			}
			if tt.writes {
				if err := os.WriteFile(path, []byte("own"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			return tt.err
		})
		if !errors.Is(err, tt.err) {
			t.Errorf("%s: junitOnEveryExit = %v, want %v", tt.name, err, tt.err)
		}
		if got := read(); !strings.Contains(got, tt.want) {
			t.Errorf("%s: report %q, want it to hold %q", tt.name, got, tt.want)
		}
	}
}

// --color always on a pipe colours tail's tab-separated lines, field by
// field, the tabs outside the colours: the same line once the colours are
// taken out.
func TestTSVPrinterColourAlways(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	plain, err := newRecordPrinter(ios, "text", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := ios.SetColorMode("always"); err != nil {
		t.Fatal(err)
	}
	coloured, err := newRecordPrinter(ios, "text", "")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := plain.Append(nil, sampleRecord())
	got, _ := coloured.Append(nil, sampleRecord())
	if !bytes.Contains(got, []byte("\x1b[36macct-0007\x1b[0m\t")) {
		t.Errorf("--color always, piped: the key is not coloured on its own: %q", got)
	}
	if stripped := regexp.MustCompile("\x1b\\[[0-9]+m").ReplaceAll(got, nil); !bytes.Equal(stripped, want) {
		t.Errorf("without its colours the line is\n%q\nwant\n%q", stripped, want)
	}
}
