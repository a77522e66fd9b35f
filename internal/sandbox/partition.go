package sandbox

import "github.com/evctl/evctl/internal/partition"

// KeyPartition returns the partition Kafka's default partitioner (Java's
// BuiltInPartitioner, librdkafka's murmur2_random, franz-go's
// StickyKeyPartitioner) picks for a non-empty key among n partitions:
// murmur2 of the key bytes, made positive by masking the sign bit, mod n.
// It is evctl's own murmur2, independent of the client that seeds.
func KeyPartition(key []byte, n int) int32 {
	p, err := partition.Partition("murmur2", key, n)
	if err != nil {
		panic(err) // n > 0 and the name is known, by construction
	}
	return p
}
