//go:build unix

package awsremote_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/awsconfig"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/awsremote"
)

// TestHelperProcess runs the real gpufleet-aws: started on the first
// call, answering with the backend's own classified errors; killed, it
// is started again by the next call (the one in between fails as a
// transient error, which the retry decorator retries); stopped, it
// removes its socket directory.
func TestHelperProcess(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	_, s := world(t)
	c := &awsremote.Client{Bin: helperBin}
	t.Cleanup(c.Close)
	b := awsremote.NewBackend(c, s)
	ctx := context.Background()
	if c.Pid() != 0 {
		t.Fatal("a helper runs before the first call")
	}
	if _, err := b.GetCluster(ctx, euc1, "none"); !cloud.IsNotFound(err) {
		t.Fatalf("GetCluster of nothing: %v, want the backend's not found", err)
	}
	first := c.Pid()
	if first == 0 {
		t.Fatal("no helper after the first call")
	}
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var err error
	transient := 0
	for i := 0; i < 50; i++ {
		if _, err = b.GetCluster(ctx, euc1, "none"); cloud.IsNotFound(err) {
			break
		}
		if !cloud.IsTransient(err) || !strings.Contains(err.Error(), "gpufleet-aws did not answer") {
			t.Fatalf("call to a killed helper: %v, want a transient error naming it", err)
		}
		transient++
		time.Sleep(10 * time.Millisecond)
	}
	if !cloud.IsNotFound(err) || transient > 1 {
		t.Fatalf("after the kill: %v after %d transient errors; want the backend's answer after at most one", err, transient)
	}
	second := c.Pid()
	if second == 0 || second == first {
		t.Fatalf("helper pid %d after the kill (was %d): want a new one", second, first)
	}
	c.Close()
	if err := syscall.Kill(second, 0); err == nil {
		t.Errorf("helper %d still runs after Close", second)
	}
	// Neither the killed helper's socket directory nor the stopped one's
	// is left (TMPDIR is the test's own; a helper dropped after a failed
	// call is stopped in the background).
	var left []string
	for i := 0; i < 100; i++ {
		if left, _ = filepath.Glob(filepath.Join(tmp, awsremote.HelperName+"-*")); len(left) == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(left) > 0 {
		t.Errorf("socket directories left: %v", left)
	}
}

// TestHelperRefused: a missing helper, one of another protocol version,
// and one that is not a helper at all are refused with what to install.
func TestHelperRefused(t *testing.T) {
	dir := t.TempDir()
	script := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("PATH", t.TempDir())
	for _, tc := range []struct {
		name, bin string
		want      []string
	}{
		{"missing", "", []string{"gpufleet-aws", "neither next to the provider binary nor on PATH", "release archive"}},
		{"other version", script("old", "read l; echo '{\"protocol\":99,\"socket\":\"/nonexistent\"}'; cat >/dev/null\n"),
			[]string{"speaks protocol 99, this provider 1", "install the gpufleet-aws of the provider's own release"}},
		{"not a helper", script("other", "read l; echo hello; cat >/dev/null\n"), []string{"not a gpufleet-aws greeting"}},
		{"exits", script("exits", "exit 1\n"), []string{"ended without"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &awsremote.Client{Bin: tc.bin}
			defer c.Close()
			_, err := awsremote.NewBackend(c, awsconfig.Settings{}).GetCluster(context.Background(), euc1, "c")
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v, want it to say %q", err, w)
				}
			}
			if cloud.IsRetryable(err) {
				t.Errorf("%v is retryable: retrying will not install the helper", err)
			}
		})
	}
	if !errors.Is(func() error {
		_, err := awsremote.NewBackend(&awsremote.Client{}, awsconfig.Settings{}).GetCluster(context.Background(), euc1, "c")
		return err
	}(), awsremote.ErrNoHelper) {
		t.Error("a missing helper is not ErrNoHelper")
	}
}
