// Package partition computes where producers put a key: the partitioners
// of librdkafka and of the Java clients, as pure functions.
package partition

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
)

// Any in a record.Message's Partition asks a writer to let the
// partitioner choose; from Partition it means the producer would choose at
// random (a null key, say).
const Any int32 = -1

// Names are the partitioner names Partition knows: librdkafka's,
// plus crc32, an alias of consistent.
var Names = []string{
	"murmur2_random", "murmur2", "consistent_random", "consistent", "crc32",
	"fnv1a_random", "fnv1a", "random",
}

// DefaultHistory are where a key is looked for when the user
// does not name its producer's partitioner: the Java clients' murmur2 and
// librdkafka's default, crc32.
var DefaultHistory = []string{"murmur2_random", "consistent_random"}

// Check says whether name is a partitioner Partition knows.
func Check(name string) error {
	if !slices.Contains(Names, name) {
		return fmt.Errorf("unknown partitioner %q; use one of %s", name, strings.Join(Names, ", "))
	}
	return nil
}

// LibrdkafkaName names a partitioner as librdkafka's "partitioner"
// property does.
func LibrdkafkaName(name string) string {
	if name == "crc32" {
		return "consistent"
	}
	return name
}

// Partition returns the partition, of partitions, that a librdkafka
// producer configured with partitioner (or a Java producer, for murmur2)
// puts a record with key on; Any when it chooses at random. As in
// librdkafka, a null key is always placed at random (sticky partitioning),
// an empty key only by consistent_random and random.
func Partition(partitioner string, key []byte, partitions int) (int32, error) {
	if err := Check(partitioner); err != nil {
		return 0, err
	}
	if partitions <= 0 {
		return 0, fmt.Errorf("cannot partition among %d partitions", partitions)
	}
	if key == nil {
		return Any, nil
	}
	n := uint32(partitions)
	switch partitioner {
	case "murmur2", "murmur2_random":
		// Java's Utils.toPositive(murmur2(key)) % n.
		return int32((murmur2(key) & 0x7fffffff) % n), nil
	case "consistent", "consistent_random", "crc32":
		if len(key) == 0 && partitioner == "consistent_random" {
			return Any, nil
		}
		return int32(crc32.ChecksumIEEE(key) % n), nil
	case "fnv1a", "fnv1a_random":
		return int32(fnv1a(key) % n), nil
	}
	return Any, nil // random
}

// KeyPartitions returns the partitions, sorted and distinct, that key can
// be on when its producer used one of partitioners: every partition when
// any of them places it at random, or is unknown.
func KeyPartitions(key []byte, partitions int, partitioners ...string) []int32 {
	var out []int32
	for _, name := range partitioners {
		p, err := Partition(name, key, partitions)
		if err != nil || p == Any {
			out = out[:0]
			for i := range partitions {
				out = append(out, int32(i))
			}
			return out
		}
		out = append(out, p)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// murmur2 is Kafka's murmur2 (Utils.murmur2 in the Java client, rd_murmur2
// in librdkafka).
func murmur2(data []byte) uint32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	h := seed ^ uint32(len(data))
	for ; len(data) >= 4; data = data[4:] {
		k := binary.LittleEndian.Uint32(data)
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	switch len(data) {
	case 3:
		h ^= uint32(data[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// fnv1a is librdkafka's rd_fnv1a: FNV-1a 32-bit read as a signed int and
// made positive (as Sarama's hash partitioner does; the absolute value of
// MinInt32 stays MinInt32), then taken unsigned.
func fnv1a(data []byte) uint32 {
	const (
		offset uint32 = 0x811c9dc5
		prime  uint32 = 0x01000193
	)
	h := offset
	for _, b := range data {
		h ^= uint32(b)
		h *= prime
	}
	s := int32(h)
	if s < 0 {
		s = -s
	}
	return uint32(s)
}
