// Package kafka is evctl's one door to Kafka: it alone imports
// confluent-kafka-go (cgo, librdkafka). It reads partitions without ever
// joining a consumer group, writes records faithfully, and lists topics,
// bounding every wait on the brokers by Config.Timeout. confluent's package
// is imported as rdk (librdkafka), so its TopicPartition and Message never
// read as this package's own.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	rdk "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// DefaultTimeout bounds every wait on the brokers when Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Config says how to reach a cluster.
type Config struct {
	// Brokers is the bootstrap list, host:port[,host:port...].
	Brokers string
	// Props are librdkafka properties (-X key=value) in the order given;
	// they override everything evctl sets, defaults included.
	Props [][2]string
	// Timeout bounds every wait on the brokers; zero means DefaultTimeout.
	Timeout time.Duration
	// ClientID names the client to the brokers; empty means "evctl".
	ClientID string
}

func (c Config) timeout() time.Duration {
	if c.Timeout <= 0 {
		return DefaultTimeout
	}
	return c.Timeout
}

// prop returns the last value the user gave for a property.
func (c Config) prop(key string) (string, bool) {
	for i := len(c.Props) - 1; i >= 0; i-- {
		if c.Props[i][0] == key {
			return c.Props[i][1], true
		}
	}
	return "", false
}

// configMap builds a librdkafka configuration: evctl's base settings, then
// the role's defaults, then the user's -X properties.
func (c Config) configMap(defaults [][2]string) (*rdk.ConfigMap, error) {
	if _, ok := c.prop("bootstrap.servers"); c.Brokers == "" && !ok {
		return nil, errors.New("no brokers given; use --brokers or EVCTL_BROKERS")
	}
	clientID := c.ClientID
	if clientID == "" {
		clientID = "evctl"
	}
	m := rdk.ConfigMap{
		"bootstrap.servers": c.Brokers,
		"client.id":         clientID,
		// librdkafka logs to stderr by default; we drain its logs instead and
		// keep the last error to explain failures.
		"go.logs.channel.enable": true,
		"log.connection.close":   false,
	}
	for _, kv := range defaults {
		m[kv[0]] = kv[1]
	}
	for _, kv := range c.Props {
		m[kv[0]] = goValue(kv[0], kv[1])
	}
	c.fitSizes(m)
	return &m, nil
}

// DefaultMaxMessageBytes is a topic's max.message.bytes when neither it
// nor its brokers set one (Kafka's default).
const DefaultMaxMessageBytes = 1048588

// librdkafka's defaults for the sizes fitSizes keeps consistent.
const (
	defaultMessageMaxBytes        = 1000000
	defaultFetchMaxBytes          = 52428800
	defaultReceiveMessageMaxBytes = 100000000
)

// fitSizes raises the fetch limits to a raised message.max.bytes (a
// destination's limit, or -X message.max.bytes alone), which librdkafka
// otherwise refuses: a consumer needs fetch.max.bytes >= message.max.bytes
// and receive.message.max.bytes >= fetch.max.bytes + 512. What the user
// set with -X stays as set.
func (c Config) fitSizes(m rdk.ConfigMap) {
	size := func(key string, def int) int {
		if v, ok := m[key]; ok {
			if n, err := strconv.Atoi(fmt.Sprint(v)); err == nil {
				return n
			}
		}
		return def
	}
	raise := func(key string, to, def int) {
		if _, set := c.prop(key); !set && size(key, def) < to {
			m[key] = strconv.Itoa(to)
		}
	}
	msg := size("message.max.bytes", defaultMessageMaxBytes)
	if msg <= defaultMessageMaxBytes {
		return
	}
	raise("fetch.max.bytes", msg, defaultFetchMaxBytes)
	raise("fetch.message.max.bytes", msg, 1048576)
	raise("receive.message.max.bytes", size("fetch.max.bytes", defaultFetchMaxBytes)+512, defaultReceiveMessageMaxBytes)
}

// sizedFor is the producer setting for a destination topic whose
// max.message.bytes is limit (0: unknown, the broker's default): records
// as large as the topic takes, where librdkafka's 1 MB default would
// refuse them.
func sizedFor(defaults [][2]string, limit int) [][2]string {
	if limit <= defaultMessageMaxBytes {
		return defaults
	}
	return append(slices.Clip(defaults), [2]string{"message.max.bytes", strconv.Itoa(limit)})
}

// goValue types the values of the Go client's own go.* properties, which
// it rejects as strings.
func goValue(key, v string) rdk.ConfigValue {
	if !strings.HasPrefix(key, "go.") {
		return v
	}
	if b, err := strconv.ParseBool(v); err == nil {
		return b
	}
	if n, err := strconv.Atoi(v); err == nil {
		return n
	}
	return v
}

// configError explains a client that librdkafka refused to create,
// usually for a bad -X property.
func configError(err error) error {
	return fmt.Errorf("invalid client configuration: %w; check -X properties", err)
}

// withTimeout bounds ctx by the configured timeout.
func (c Config) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout())
}

// waitMs is what is left of ctx's deadline, in milliseconds, for the
// blocking librdkafka calls that take a timeout instead of a context.
func waitMs(ctx context.Context) int {
	d, ok := ctx.Deadline()
	if !ok {
		return int(DefaultTimeout / time.Millisecond)
	}
	return max(int(time.Until(d)/time.Millisecond), 1)
}

// LibrdkafkaVersion is the version of the librdkafka evctl is built with.
func LibrdkafkaVersion() string {
	_, v := rdk.LibraryVersion()
	return v
}
