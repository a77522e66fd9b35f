package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestExitStatus(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name       string
		command    string
		ctx        context.Context
		err        error
		want       int
		wantStderr string
	}{
		{"ok", "evctl tail", context.Background(), nil, 0, ""},
		{"failure", "evctl tail", context.Background(), errors.New("topic \"x\" not found"), 2, "evctl: topic \"x\" not found\n"},
		{"usage", "evctl replay", context.Background(), flagErrorf("bad flag"), 2, "evctl: bad flag\nRun 'evctl replay --help' for usage.\n"},
		{"usage of evctl", "", context.Background(), errors.New(`unknown command "x" for "evctl"`), 2, "evctl: unknown command \"x\" for \"evctl\"\nRun 'evctl --help' for usage.\n"},
		{"negative answer", "evctl diff", context.Background(), &ExitError{Code: 1, Msg: "3 differences"}, 1, "evctl: 3 differences\n"},
		{"silent negative", "evctl diff", context.Background(), &ExitError{Code: 1}, 1, ""},
		{"interrupted", "evctl tail", cancelled, errInterrupted, 130, ""},
		{"cancelled", "evctl tail", cancelled, fmt.Errorf("reading: %w", context.Canceled), 130, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if got := exitStatus(tt.err, tt.ctx, &stderr, tt.command); got != tt.want {
				t.Errorf("status = %d, want %d", got, tt.want)
			}
			if stderr.String() != tt.wantStderr {
				t.Errorf("stderr = %q, want %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}
