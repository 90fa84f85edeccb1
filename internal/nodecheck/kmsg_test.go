package nodecheck

import (
	"os"
	"path/filepath"
	"testing"
)

func TestKmsgMessage(t *testing.T) {
	for rec, want := range map[string]string{
		"4,1234,5678901,-;NVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus.\n SUBSYSTEM=pci\n": "NVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus.",
		"6,1,2,-;hello": "hello",
		"no separator":  "no separator",
	} {
		if got := KmsgMessage([]byte(rec)); got != want {
			t.Errorf("KmsgMessage(%q) = %q, want %q", rec, got, want)
		}
	}
}

func TestReadKernelLogFileAndParse(t *testing.T) {
	p := filepath.Join(t.TempDir(), "kern.log")
	os.WriteFile(p, []byte("Nov 25 10:00:01 host kernel: NVRM: Xid (PCI:0000:3B:00.0): 48, pid=77, DBE (double bit error)\nunrelated\n"), 0o644)
	lines, err := ReadKernelLog(p)
	if err != nil || len(lines) != 2 {
		t.Fatalf("%v %v", lines, err)
	}
	ev := ParseKernelXIDs(lines)
	if len(ev) != 1 || ev[0].XID != 48 || ev[0].BusID != "0000:3b:00" || ev[0].Detail != "pid=77, DBE (double bit error)" {
		t.Fatalf("events %+v", ev)
	}
	if normalizeBusID("00000000:3B:00.0") != "0000:3b:00" {
		t.Fatal("NVML 8-digit domain not normalized")
	}
	if _, err := ReadKernelLog(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("missing log read")
	}
}
