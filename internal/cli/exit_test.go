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
		ctx        context.Context
		err        error
		want       int
		wantStderr string
	}{
		{"ok", context.Background(), nil, 0, ""},
		{"failure", context.Background(), errors.New("topic \"x\" not found"), 2, "evctl: topic \"x\" not found\n"},
		{"usage", context.Background(), flagErrorf("bad flag"), 2, "evctl: bad flag\nRun 'evctl --help' or 'evctl <command> --help' for usage.\n"},
		{"negative answer", context.Background(), &ExitError{Code: 1, Msg: "3 differences"}, 1, "evctl: 3 differences\n"},
		{"silent negative", context.Background(), &ExitError{Code: 1}, 1, ""},
		{"interrupted", cancelled, errInterrupted, 130, ""},
		{"cancelled", cancelled, fmt.Errorf("reading: %w", context.Canceled), 130, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if got := exitStatus(tt.err, tt.ctx, &stderr); got != tt.want {
				t.Errorf("status = %d, want %d", got, tt.want)
			}
			if stderr.String() != tt.wantStderr {
				t.Errorf("stderr = %q, want %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}
