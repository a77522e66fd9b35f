package cli

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/evctl/evctl/internal/english"
	"github.com/evctl/evctl/internal/filter"
)

// enumValue is a string flag's value that must be one of a fixed set.
type enumValue struct {
	p      *string
	values []string
}

func (e *enumValue) Set(s string) error {
	if !slices.Contains(e.values, s) {
		return fmt.Errorf("want %s", english.Or(e.values))
	}
	*e.p = s
	return nil
}

func (e *enumValue) String() string { return *e.p }
func (e *enumValue) Type() string   { return "string" }

// stringEnumFlag defines a flag that takes one of values, in one place: the
// value is checked as it is parsed, the help lists the values as {a|b|c},
// and the shell completes them.
func stringEnumFlag(cmd *cobra.Command, p *string, name, shorthand, def string, values []string, usage string) *pflag.Flag {
	*p = def
	fl := cmd.Flags().VarPF(&enumValue{p: p, values: values}, name, shorthand,
		fmt.Sprintf("%s: {%s}", usage, strings.Join(values, "|")))
	_ = cmd.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
	return fl
}

// outputFlag is -o/--output for the commands that print a report: text for
// people (the default) or json for machines.
func outputFlag(cmd *cobra.Command, p *string) {
	stringEnumFlag(cmd, p, "output", "o", "text", []string{"text", "json"}, "output format")
}

// flagError is the tree's FlagErrorFunc: every usage error is a FlagError,
// and a value a flag refused reads as evctl's own checks do:
// `invalid --output "yaml": want text or json`, `invalid --max "x": invalid syntax`.
func flagError(_ *cobra.Command, err error) error {
	var iv *pflag.InvalidValueError
	if errors.As(err, &iv) {
		cause := iv.Unwrap()
		var num *strconv.NumError // "strconv.ParseInt: parsing "x": invalid syntax" says the value twice
		if errors.As(cause, &num) {
			cause = num.Err
		}
		err = fmt.Errorf("invalid --%s %q: %w", iv.GetFlag().Name, iv.GetValue(), cause)
	}
	return &FlagError{err: err}
}

// compileFilter compiles a --filter expression; "" is no filter.
func compileFilter(expr string) (*filter.Filter, error) {
	if expr == "" {
		return nil, nil
	}
	f, err := filter.Compile(expr)
	if err != nil {
		return nil, &FlagError{err: fmt.Errorf("--filter: %w", err)}
	}
	return f, nil
}
