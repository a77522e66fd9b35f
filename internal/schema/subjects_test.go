package schema

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTopicForSubject(t *testing.T) {
	tests := []struct {
		subject, topic, part string
		ok                   bool
	}{
		{"bank.account-events-value", "bank.account-events", "value", true},
		{"orders-key", "orders", "key", true},
		{"com.bank.MoneyDeposited", "", "", false},
		{"-value", "", "", false},
		{"key-value-key", "key-value", "key", true},
	}
	for _, tt := range tests {
		topic, part, ok := TopicForSubject(tt.subject)
		if topic != tt.topic || part != tt.part || ok != tt.ok {
			t.Errorf("TopicForSubject(%q) = %q, %q, %v; want %q, %q, %v", tt.subject, topic, part, ok, tt.topic, tt.part, tt.ok)
		}
	}
}

func TestTopicsBySubject(t *testing.T) {
	summaries := []SubjectSummary{{Subject: "orders-key"}, {Subject: "orders-value"}, {Subject: "gone-value"}, {Subject: "com.bank.X"}}
	TopicsBySubject(summaries, []string{"orders", "payments"})
	var got [][]string
	for _, s := range summaries {
		got = append(got, s.Topics)
	}
	want := [][]string{{"orders"}, {"orders"}, {}, {}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("topics (-want +got):\n%s", diff)
	}
}

func TestNotFoundErrors(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&SubjectNotFoundError{Subject: "ordrs-value", Similar: []string{"orders-value"}},
			`subject "ordrs-value" not found (similar: orders-value); check the name or --registry`},
		{&SubjectNotFoundError{Subject: "x", Have: []string{"a", "b"}}, `subject "x" not found (have: a, b); check the name or --registry`},
		{&SubjectNotFoundError{Subject: "x"}, `subject "x" not found (the registry has no subjects); check the name or --registry`},
		{&VersionNotFoundError{Subject: "s", Version: 4, Versions: []int{1, 2}}, `subject "s" has no version 4 (have: 1, 2); see evctl schema versions s`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}
