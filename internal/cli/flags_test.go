package cli

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/spf13/cobra"
)

func newEnumCmd(p *string) *cobra.Command {
	cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
	cmd.SetFlagErrorFunc(flagError)
	stringEnumFlag(cmd, p, "emit", "e", "final", []string{"final", "changes"}, "with --projection")
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	return cmd
}

func TestStringEnumFlag(t *testing.T) {
	var got string
	cmd := newEnumCmd(&got)
	if got != "final" {
		t.Fatalf("default = %q, want final", got)
	}
	fl := cmd.Flags().Lookup("emit")
	if fl.Usage != "with --projection: {final|changes}" || fl.DefValue != "final" {
		t.Errorf("usage %q, default %q", fl.Usage, fl.DefValue)
	}

	cmd.SetArgs([]string{"-e", "changes"})
	if err := cmd.Execute(); err != nil || got != "changes" {
		t.Fatalf("-e changes: %v, value %q", err, got)
	}

	cmd = newEnumCmd(&got)
	cmd.SetArgs([]string{"--emit", "all"})
	err := cmd.Execute()
	var fe *FlagError
	if !errors.As(err, &fe) || err.Error() != `invalid --emit "all": want final or changes` {
		t.Fatalf("--emit all: err = %v (%T), want a FlagError naming the values", err, err)
	}

	cmd = newEnumCmd(&got)
	fn, ok := cmd.GetFlagCompletionFunc("emit")
	if !ok {
		t.Fatal("--emit has no completion")
	}
	values, dir := fn(cmd, nil, "")
	if !slices.Equal(values, []string{"final", "changes"}) || dir != cobra.ShellCompDirectiveNoFileComp {
		t.Errorf("completion = %q, %v", values, dir)
	}
}

// A value refused by any typed flag reads as evctl's own checks do.
func TestFlagErrorNamesTheFlag(t *testing.T) {
	cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
	cmd.SetFlagErrorFunc(flagError)
	cmd.Flags().IntP("max", "n", 0, "")
	cmd.SetArgs([]string{"-n", "many"})
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	err := cmd.Execute()
	if err == nil || err.Error() != `invalid --max "many": invalid syntax` {
		t.Fatalf("err = %v", err)
	}
}
