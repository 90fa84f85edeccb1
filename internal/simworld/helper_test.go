package simworld

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperBin is gpufleet-simkube, built once for the tests.
var helperBin string

// parentEnv makes the test binary the parent process of
// TestHelperEndsWithItsParent: it starts a helper, prints the helper's
// pid and waits to be killed.
const parentEnv = "SIMWORLD_TEST_PARENT_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(parentEnv); dir != "" {
		w, err := startHelper(context.Background(), os.Getenv("SIMWORLD_TEST_HELPER"), Options{Dir: dir})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(w.pid)
		select {}
	}
	dir, err := os.MkdirTemp("", "simworld-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	helperBin = filepath.Join(dir, HelperName)
	build := exec.Command("go", "build", "-o", helperBin, "../../cmd/gpufleet/gpufleet-simkube")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building %s: %v\n%s", HelperName, err, out)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// exited waits up to 10 s for pid to be gone (or a zombie nobody reaps).
func exited(pid int) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return true
			}
			if syscall.Kill(pid, 0) != nil { // no /proc
				return true
			}
			continue
		}
		// pid (comm) state ...
		if f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(f) > 0 && f[0] == "Z" {
			return true
		}
	}
	return false
}

// TestHelperServes: the helper serves every front end on loopback, the
// Azure client trusts its certificate, simulated cluster endpoints dial
// the Kubernetes APIs and nothing else is reachable; Close ends the
// helper.
func TestHelperServes(t *testing.T) {
	w, err := startHelper(context.Background(), helperBin, Options{Dir: t.TempDir(), GCPProject: "my-sim", TimeScale: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if w.GCPProject != "my-sim" || w.AzureSubscription == "" || w.AzurePoll != time.Second {
		t.Errorf("accounts: project %q, subscription %q, Azure poll %s; want my-sim, the default, 1s (not a test binary)", w.GCPProject, w.AzureSubscription, w.AzurePoll)
	}
	for name, addr := range map[string]string{"AWS": w.Endpoints.AWS, "GKE": "tcp://" + w.Endpoints.GKE, "Compute": w.Endpoints.Compute, "Kube": "tcp://" + w.Endpoints.Kube} {
		host := addr[strings.Index(addr, "://")+3:]
		c, err := net.DialTimeout("tcp", host, 5*time.Second)
		if err != nil {
			t.Errorf("%s at %s: %v", name, addr, err)
			continue
		}
		c.Close()
	}
	client, err := w.AzureClient()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Get(w.Endpoints.Azure + "/subscriptions/" + w.AzureSubscription + "/resourcegroups?api-version=2021-04-01")
	if err != nil {
		t.Fatalf("Azure over TLS: %v", err)
	}
	resp.Body.Close()
	ctx := context.Background()
	c, err := w.DialKube(ctx, "tcp", "gpufleet-aws-eu-north-1.eu-north-1.aws"+EndpointSuffix+":443")
	if err != nil {
		t.Fatalf("dialling a simulated cluster endpoint: %v", err)
	}
	c.Close()
	if _, err := w.DialKube(ctx, "tcp", "example.com:443"); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("dialling example.com: %v, want refused", err)
	}
	w.Close()
	if !exited(w.pid) {
		t.Errorf("helper %d still runs after Close", w.pid)
	}
}

// TestHelperEndsWithItsParent: a provider killed outright (SIGKILL, no
// Close) leaves no helper behind: its stdin ends and it exits.
func TestHelperEndsWithItsParent(t *testing.T) {
	parent := exec.Command(os.Args[0], "-test.run=^$")
	parent.Env = append(os.Environ(), parentEnv+"="+t.TempDir(), "SIMWORLD_TEST_HELPER="+helperBin)
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	pid, perr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || perr != nil {
		parent.Process.Kill()
		parent.Wait()
		t.Fatalf("parent: %q %v %v", line, err, perr)
	}
	if exited(pid) {
		t.Fatalf("helper %d is not running while its parent is", pid)
	}
	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	parent.Wait()
	if !exited(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("helper %d still runs after its parent was killed", pid)
	}
}

// TestHelperStateError: a world whose state cannot be read is a
// StateError naming the file, as in process.
func TestHelperStateError(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := startHelper(context.Background(), helperBin, Options{Dir: dir})
	var se *StateError
	if !errors.As(err, &se) || se.Path != filepath.Join(dir, "state.json") {
		t.Fatalf("got %v, want a StateError for %s", err, filepath.Join(dir, "state.json"))
	}
}

// TestFindHelperMissing: without gpufleet-simkube next to the executable
// or on PATH, simulate = true says what to build.
func TestFindHelperMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if _, err := FindHelper(); !errors.Is(err, ErrNoHelper) {
		t.Fatalf("FindHelper: %v, want ErrNoHelper", err)
	}
	if !strings.Contains(ErrNoHelper.Error(), "make build") {
		t.Errorf("%q does not say how to build the helper", ErrNoHelper)
	}
}
