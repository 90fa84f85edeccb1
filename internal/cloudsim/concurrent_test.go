package cloudsim

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// TestTwoEnginesOneWorld: two engines on one state file (as two provider
// processes applying from two working directories with one simulate_dir)
// create clusters, objects and capacity changes at the same time; every
// change of both is in the world afterwards.
func TestTwoEnginesOneWorld(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	const perEngine = 20
	var wg sync.WaitGroup
	for i := range 2 {
		e, err := New(Config{StateFile: file})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perEngine {
				if _, err := e.CreateCluster("aws", cloud.ClusterSpec{Name: fmt.Sprintf("c%d-%d", i, j), Region: "eu-north-1"}); err != nil {
					t.Error(err)
				}
				if _, err := e.PutObject("aws", "Vpc", fmt.Sprintf("v%d-%d", i, j), map[string]string{"n": "1"}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	e, err := New(Config{StateFile: file})
	if err != nil {
		t.Fatal(err)
	}
	inv := e.Inventory()
	if len(inv.Clusters) != 2*perEngine || len(inv.Objects) != 2*perEngine {
		t.Fatalf("the world holds %d clusters and %d objects, want %d each: concurrent changes were lost", len(inv.Clusters), len(inv.Objects), 2*perEngine)
	}
}

// TestCorruptState names the file and what to do.
func TestCorruptState(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "state.json")
	if err := os.WriteFile(file, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := New(Config{StateFile: file})
	if err == nil || !strings.HasPrefix(err.Error(), "simulator state unreadable: "+file+": ") || !strings.HasSuffix(err.Error(), "; restore it or remove the directory") {
		t.Fatalf("got %v", err)
	}
}
