// Package english words counts and choices for people: "1 record",
// "2 records", "text, json or raw".
package english

import (
	"strconv"
	"strings"
)

// Plural says n and the noun, the noun with an s unless n is 1:
// "1 record", "0 records", "6 partitions".
func Plural[N ~int | ~int32 | ~int64](n N, noun string) string {
	s := strconv.FormatInt(int64(n), 10) + " " + noun
	if n != 1 {
		s += "s"
	}
	return s
}

// Or lists words as a person would offer a choice: "a", "a or b",
// "a, b or c".
func Or(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
