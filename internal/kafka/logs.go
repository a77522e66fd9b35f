package kafka

import (
	"strings"
	"sync"

	rdk "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// logSink drains librdkafka's log channel so nothing reaches the user's
// terminal, and keeps the last warning or error to explain a failure.
type logSink struct {
	mu   sync.Mutex
	last string
}

// newConsumer is a librdkafka consumer of m whose logs drain into the
// sink it returns (go.logs.channel.enable is set by configMap).
func newConsumer(m *rdk.ConfigMap) (*rdk.Consumer, *logSink, error) {
	c, err := rdk.NewConsumer(m)
	if err != nil {
		return nil, nil, configError(err)
	}
	return c, drainLogs(c.Logs()), nil
}

// drainLogs reads ch until the client closes it.
func drainLogs(ch chan rdk.LogEvent) *logSink {
	s := &logSink{}
	if ch == nil {
		return s
	}
	go func() {
		for ev := range ch {
			if explains(ev) {
				s.mu.Lock()
				s.last = tidyLog(ev.Message)
				s.mu.Unlock()
			}
		}
	}()
	return s
}

// explains reports whether a log line may explain a failure: a warning or
// an error, but not a configuration warning, which librdkafka logs once
// at the start (a producer told the fetch sizes evctl keeps consistent
// for every client), and which named itself the cause of a replay's
// timeout on a real cluster.
func explains(ev rdk.LogEvent) bool {
	return ev.Level <= 4 && ev.Tag != "CONFWARN" // syslog: 3 error, 4 warning
}

// Last returns the last warning or error librdkafka logged.
func (s *logSink) Last() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// tidyLog shortens a librdkafka log line to what a user needs, e.g.
// "[thrd:h:1/bootstrap]: h:1/bootstrap: Connect to ipv4#127.0.0.1:1
// failed: Connection refused (after 0ms in state CONNECT)" to
// "Connect to ipv4#127.0.0.1:1 failed: Connection refused".
func tidyLog(msg string) string {
	if strings.HasPrefix(msg, "[thrd:") {
		if _, rest, ok := strings.Cut(msg, "]: "); ok {
			msg = rest
		}
	}
	if broker, rest, ok := strings.Cut(msg, ": "); ok && strings.Contains(broker, "/") && !strings.Contains(broker, " ") {
		msg = rest
	}
	if i := strings.LastIndex(msg, " (after "); i > 0 && strings.HasSuffix(msg, ")") {
		msg = msg[:i]
	}
	return msg
}
