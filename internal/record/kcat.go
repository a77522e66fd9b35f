package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// kcatLine is one line of `kcat -C -J`: the key and payload are the
// record's bytes as JSON strings (null when absent), headers a flat array
// of names and values, ts milliseconds since the epoch.
type kcatLine struct {
	Topic     string    `json:"topic"`
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	TS        int64     `json:"ts"`
	Key       *string   `json:"key"`
	Payload   *string   `json:"payload"`
	Headers   []*string `json:"headers"`
}

// ParseKcat reads one line of `kcat -C -J` output as the message it
// describes, so that kcat's captures are read as what they are: its
// payload is the value, a null payload a tombstone.
func ParseKcat(line []byte) (*Message, error) {
	var k kcatLine
	if err := json.Unmarshal(line, &k); err != nil {
		return nil, fmt.Errorf("not a kcat -J record: %w", err)
	}
	m := &Message{Topic: k.Topic, Partition: k.Partition, Offset: k.Offset}
	if k.TS > 0 {
		m.Timestamp = time.UnixMilli(k.TS).UTC()
	}
	if k.Key != nil {
		m.Key = []byte(*k.Key)
	}
	if k.Payload != nil {
		m.Value = []byte(*k.Payload)
	}
	if len(k.Headers)%2 != 0 {
		return nil, errors.New("kcat -J headers: want name, value pairs, got an odd number of strings")
	}
	for i := 0; i < len(k.Headers); i += 2 {
		if k.Headers[i] == nil {
			return nil, errors.New("kcat -J headers: a header name is null")
		}
		h := RawHeader{Key: *k.Headers[i]}
		if v := k.Headers[i+1]; v != nil {
			h.Value = []byte(*v)
		}
		m.Headers = append(m.Headers, h)
	}
	return m, nil
}
