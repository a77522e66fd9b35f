package english

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPlural(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{{0, "0 records"}, {1, "1 record"}, {2, "2 records"}, {-1, "-1 records"}} {
		if got := Plural(c.n, "record"); got != c.want {
			t.Errorf("Plural(%d) = %q, want %q", c.n, got, c.want)
		}
	}
	if got := Plural(int32(1), "partition"); got != "1 partition" {
		t.Errorf("Plural(int32(1)) = %q", got)
	}
}

func TestOr(t *testing.T) {
	for _, c := range []struct {
		words []string
		want  string
	}{{nil, ""}, {[]string{"text"}, "text"}, {[]string{"text", "json"}, "text or json"}, {[]string{"text", "json", "raw"}, "text, json or raw"}} {
		if got := Or(c.words); got != c.want {
			t.Errorf("Or(%q) = %q, want %q", c.words, got, c.want)
		}
	}
}

func TestSimilar(t *testing.T) {
	names := []string{"bank.account-events", "bank.account-balances", "orders", "payments", "a"}
	tests := []struct {
		name string
		want []string
	}{
		{"bank.acount-events", []string{"bank.account-events"}},
		{"Bank.Account-Events", []string{"bank.account-events"}},
		{"account", []string{"bank.account-events", "bank.account-balances"}},
		{"order", []string{"orders"}},
		{"paymnets", []string{"payments"}},
		{"zzzzzzzz", []string{}},
	}
	for _, tt := range tests {
		got := Similar(tt.name, names, 5)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Similar(%q) (-want +got):\n%s", tt.name, diff)
		}
	}
}
