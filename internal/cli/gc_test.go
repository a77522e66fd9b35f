package cli

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// A fold's GC lets the heap grow 5x while the live data is small and holds
// the growth to the headroom as it grows: replay --projection peaked at
// 655 MB for 200k aggregates under a flat GOGC 400, verify at 336 MB.
func TestFoldGC(t *testing.T) {
	for _, tt := range []struct {
		live, headroom uint64
		want           int
	}{
		{0, 128 << 20, 400},
		{16 << 20, 128 << 20, 400},
		{64 << 20, 128 << 20, 200},
		{128 << 20, 128 << 20, 100},
		{1 << 30, 128 << 20, 100},
	} {
		if got := foldGCPercent(tt.live, tt.headroom); got != tt.want {
			t.Errorf("foldGCPercent(%d MiB, %d MiB) = %d, want %d", tt.live>>20, tt.headroom>>20, got, tt.want)
		}
	}

	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	// A live heap of 32 MiB against 1 MiB of headroom: after a collection
	// GOGC comes down to the default.
	stop := startFoldGC(1 << 20)
	defer stop()
	if got := gcPercent(); got != 400 {
		t.Fatalf("GOGC at the start = %d, want 400", got)
	}
	live := make([]byte, 32<<20)
	deadline := time.Now().Add(30 * time.Second)
	for gcPercent() != 100 {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC = %d after collections with 32 MiB live, want 100", gcPercent())
		}
		runtime.GC()
		runtime.Gosched()
	}
	runtime.KeepAlive(live)
}

func gcPercent() int {
	p := debug.SetGCPercent(-1)
	debug.SetGCPercent(p)
	return p
}

// A copier holds its open transaction's records (up to 64 MB) for a
// redo: each collection sets the next one the headroom past the live
// heap, where a fixed limit under the live heap collected without end.
func TestCopyGC(t *testing.T) {
	oldPercent := debug.SetGCPercent(100)
	oldLimit := debug.SetMemoryLimit(math.MaxInt64)
	defer func() {
		debug.SetGCPercent(oldPercent)
		debug.SetMemoryLimit(oldLimit)
	}()
	const headroom = 8 << 20
	stop := startCopyGC(headroom)
	defer stop()
	if got := gcPercent(); got != -1 {
		t.Fatalf("GOGC = %d, want off: collect by the limit", got)
	}
	if got := debug.SetMemoryLimit(-1); got != headroom {
		t.Fatalf("memory limit at the start = %d MiB, want %d", got>>20, headroom>>20)
	}
	live := make([]byte, 64<<20)
	deadline := time.Now().Add(30 * time.Second)
	for debug.SetMemoryLimit(-1) < int64(len(live))+headroom {
		if time.Now().After(deadline) {
			t.Fatalf("memory limit %d MiB after collections with 64 MiB live, want at least %d", debug.SetMemoryLimit(-1)>>20, (len(live)+headroom)>>20)
		}
		runtime.GC()
		runtime.Gosched()
	}
	runtime.KeepAlive(live)
}
