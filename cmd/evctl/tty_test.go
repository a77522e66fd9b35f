package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/vt"
	"github.com/creack/pty"
	"github.com/rogpeppe/go-internal/testscript"
)

const ttyWait = 30 * time.Second

// errNoPTY is a machine where no pseudo-terminal opens: the scripts that
// need one skip there.
var errNoPTY = errors.New("this machine has no pseudo-terminals")

// cmdTTY runs a program in a pseudo-terminal whose output a terminal
// emulator draws, and drives it by a script:
//
//	tty [-size WxH] [-exit N] script program [args...]
//
// script lines: `wait REGEXP` (until the screen matches), `send "TEXT"`
// (types a Go string literal: "\x1b[A" is the up arrow), `screen` (prints
// the screen to stdout, then a line "---"), `raw` (the same for the bytes
// written so far, quoted, colour codes included), `interrupt` (sends SIGINT),
// `exited` (waits until the program has exited and its output is drawn).
// After the script the program
// must exit with status N (default 0).
func cmdTTY(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! tty")
	}
	width, height, status := 100, 20, 0
	for len(args) > 1 && strings.HasPrefix(args[0], "-") {
		var err error
		switch args[0] {
		case "-size":
			_, err = fmt.Sscanf(args[1], "%dx%d", &width, &height)
		case "-exit":
			status, err = strconv.Atoi(args[1])
		default:
			err = fmt.Errorf("unknown option %s", args[0])
		}
		ts.Check(err)
		args = args[2:]
	}
	if len(args) < 2 {
		ts.Fatalf("usage: tty [-size WxH] [-exit N] script program [args...]")
	}
	script, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)

	t, err := startTTY(scriptCommand(ts, args[1], args[2:]...), width, height)
	if errors.Is(err, errNoPTY) {
		ts.Value(scriptT{}).(testscript.T).Skip(err.Error())
	}
	ts.Check(err)
	defer t.close()
	out, err := t.runScript(string(script))
	ts.Check(err)
	got, err := t.exitStatus(ttyWait)
	ts.Check(err)
	if got != status {
		ts.Fatalf("%s exited %d, want %d; screen:\n%s", args[1], got, status, t.screen())
	}
	_, _ = ts.Stdout().Write([]byte(out))
}

// runScript drives the program by a tty script's lines (see cmdTTY) and
// returns the screens its `screen` lines print.
func (t *ttyRun) runScript(script string) (string, error) {
	var out strings.Builder
	sc := bufio.NewScanner(strings.NewReader(script))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var err error
		verb, arg, _ := strings.Cut(line, " ")
		switch verb {
		case "wait":
			var re *regexp.Regexp
			if re, err = regexp.Compile(arg); err == nil {
				err = t.wait(re, ttyWait)
			}
		case "send":
			var text string
			if text, err = strconv.Unquote(arg); err == nil {
				err = t.send(text)
			}
		case "interrupt":
			err = t.cmd.Process.Signal(os.Interrupt)
		case "exited":
			if _, err = t.exitStatus(ttyWait); err == nil {
				<-t.read
			}
		case "screen":
			out.WriteString(t.screen())
			out.WriteString("\n---\n")
		case "raw": // the bytes written so far, escape sequences included, as a Go string literal
			out.WriteString(strconv.Quote(string(t.output())))
			out.WriteString("\n---\n")
		default:
			err = fmt.Errorf("tty script: unknown line %q", line)
		}
		if err != nil {
			return out.String(), fmt.Errorf("%s: %w", line, err)
		}
	}
	return out.String(), nil
}

// ttyRun is a program running in a pseudo-terminal, drawn by an emulator.
type ttyRun struct {
	cmd    *exec.Cmd
	ptmx   *os.File
	emu    *vt.SafeEmulator
	drawn  chan struct{} // a token after each write to the screen
	read   chan struct{} // closed once the program's output is all drawn
	exited chan error    // cmd.Wait's result, put back by whoever reads it

	rawMu sync.Mutex
	raw   []byte // every byte the program wrote, undrawn (README examples compare these)
}

func startTTY(cmd *exec.Cmd, width, height int) (*ttyRun, error) {
	cmd.Env = append(cmd.Env, "TERM=xterm-256color")
	// A machine (or container) that cannot open a pseudo-terminal at all
	// skips; a program that fails to start in one fails.
	if m, s, err := pty.Open(); err != nil {
		return nil, fmt.Errorf("%w: %w", errNoPTY, err)
	} else {
		_ = m.Close()
		_ = s.Close()
	}
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: uint16(width), Rows: uint16(height)})
	if err != nil {
		return nil, err
	}
	t := &ttyRun{cmd: cmd, ptmx: ptmx, emu: vt.NewSafeEmulator(width, height), drawn: make(chan struct{}, 1), read: make(chan struct{}), exited: make(chan error, 1)}
	// The emulator answers the program's terminal queries.
	go func() { _, _ = io.Copy(ptmx, t.emu) }()
	go func() {
		defer close(t.read)
		buf := make([]byte, 32<<10)
		for {
			n, err := ptmx.Read(buf)
			if n > 0 {
				t.rawMu.Lock()
				t.raw = append(t.raw, buf[:n]...)
				t.rawMu.Unlock()
				_, _ = t.emu.Write(buf[:n])
				select {
				case t.drawn <- struct{}{}:
				default:
				}
			}
			if err != nil {
				return
			}
		}
	}()
	go func() { t.exited <- cmd.Wait() }()
	return t, nil
}

// wait waits until the screen matches re, checking each time the program
// draws; it fails after timeout or when the program exits first.
func (t *ttyRun) wait(re *regexp.Regexp, timeout time.Duration) error {
	deadline := time.After(timeout)
	for !re.MatchString(t.screen()) {
		select {
		case <-t.drawn:
		case err := <-t.exited:
			t.exited <- err
			// What it wrote before exiting may still be on its way.
			select {
			case <-t.read:
			case <-time.After(timeout):
			}
			if re.MatchString(t.screen()) {
				return nil
			}
			return fmt.Errorf("program exited (%w) before the screen matched %q; screen:\n%s", err, re, t.screen())
		case <-deadline:
			return fmt.Errorf("screen did not match %q within %s; screen:\n%s", re, timeout, t.screen())
		}
	}
	return nil
}

func (t *ttyRun) send(text string) error {
	_, err := t.ptmx.Write([]byte(text))
	return err
}

// exitStatus waits for the program to exit and returns its status.
func (t *ttyRun) exitStatus(timeout time.Duration) (int, error) {
	select {
	case err := <-t.exited:
		t.exited <- err
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), nil
		}
		return 0, err
	case <-time.After(timeout):
		return 0, fmt.Errorf("still running %s after the script; screen:\n%s", timeout, t.screen())
	}
}

func (t *ttyRun) close() {
	_ = t.cmd.Process.Kill()
	_ = t.ptmx.Close()
	_ = t.emu.Close()
}

// output is everything the program wrote so far, as bytes: what a
// terminal's scrollback would hold, escape sequences included.
func (t *ttyRun) output() []byte {
	t.rawMu.Lock()
	defer t.rawMu.Unlock()
	return slices.Clone(t.raw)
}

// screen is the emulator's screen as plain text, trailing spaces and
// blank lines trimmed.
func (t *ttyRun) screen() string {
	lines := strings.Split(ansi.Strip(t.emu.Render()), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \r")
	}
	return strings.TrimRight(strings.Join(lines, "\n"), "\n")
}
