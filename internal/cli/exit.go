package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Exit statuses (DESIGN.md): one place maps errors to them.
const (
	ExitOK        = 0
	ExitNegative  = 1 // a "no": differences found, --strict met undecodable records
	ExitFailure   = 2 // usage errors and failures
	ExitInterrupt = 130
)

// FlagError is a usage error: printed with a pointer to --help, exit 2.
type FlagError struct{ err error }

func (e *FlagError) Error() string { return e.err.Error() }
func (e *FlagError) Unwrap() error { return e.err }

// flagErrorf makes a usage error.
func flagErrorf(format string, args ...any) error {
	return &FlagError{err: fmt.Errorf(format, args...)}
}

// ExitError ends the run with a status after the command has already said
// what it needed to say (for example "3 records undecodable" and exit 1).
type ExitError struct {
	Code int
	Msg  string // printed once to stderr when not empty
}

func (e *ExitError) Error() string {
	if e.Msg != "" {
		return e.Msg
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

// errInterrupted is returned when the user pressed Ctrl-C.
var errInterrupted = errors.New("interrupted")

// exitStatus prints err once, prefixed with "evctl:", and returns the
// process's exit status. A usage error points at the help of command, the
// command path that ran ("evctl replay"; "" for evctl itself).
func exitStatus(err error, ctx context.Context, stderr io.Writer, command string) int {
	if err == nil {
		return ExitOK
	}
	var exitErr *ExitError
	if errors.As(err, &exitErr) {
		if exitErr.Msg != "" {
			fmt.Fprintf(stderr, "evctl: %s\n", exitErr.Msg)
		}
		return exitErr.Code
	}
	if errors.Is(err, errInterrupted) || (ctx.Err() != nil && errors.Is(err, context.Canceled)) {
		return ExitInterrupt
	}
	msg := strings.TrimRight(err.Error(), "\n")
	fmt.Fprintf(stderr, "evctl: %s\n", msg)
	var flagErr *FlagError
	if errors.As(err, &flagErr) || isCobraUsageError(msg) {
		if command == "" {
			command = "evctl"
		}
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", command)
	}
	return ExitFailure
}

// isCobraUsageError recognises the usage errors cobra and pflag make
// themselves, which are plain errors.
func isCobraUsageError(msg string) bool {
	for _, p := range []string{"unknown flag", "unknown shorthand flag", "unknown command", "flag needs an argument", "invalid argument", "accepts ", "requires at least", "requires at most", "required flag"} {
		if strings.HasPrefix(msg, p) || strings.Contains(msg, " "+p) {
			return true
		}
	}
	return false
}
