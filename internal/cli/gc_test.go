package cli

import (
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
