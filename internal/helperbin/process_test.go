package helperbin

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// script writes an executable shell script and returns its path.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "helper")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestStart: the helper gets the request line, its answer comes back,
// it serves until Stop closes its stdin; helpers that fail, stay silent
// or outlive ctx are stopped and say why.
func TestStart(t *testing.T) {
	ctx := context.Background()
	// echo the request back, then serve until stdin ends.
	echo := script(t, "read line; echo \"got $line\"; cat >/dev/null; exit 0\n")
	p, b, err := Start(ctx, echo, nil, map[string]int{"n": 1}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); got != `got {"n":1}` {
		t.Errorf("answer %q", got)
	}
	if done, _ := p.Exited(); done {
		t.Fatal("the helper ended before Stop")
	}
	p.Stop()
	if done, err := p.Exited(); !done || err != nil {
		t.Errorf("after Stop: exited %v, %v; want a clean exit", done, err)
	}
	p.Stop() // twice is fine

	for _, tc := range []struct {
		name, body string
		timeout    time.Duration
		ctxTimeout time.Duration
		want       string
	}{
		{"exits at once", "exit 3\n", 10 * time.Second, 0, "ended without"},
		{"never answers", "cat >/dev/null\n", 200 * time.Millisecond, 0, "did not answer within 200ms"},
		{"ctx ends first", "cat >/dev/null\n", 10 * time.Second, 200 * time.Millisecond, context.DeadlineExceeded.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ctx
			if tc.ctxTimeout > 0 {
				var cancel context.CancelFunc
				c, cancel = context.WithTimeout(ctx, tc.ctxTimeout)
				defer cancel()
			}
			p, _, err := Start(c, script(t, tc.body), nil, "x", tc.timeout)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Start: %v, %v; want an error with %q", p, err, tc.want)
			}
		})
	}
	if _, _, err := Start(ctx, filepath.Join(t.TempDir(), "missing"), nil, "x", time.Second); err == nil || !strings.Contains(err.Error(), "starting") {
		t.Errorf("missing binary: %v", err)
	}
}

// TestServeRequest is the helper's side: the request is read, the answer
// written as one line, and wait returns when stdin ends.
func TestServeRequest(t *testing.T) {
	var out strings.Builder
	var req struct{ N int }
	wait, err := ServeRequest(strings.NewReader("{\"N\":7}\nmore input\n"), &out, &req, func() any { return map[string]int{"twice": req.N * 2} })
	if err != nil {
		t.Fatal(err)
	}
	wait()
	if out.String() != "{\"twice\":14}\n" {
		t.Errorf("answer %q", out.String())
	}
	if _, err := ServeRequest(strings.NewReader("not json\n"), &out, &req, func() any { return nil }); err == nil {
		t.Error("a bad request was accepted")
	}
	if _, err := ServeRequest(strings.NewReader(""), &out, &req, func() any { return nil }); err == nil {
		t.Error("no request was accepted")
	}
}
