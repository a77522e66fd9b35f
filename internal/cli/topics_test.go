package cli

import (
	"testing"

	"github.com/evctl/evctl/internal/iostreams"
)

func TestPrintTopics(t *testing.T) {
	views := []topicView{
		{Name: "bank.account-events", Partitions: 6, Records: 1000, CleanupPolicy: "delete", ValueSubject: "bank.account-events-value"},
		{Name: "bank.account-balances", Partitions: 6, Records: 50, CleanupPolicy: "compact"},
	}
	tests := []struct {
		name, output string
		tty          bool
		want         string
	}{
		{"table on a terminal", "text", true, "" +
			"NAME                   PARTITIONS  RECORDS  CLEANUP  KEY SUBJECT  VALUE SUBJECT\n" +
			"bank.account-events    6           1000     delete   -            bank.account-events-value\n" +
			"bank.account-balances  6           50       compact  -            -\n"},
		{"tab-separated when piped", "text", false, "" +
			"bank.account-events\t6\t1000\tdelete\t-\tbank.account-events-value\n" +
			"bank.account-balances\t6\t50\tcompact\t-\t-\n"},
		{"json", "json", false, `[
  {
    "name": "bank.account-events",
    "partitions": 6,
    "records": 1000,
    "cleanupPolicy": "delete",
    "valueSubject": "bank.account-events-value"
  },
  {
    "name": "bank.account-balances",
    "partitions": 6,
    "records": 50,
    "cleanupPolicy": "compact"
  }
]
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, out, _ := iostreams.Test()
			ios.SetStdoutTTY(tt.tty)
			if err := printTopics(ios, tt.output, views); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", out, tt.want)
			}
		})
	}
}
