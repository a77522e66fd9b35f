package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/evctl/evctl/internal/check"
	"github.com/evctl/evctl/internal/iostreams"
)

func TestNewCmdCheck(t *testing.T) {
	tests := []flagCase[CheckOptions]{
		{name: "defaults", args: []string{"t"}, want: CheckOptions{Topic: "t", FirstVersion: 1, MaxFindings: 100, Output: "text"}},
		{name: "every rule", args: []string{"t", "--key-by", ".value.id", "--version-field", ".value.version",
			"--id-field", `.headers["event-id"]`, "--terminal", "AccountClosed,Deleted", "--terminal", "com.x.Gone",
			"--projection", "p.yaml", "--assert", ".state.a >= 0, .state.b >= 0", "--assert", ".state != null",
			"--require-schema", "--skip", "no-schema,multi-partition", "--max-findings", "0", "-o", "json", "--junit", "r.xml"},
			want: CheckOptions{Topic: "t", KeyBy: ".value.id", VersionField: ".value.version", FirstVersion: 1, IDField: `.headers["event-id"]`,
				Terminal: []string{"AccountClosed", "Deleted", "com.x.Gone"}, Projection: "p.yaml",
				Asserts:       []string{".state.a >= 0, .state.b >= 0", ".state != null"}, // a jq comma is no separator
				RequireSchema: true, Skip: []string{"no-schema", "multi-partition"}, Output: "json", JUnit: "r.xml"}},
		{name: "no topic", args: []string{}, wantErr: "accepts 1 arg(s)"},
		{name: "two topics", args: []string{"a", "b"}, wantErr: "accepts 1 arg(s)"},
		{name: "bad output", args: []string{"t", "-o", "yaml"}, wantErr: `invalid --output "yaml"`},
		{name: "assert without projection", args: []string{"t", "--assert", ".state"}, wantErr: "--assert needs --projection"},
		{name: "unknown rule", args: []string{"t", "--skip", "typos"}, wantErr: `--skip: unknown rule "typos" (rules: undecodable,`},
		{name: "negative cap", args: []string{"t", "--max-findings", "-1"}, wantErr: "--max-findings"},
		{name: "versions from 0, reopening, aggregate types", args: []string{"t", "--first-version", "0", "--terminal", "Closed",
			"--reopens", "Opened,Restored", "--aggregate-type", ".value.agg"},
			want: CheckOptions{Topic: "t", FirstVersion: 0, Terminal: []string{"Closed"}, Reopens: []string{"Opened", "Restored"},
				AggregateType: ".value.agg", MaxFindings: 100, Output: "text"}},
		{name: "negative first version", args: []string{"t", "--first-version", "-1"}, wantErr: "invalid --first-version -1"},
		{name: "reopens without terminal", args: []string{"t", "--reopens", "Opened"}, wantErr: "--reopens needs --terminal"},
	}
	checkFlagCases(t, NewCmdCheck, tests, "IO", "Kafka", "Registry", "Now", "Getenv")
}

// A jq syntax error is a usage error (exit 2), found before any dialling.
func TestCheckRunBadExpression(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	err := checkRun(context.Background(), &CheckOptions{IO: ios, Topic: "t", VersionField: ".value |", Output: "text",
		Kafka: nil}) // nil: dialling would panic
	var fe *FlagError
	if err == nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), "--version-field: invalid jq filter at position") {
		t.Fatalf("err = %v, want a FlagError naming --version-field", err)
	}
}

func sampleReport() *check.Report {
	return &check.Report{
		Topic: "bank.x", Records: 40,
		Findings: []check.Finding{
			{Rule: check.RuleVersionGap, Topic: "bank.x", Partition: 0, Offset: 2, Key: "acct-1", Message: "version 4 after 2 (3 missing)"},
			{Rule: check.RuleAssertion, Topic: "bank.x", Partition: 0, Offset: 7, Key: "acct-2", Message: `.state.b >= 0 is false; state {"b":-1}`},
			{Rule: check.RuleNoSchema, Topic: "bank.x", Partition: 1, Offset: 3, Key: "a\tb", Aggregate: "x", Message: "value is\nplain JSON without a schema"},
		},
		Counts:   map[check.Rule]int64{check.RuleVersionGap: 1, check.RuleAssertion: 3, check.RuleNoSchema: 1, check.RuleUndecodable: 0},
		Disabled: map[check.Rule]string{check.RuleDuplicateID: "needs --id-field"},
	}
}

