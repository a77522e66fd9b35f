package sandbox

// KeyPartition returns the partition Kafka's default partitioner (Java's
// BuiltInPartitioner, librdkafka's murmur2_random, franz-go's
// StickyKeyPartitioner) picks for a non-empty key among n partitions:
// murmur2 of the key bytes, made positive by masking the sign bit, mod n.
func KeyPartition(key []byte, n int) int32 {
	return int32(murmur2(key)&0x7fffffff) % int32(n)
}

// murmur2 is Kafka's Utils.murmur2 (seed 0x9747b28c), written out so that the
// partition of a key is computed independently of the producing client.
func murmur2(data []byte) uint32 {
	const (
		seed = 0x9747b28c
		m    = 0x5bd1e995
		r    = 24
	)
	length := len(data)
	h := uint32(seed) ^ uint32(length)
	for i := 0; i+4 <= length; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[length&^3:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}
