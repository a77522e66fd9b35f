package iostreams

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestInterruptibleReadsAll(t *testing.T) {
	got, err := io.ReadAll(Interruptible(context.Background(), strings.NewReader("a\nb\n")))
	if err != nil || string(got) != "a\nb\n" {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
}

func TestInterruptibleEndsWithContext(t *testing.T) {
	blocked, _ := io.Pipe() // never written: a terminal nobody types into
	ctx, cancel := context.WithCancel(context.Background())
	r := Interruptible(ctx, blocked)
	done := make(chan error)
	go func() {
		_, err := r.Read(make([]byte, 8))
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Read after cancel = %v, want context.Canceled", err)
	}
}
