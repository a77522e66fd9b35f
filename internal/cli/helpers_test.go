package cli

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
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
	cmd.SetFlagErrorFunc(flagError) // as under the root
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	return got, cmd.Execute()
}

// flagCase is one row of a command's flag table: the options its
// arguments build, or the error they give.
type flagCase[T any] struct {
	name    string
	args    []string
	want    T
	wantErr string
}

// checkFlagCases parses each case's arguments through the command's runF;
// ignore names the option fields that hold dependencies, not flags.
func checkFlagCases[T any](t *testing.T, newCmd func(*Factory, func(context.Context, *T) error) *cobra.Command, cases []flagCase[T], ignore ...string) {
	t.Helper()
	var zero T
	opts := cmp.Options{cmpopts.IgnoreFields(zero, ignore...), cmpopts.EquateEmpty()}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFlags(t, newCmd, tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(&tt.want, got, opts); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
		})
	}
}
