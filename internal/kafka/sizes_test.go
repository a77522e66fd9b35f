package kafka

import (
	"fmt"
	"testing"
)

// TestFitSizes: a raised message.max.bytes (from -X alone, or sized for
// the destination) raises the consumer's fetch limits with it, which
// librdkafka requires; the user's own -X settings stay as given.
func TestFitSizes(t *testing.T) {
	get := func(cfg Config, defaults [][2]string, key string) string {
		t.Helper()
		m, err := cfg.configMap(defaults)
		if err != nil {
			t.Fatal(err)
		}
		v, ok := (*m)[key]
		if !ok {
			return ""
		}
		return fmt.Sprint(v)
	}
	plain := Config{Brokers: "b:9092"}
	if v := get(plain, readDefaults, "fetch.max.bytes"); v != "8388608" {
		t.Errorf("default fetch.max.bytes = %q", v)
	}
	x := Config{Brokers: "b:9092", Props: [][2]string{{"message.max.bytes", "10485760"}}}
	// receive.message.max.bytes keeps librdkafka's default (unset): it is large enough.
	for key, want := range map[string]string{"fetch.max.bytes": "10485760", "fetch.message.max.bytes": "10485760", "receive.message.max.bytes": ""} {
		if v := get(x, readDefaults, key); v != want {
			t.Errorf("-X message.max.bytes=10485760: %s = %q, want %q", key, v, want)
		}
	}
	huge := Config{Brokers: "b:9092", Props: [][2]string{{"message.max.bytes", "200000000"}}}
	if v := get(huge, readDefaults, "receive.message.max.bytes"); v != "200000512" {
		t.Errorf("receive.message.max.bytes = %q, want fetch.max.bytes + 512", v)
	}
	own := Config{Brokers: "b:9092", Props: [][2]string{{"message.max.bytes", "10485760"}, {"fetch.max.bytes", "9000000"}}}
	if v := get(own, readDefaults, "fetch.max.bytes"); v != "9000000" {
		t.Errorf("the user's fetch.max.bytes became %q", v)
	}
	if v := get(plain, sizedFor(writeDefaults, 10485760), "message.max.bytes"); v != "10485760" {
		t.Errorf("sized producer: message.max.bytes = %q", v)
	}
	if v := get(plain, sizedFor(writeDefaults, 500000), "message.max.bytes"); v != "" {
		t.Errorf("a topic limit under librdkafka's default set message.max.bytes = %q", v)
	}
}
