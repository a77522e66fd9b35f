package iostreams

import (
	"context"
	"fmt"
	"io"
)

// Interruptible returns a reader of r whose reads end with ctx: a read of
// a terminal's stdin blocks until the next line, and Ctrl-C must not wait
// for it. Once ctx is done, reads fail with ctx's error; the read of r in
// flight is left behind (a command ends soon after).
func Interruptible(ctx context.Context, r io.Reader) io.Reader {
	pr, pw := io.Pipe()
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, err := io.Copy(pw, r)
		pw.CloseWithError(err)
	}()
	go func() {
		select {
		case <-ctx.Done():
			pw.CloseWithError(ctx.Err())
		case <-copied:
		}
	}()
	return pr
}

// ReadStdin is In for a command that reads what of it to the end: on a
// terminal it says so first (else it seems to hang), and Ctrl-C ends the
// read at once.
func (s *IOStreams) ReadStdin(ctx context.Context, what string) io.Reader {
	if s.IsStdinTTY() {
		fmt.Fprintf(s.ErrOut, "evctl: reading %s from the terminal; end it with Ctrl-D\n", what)
	}
	return Interruptible(ctx, s.In)
}