func TestCheckOutputs(t *testing.T) {
	rep := sampleReport()

	var tsv bytes.Buffer
	if err := writeCheckTSV(&tsv, rep); err != nil {
		t.Fatal(err)
	}
	wantTSV := "version-gap\tbank.x\t0\t2\tacct-1\tversion 4 after 2 (3 missing)\n" +
		"assertion\tbank.x\t0\t7\tacct-2\t.state.b >= 0 is false; state {\"b\":-1}\n" +
		"no-schema\tbank.x\t1\t3\ta\\tb\tvalue is\\nplain JSON without a schema\n"
	if diff := cmp.Diff(wantTSV, tsv.String()); diff != "" {
		t.Errorf("tsv (-want +got):\n%s", diff)
	}

	var grouped bytes.Buffer
	if err := writeCheckGrouped(&grouped, iostreams.Palette{}, rep); err != nil {
		t.Fatal(err)
	}
	wantGrouped := `no-schema (1 finding)
  bank.x/1@3 a\tb (x)  value is\nplain JSON without a schema
version-gap (1 finding)
  bank.x/0@2 acct-1  version 4 after 2 (3 missing)
assertion (3 findings)
  bank.x/0@7 acct-2  .state.b >= 0 is false; state {"b":-1}
  ... and 2 more (--max-findings)
`
	if diff := cmp.Diff(wantGrouped, grouped.String()); diff != "" {
		t.Errorf("grouped (-want +got):\n%s", diff)
	}

	var js bytes.Buffer
	if err := writeCheckJSON(&js, rep); err != nil {
		t.Fatal(err)
	}
	var back check.Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("json: %v\n%s", err, js.String())
	}
	if diff := cmp.Diff(rep, &back); diff != "" {
		t.Errorf("json round trip (-want +got):\n%s", diff)
	}
	if !strings.Contains(js.String(), `.state.b >= 0`) {
		t.Errorf("json escapes >: %s", js.String())
	}

	var summary bytes.Buffer
	writeCheckSummary(&summary, iostreams.Palette{}, rep)
	if want := "5 findings in 40 records of bank.x (no-schema 1, version-gap 1, assertion 3)\n"; summary.String() != want {
		t.Errorf("summary = %q, want %q", summary.String(), want)
	}
	summary.Reset()
	writeCheckSummary(&summary, iostreams.Palette{}, &check.Report{Topic: "t", Records: 1, Counts: map[check.Rule]int64{check.RuleUndecodable: 0},
		Notes: []string{`the projection ignores event types it has no handler for: "A" (1), "B" (2)`}})
	if want := "no findings in 1 record of t (1 rule)\nnote: the projection ignores event types it has no handler for: \"A\" (1), \"B\" (2)\n"; summary.String() != want {
		t.Errorf("summary = %q, want %q", summary.String(), want)
	}
}

// The JUnit report is XML that parses, one testcase per rule.
func TestCheckJUnitParses(t *testing.T) {
	var b bytes.Buffer
	if err := writeJUnit(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
				Skipped *struct {
					Message string `xml:"message,attr"`
				} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("junit does not parse: %v\n%s", err, b.String())
	}
	if got.Tests != len(check.Rules) || got.Failures != 3 || len(got.Suites) != 1 || len(got.Suites[0].Cases) != len(check.Rules) {
		t.Fatalf("junit: tests %d failures %d suites %d\n%s", got.Tests, got.Failures, len(got.Suites), b.String())
	}
	byName := map[string]int{}
	for i, c := range got.Suites[0].Cases {
		byName[c.Name] = i
	}
	cases := got.Suites[0].Cases
	if c := cases[byName["assertion"]]; c.Failure == nil || c.Failure.Message != "3 findings" ||
		c.Failure.Text != "bank.x/0@7 acct-2: .state.b >= 0 is false; state {\"b\":-1}\n... and 2 more\n" {
		t.Errorf("assertion testcase = %+v", c.Failure)
	}
	if c := cases[byName["undecodable"]]; c.Failure != nil || c.Skipped != nil {
		t.Errorf("a clean rule passes: %+v", c)
	}
	if c := cases[byName["duplicate-id"]]; c.Skipped == nil || c.Skipped.Message != "needs --id-field" {
		t.Errorf("a rule that did not run is skipped: %+v", c)
	}
}
