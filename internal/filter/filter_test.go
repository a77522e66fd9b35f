package filter

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/evctl/evctl/internal/record"
)

func sample() *record.Record {
	return &record.Record{
		Topic: "bank.account-events", Partition: 3, Offset: 41,
		Timestamp: record.Timestamp{Time: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)},
		Key:       json.RawMessage(`"acct-0042"`),
		Value:     json.RawMessage(`{"accountId":"acct-0042","amount":"12.50","big":9007199254740993}`),
		Headers:   []record.Header{{Key: "event-id", Value: "a"}, {Key: "event-id", Value: "b"}},
		Type:      "com.bank.MoneyWithdrawn",
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		expr string
		want bool
	}{
		{`.type | endswith("Withdrawn")`, true},
		{`.type | endswith("Deposited")`, false},
		{`.key == "acct-0042"`, true},
		{`.value.amount == "12.50"`, true},
		{`.value.big == 9007199254740993`, true},
		{`.headers["event-id"] == "b"`, true},
		{`[.headerList[].value] == ["a","b"]`, true},
		{`.partition == 3 and .offset == 41`, true},
		{`.timestamp | startswith("2026-11-01T12:00:00.000Z")`, true},
		{`null`, false},
		{`empty`, false},
		{`0`, true}, // jq: only false and null are falsy
	}
	for _, tt := range tests {
		f, err := Compile(tt.expr)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tt.expr, err)
		}
		got, err := f.Match(context.Background(), sample())
		if err != nil {
			t.Fatalf("Match(%q): %v", tt.expr, err)
		}
		if got != tt.want {
			t.Errorf("Match(%q) = %v, want %v", tt.expr, got, tt.want)
		}
	}
}

func TestCompileErrorNamesPosition(t *testing.T) {
	_, err := Compile(`.value | select(.amount >`)
	if err == nil {
		t.Fatal("want a syntax error")
	}
	if !strings.Contains(err.Error(), "position") || !strings.Contains(err.Error(), "^") {
		t.Fatalf("error should point at the position: %v", err)
	}
}

func TestRuntimeErrorIsReported(t *testing.T) {
	f, err := Compile(`.key.nested`)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := f.Match(context.Background(), sample())
	if err == nil || ok {
		t.Fatalf("indexing a string must fail, got ok=%v err=%v", ok, err)
	}
}

func TestExprText(t *testing.T) {
	for expr, want := range map[string]string{
		`.value.accountId`: "acct-0042",
		`.value.big`:       "9007199254740993",
		`.partition`:       "3",
		`.value.missing`:   "null",
		`empty`:            "",
	} {
		e, err := CompileExpr(expr)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.Text(context.Background(), sample())
		if err != nil || got != want {
			t.Errorf("Text(%s) = %q, %v; want %q", expr, got, err, want)
		}
	}
}
