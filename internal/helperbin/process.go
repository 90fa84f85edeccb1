package helperbin

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// stopGrace is how long Stop waits for a helper to end after its stdin
// closes before it kills it.
const stopGrace = 10 * time.Second

// Process is a helper serving its parent: it reads one JSON request line
// on stdin, answers one line on stdout, and serves until its stdin ends,
// which is when the parent calls Stop or exits however it does (the
// kernel closes a dead process's pipes, and Go opens every other file
// close-on-exec, so no other process holds it open). Its stderr is the
// parent's (the provider's log, as Terraform collects it).
type Process struct {
	cmd    *exec.Cmd
	stdin  io.Closer
	done   chan struct{}
	err    error // cmd.Wait's, once done is closed
	stopMu sync.Once
}

// Start runs bin with args, writes request as one JSON line on its stdin
// and returns the first line the helper writes on its stdout, within
// timeout; ctx bounds the wait too. On any failure the helper is stopped.
func Start(ctx context.Context, bin string, args []string, request any, timeout time.Duration) (*Process, []byte, error) {
	req, err := json.Marshal(request)
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = procAttr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	p := &Process{cmd: cmd, stdin: stdin, done: make(chan struct{})}
	line := make(chan []byte, 1)
	go func() {
		b, _ := bufio.NewReader(stdout).ReadBytes('\n')
		line <- b
		_, _ = io.Copy(io.Discard, stdout) // nothing else is written; never block the helper
		p.err = cmd.Wait()
		close(p.done)
	}()
	if _, err := stdin.Write(append(req, '\n')); err != nil {
		p.Stop()
		return nil, nil, fmt.Errorf("%s ended without reading its request (%v): %w", bin, p.err, err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case b := <-line:
		if len(b) == 0 {
			p.Stop()
			return nil, nil, fmt.Errorf("%s ended without answering (%v)", bin, p.err)
		}
		return p, b, nil
	case <-ctx.Done():
		p.Stop()
		return nil, nil, ctx.Err()
	case <-t.C:
		p.Stop()
		return nil, nil, fmt.Errorf("%s did not answer within %s", bin, timeout)
	}
}

// Stop closes the helper's stdin, waits for it to end (killing it after
// stopGrace) and returns once it has. Safe to call more than once.
func (p *Process) Stop() {
	p.stopMu.Do(func() {
		p.stdin.Close()
		select {
		case <-p.done:
		case <-time.After(stopGrace):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	<-p.done
}

// Done is closed once the helper has exited, however it did.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the helper has exited, and why (nil for a clean
// exit).
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Pid is the helper's process ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// ServeRequest is the helper's side of Start: it reads the request line
// from stdin into req, writes what answer returns as one JSON line on
// stdout, and returns a function that blocks until stdin ends (when the
// parent stops the helper or exits). A request that cannot be read is an
// error, answered with nothing.
func ServeRequest(stdin io.Reader, stdout io.Writer, req any, answer func() any) (wait func(), err error) {
	in := bufio.NewReader(stdin)
	line, err := in.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("reading the request: %w", err)
	}
	if err := json.Unmarshal(line, req); err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	b, err := json.Marshal(answer())
	if err != nil {
		return nil, err
	}
	if _, err := stdout.Write(append(b, '\n')); err != nil {
		return nil, err
	}
	return func() { _, _ = io.Copy(io.Discard, in) }, nil
}
