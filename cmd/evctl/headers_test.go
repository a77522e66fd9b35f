package main

import (
	"os/exec"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// pyProducer writes one record with confluent-kafka-python: argv is
// brokers, topic, key, value, then headers (name=value, or name alone for
// a null value).
const pyProducer = `
import sys
from confluent_kafka import Producer
brokers, topic, key, value = sys.argv[1:5]
headers = []
for h in sys.argv[5:]:
    name, eq, v = h.partition("=")
    headers.append((name, v.encode() if eq else None))
p = Producer({"bootstrap.servers": brokers})
p.produce(topic, key=key.encode(), value=value.encode(), headers=headers)
left = p.flush(20)
sys.exit(1 if left else 0)
`

// cmdPyProduce is `pyproduce topic key json [h=v|h...]`: one record
// written by confluent-kafka-python, the client many event-sourced
// services use. The script skips where no python3 can import it (Debian's
// python3-confluent-kafka installs it for /usr/bin/python3, which may not
// be the python3 first on PATH).
func cmdPyProduce(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: pyproduce topic key json [h=v|h...]")
	}
	var python string
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(p, "-c", "import confluent_kafka").Run() == nil {
			python = p
			break
		}
	}
	if python == "" {
		ts.Value(scriptT{}).(testscript.T).Skip("no python3 with confluent_kafka (apt-get install python3-confluent-kafka)")
	}
	argv := append([]string{"-c", pyProducer, ts.Getenv("EVCTL_BROKERS")}, args...)
	out, err := exec.Command(python, argv...).CombinedOutput()
	if err != nil {
		ts.Fatalf("confluent-kafka-python: %v\n%s", err, strings.TrimSpace(string(out)))
	}
}
