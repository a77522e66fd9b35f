package stream

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/evctl/evctl/internal/record"
)

// TypesSeen remembers which --type values matched and which other types
// the records had, so a --type that matched nothing can say what there
// is. Safe for concurrent use: the workers report to it.
type TypesSeen struct {
	mu      sync.Mutex
	matched map[string]bool // --type values some shown record matched
	other   map[string]bool // short names of the types --type dropped
}

// maxTypesSeen bounds what a stream of many types is remembered of.
const maxTypesSeen = 20

// Skipped notes the type of a record --type dropped.
func (s *TypesSeen) Skipped(typ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.other == nil {
		s.other = map[string]bool{}
	}
	if len(s.other) < maxTypesSeen {
		s.other[record.ShortType(typ)] = true
	}
}

// Shown notes the type of a record kept, against the --type values.
func (s *TypesSeen) Shown(typ string, types []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.matched == nil {
		s.matched = map[string]bool{}
	}
	for _, t := range types {
		if !s.matched[t] && record.TypeMatches(typ, []string{t}) {
			s.matched[t] = true
		}
	}
}

// Hint names the --type values that matched nothing and the types seen,
// as a line for stderr; "" when there is nothing to say.
func (s *TypesSeen) Hint(types []string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var missing []string
	for _, t := range types {
		if !s.matched[t] {
			missing = append(missing, strconv.Quote(t))
		}
	}
	if len(missing) == 0 || len(s.other) == 0 {
		return ""
	}
	return fmt.Sprintf("evctl: note: --type %s matched no record; the types read were %s\n",
		strings.Join(missing, ", "), strings.Join(slices.Sorted(maps.Keys(s.other)), ", "))
}
