package replay

import (
	"context"

	"github.com/evctl/evctl/internal/filter"
	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/stream"
)

// Decoder decodes records for a selection and a projection
// (schema.Decoder): PlainKeyText is a key as text when it needs no
// schema, so that a --key is compared before anything is decoded
// (isPlain false: the key needs decoding; hasText false: a null key).
type Decoder interface {
	stream.Decoder
	PlainKeyText(m *record.Message) (text string, hasText, isPlain bool)
}

// Selection is which records a replay keeps: those with one of Keys, of
// one of Types, for which Filter is truthy; an empty part keeps all.
type Selection struct {
	// Decoder decodes what the selection needs decoded (and a projection
	// folds); nil when nothing needs it.
	Decoder Decoder
	// Keys are keys as text, as tail prints them (--key, --keys-from); a
	// null key never matches. Nil keeps every key.
	Keys   map[string]bool
	Types  []string // full or short names
	Filter *filter.Filter
	// CountTypes decodes every record, to count its type (--dry-run).
	CountTypes bool
	// Seen is told the types Types drops and keeps, so that a --type that
	// matched nothing can say what there was; nil: nobody asks.
	Seen *stream.TypesSeen
}

// decodes reports whether selecting decodes the record (not only its key).
func (s *Selection) decodes() bool {
	return s.Filter != nil || len(s.Types) > 0 || s.CountTypes
}

// Selector is the selection as Options.Select takes it: nil keeps every
// record without decoding any. A --key compares a plain key before
// anything is decoded.
func (s *Selection) Selector() Selector {
	decode := s.decodes()
	if !decode && s.Keys == nil {
		return nil
	}
	return func(ctx context.Context, m *record.Message) (bool, string, error) {
		if s.Keys != nil {
			if k, ok, plain := s.Decoder.PlainKeyText(m); plain {
				if !ok || !s.Keys[k] {
					return false, "", nil
				}
				if !decode {
					return true, "", nil
				}
			}
		}
		r := s.Decoder.Decode(ctx, m)
		if s.Keys != nil && !s.keyIn(r) {
			return false, "", nil
		}
		if len(s.Types) > 0 && !record.TypeMatches(r.Type, s.Types) {
			s.skipped(r.Type)
			return false, "", nil
		}
		if s.Filter != nil {
			ok, err := s.Filter.Match(ctx, r)
			if err != nil || !ok {
				return false, "", nil
			}
		}
		s.shown(r.Type)
		return true, record.ShortType(r.Type), nil
	}
}

// streamOptions is the selection as stream.Run applies it on its workers;
// Keys are left to keep, after decoding.
func (s *Selection) streamOptions() stream.Options {
	o := stream.Options{Decoder: s.Decoder, Types: s.Types, Filter: s.Filter}
	if s.Seen != nil && len(s.Types) > 0 {
		o.TypeSkipped = s.Seen.Skipped
	}
	return o
}

// keep is the rest of the selection for a record stream.Run kept: its key,
// and the note that its type matched.
func (s *Selection) keep(r *record.Record) bool {
	if s.Keys != nil && !s.keyIn(r) {
		return false
	}
	s.shown(r.Type)
	return true
}

// keyIn reports whether r's key, as text, is one of Keys; a null key
// never is.
func (s *Selection) keyIn(r *record.Record) bool {
	k, ok := r.KeyText()
	return ok && s.Keys[k]
}

func (s *Selection) skipped(typ string) {
	if s.Seen != nil {
		s.Seen.Skipped(typ)
	}
}

func (s *Selection) shown(typ string) {
	if s.Seen != nil && len(s.Types) > 0 {
		s.Seen.Shown(typ, s.Types)
	}
}
