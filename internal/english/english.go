// Package english words counts for people: "1 record", "2 records".
package english

import "strconv"

// Plural says n and the noun, the noun with an s unless n is 1:
// "1 record", "0 records", "6 partitions".
func Plural[N ~int | ~int32 | ~int64](n N, noun string) string {
	s := strconv.FormatInt(int64(n), 10) + " " + noun
	if n != 1 {
		s += "s"
	}
	return s
}
