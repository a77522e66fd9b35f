// Package english words counts, choices and near misses for people:
// "1 record", "2 records", "text, json or raw", "similar: orders".
package english

import (
	"sort"
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

// Similar returns up to n names close to name: within an edit distance of
// a quarter of its length, or containing it or contained in it.
func Similar(name string, names []string, n int) []string {
	type scored struct {
		name string
		dist int
	}
	lname := strings.ToLower(name)
	limit := max(2, len(name)/4)
	var hits []scored
	for _, c := range names {
		lc := strings.ToLower(c)
		d := editDistance(lname, lc)
		contains := (len(lname) >= 3 && strings.Contains(lc, lname)) || (len(lc) >= 3 && strings.Contains(lname, lc))
		if d <= limit || contains {
			hits = append(hits, scored{c, d})
		}
	}
	sort.SliceStable(hits, func(i, j int) bool {
		if hits[i].dist != hits[j].dist {
			return hits[i].dist < hits[j].dist
		}
		return hits[i].name < hits[j].name
	})
	out := make([]string, 0, min(len(hits), n))
	for _, h := range hits[:min(len(hits), n)] {
		out = append(out, h.name)
	}
	return out
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
