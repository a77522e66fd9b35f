package cli

import (
	"context"
	"io"
	"testing"

	"github.com/spf13/cobra"
)

// parseFlags runs a command's flag parsing and validation through its
// runF, without touching the network, and returns the options it built.
func parseFlags[T any](t *testing.T, newCmd func(*Factory, func(context.Context, *T) error) *cobra.Command, args ...string) (*T, error) {
	t.Helper()
	var got *T
	cmd := newCmd(testFactory(t), func(_ context.Context, o *T) error {
		got = o
		return nil
	})
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	return got, cmd.Execute()
}
