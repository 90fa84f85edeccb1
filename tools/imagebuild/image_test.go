package main

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// nativePlatform returns the build machine's platform, or skips the test
// where the image cannot be built (not Debian, no C compiler).
func nativePlatform(t *testing.T) Platform {
	t.Helper()
	p, ok := Platforms[runtime.GOARCH]
	if !ok || runtime.GOOS != "linux" {
		t.Skipf("images are built on linux/amd64 or linux/arm64, not %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	for _, tool := range []string{"dpkg-query", p.CC()} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: the image takes glibc from Debian packages and needs a C compiler", tool)
		}
	}
	return p
}

// TestImage builds the image for the build machine's architecture, checks
// its index and config, and runs the validator from the image's own files.
func TestImage(t *testing.T) {
	p := nativePlatform(t)
	created := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	o := Options{
		Root: "../..", Version: "1.2.3-test", Revision: "0123abc", Source: "https://example.com/gpufleet", License: "NOASSERTION",
		Created: created, Platforms: []Platform{p}, WorkDir: t.TempDir(),
		// No -trimpath: the build reuses the packages compiled for the
		// other tests (the release build adds it).
	}
	ctx := context.Background()
	idx, err := Build(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := idx.MediaType(); mt != types.OCIImageIndex || len(im.Manifests) != 1 ||
		im.Manifests[0].Platform == nil || im.Manifests[0].Platform.OS != "linux" || im.Manifests[0].Platform.Architecture != p.GOARCH {
		t.Fatalf("index %s: %+v", mt, im.Manifests)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	checkConfig(t, img, p, created)

	// Deterministic: the same binary and packages give the same image, and
	// the same layout bytes.
	again, err := assemble(ctx, o, p, filepath.Join(o.WorkDir, "gpufleet-nodecheck-linux-"+p.GOARCH))
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Fatalf("image digests differ between two assemblies: %s, %s", d1, d2)
	}
	dirs := []string{filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")}
	var indexes [][]byte
	for _, dir := range dirs {
		if err := WriteLayout(dir, idx, o.Version); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, "index.json"))
		if err != nil {
			t.Fatal(err)
		}
		indexes = append(indexes, b)
	}
	if !bytes.Equal(indexes[0], indexes[1]) {
		t.Fatalf("index.json %s vs %s", indexes[0], indexes[1])
	}
	lp, err := layout.FromPath(dirs[0])
	if err != nil {
		t.Fatal(err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		t.Fatalf("layout does not read back: %v", err)
	}
	tm, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := idx.Digest(); len(tm.Manifests) != 1 || tm.Manifests[0].Digest != d ||
		tm.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "1.2.3-test" {
		t.Fatalf("layout index.json %+v", tm.Manifests)
	}

	// Run the binary with the image's loader and libraries only.
	root := t.TempDir()
	extract(t, img, root)
	cmd := exec.Command(filepath.Join(root, p.Interpreter), "--inhibit-cache", "--library-path", filepath.Join(root, "lib", p.Triplet),
		filepath.Join(root, "gpufleet-nodecheck"), "--version")
	cmd.Env = []string{}
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "gpufleet-nodecheck 1.2.3-test\n" {
		t.Fatalf("--version through the image's loader: %v: %q", err, out)
	}
}

func checkConfig(t *testing.T, img v1.Image, p Platform, created time.Time) {
	t.Helper()
	if mt, _ := img.MediaType(); mt != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s", mt)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if cf.OS != "linux" || cf.Architecture != p.GOARCH || !cf.Created.Time.Equal(created) {
		t.Errorf("platform %s/%s created %s", cf.OS, cf.Architecture, cf.Created)
	}
	if !slices.Equal(c.Entrypoint, []string{"/gpufleet-nodecheck"}) || c.User != "65532:65532" || len(c.Cmd) != 0 {
		t.Errorf("entrypoint %v cmd %v user %q", c.Entrypoint, c.Cmd, c.User)
	}
	for _, env := range []string{"NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_DRIVER_CAPABILITIES=utility"} {
		if !slices.Contains(c.Env, env) {
			t.Errorf("env %v lacks %s", c.Env, env)
		}
	}
	want := map[string]string{
		"org.opencontainers.image.title":    "gpufleet-nodecheck",
		"org.opencontainers.image.version":  "1.2.3-test",
		"org.opencontainers.image.revision": "0123abc",
		"org.opencontainers.image.source":   "https://example.com/gpufleet",
		"org.opencontainers.image.licenses": "NOASSERTION",
		"dev.gpufleet.glibc.package":        "libc6:" + p.Debian,
		"dev.gpufleet.glibc.license":        "LGPL-2.1-or-later",
	}
	for k, v := range want {
		if c.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
		}
	}
	if !strings.HasPrefix(c.Labels["dev.gpufleet.glibc.version"], "2.") {
		t.Errorf("glibc version label %q", c.Labels["dev.gpufleet.glibc.version"])
	}
}

// extract writes the image's file system under root.
func extract(t *testing.T, img v1.Image, root string) {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(root, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(dst, 0o755)
		case tar.TypeSymlink:
			if err = os.MkdirAll(filepath.Dir(dst), 0o755); err == nil {
				err = os.Symlink(h.Linkname, dst)
			}
		case tar.TypeReg:
			if err = os.MkdirAll(filepath.Dir(dst), 0o755); err == nil {
				var data []byte
				if data, err = io.ReadAll(tr); err == nil {
					err = os.WriteFile(dst, data, os.FileMode(h.Mode)&0o777)
				}
			}
		default:
			t.Fatalf("unexpected entry %s of type %c", h.Name, h.Typeflag)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestDynamicDeps checks that a missing library or loader is found by
// the ELF check, which runs for every platform (ldd cannot cross-check).
func TestDynamicDeps(t *testing.T) {
	p := nativePlatform(t)
	lc, err := debianGlibc(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable() // a cgo test binary: it links libc too
	if err != nil {
		t.Fatal(err)
	}
	if ef, err := elf.Open(self); err != nil || interpreter(ef) == "" {
		t.Skip("the test binary is not dynamically linked")
	}
	files, err := rootfs(self, p, lc)
	if err != nil {
		t.Fatal(err)
	}
	without := func(name string) []file {
		return slices.DeleteFunc(slices.Clone(files), func(f file) bool { return strings.HasSuffix(f.Path, "/"+name) })
	}
	other := Platforms["arm64"]
	if p.GOARCH == "arm64" {
		other = Platforms["amd64"]
	}
	tests := []struct {
		name  string
		files []file
		p     Platform
		err   string
	}{
		{"complete", files, p, ""},
		{"no libc", without("libc.so.6"), p, "libraries missing from the image: libc.so.6 (needed by /gpufleet-nodecheck)"},
		{"no loader", without(p.Loader), p, "is not in the image"},
		{"wrong architecture", files, other, "is built for"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkDynamicDeps(tt.files, tt.p)
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("error %v, want %q", err, tt.err)
			}
		})
	}
}

// TestLayerDeterministic checks the tar layer: parents first, fixed owner
// and time, and the same bytes for the same files.
func TestLayerDeterministic(t *testing.T) {
	created := time.Unix(1700000000, 0)
	files := withParents([]file{
		{Path: "/usr/share/doc/x/copyright", Mode: 0o644, Contents: []byte("c")},
		{Path: "/a", Mode: 0o755, Contents: []byte("a")},
		{Path: "/lib64/ld.so", Mode: 0o777, Link: "../lib/x/ld.so"},
	})
	a, err := tarFiles(files, created)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tarFiles(files, created)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("two layers of the same files differ")
	}
	var names []string
	tr := tar.NewReader(bytes.NewReader(a))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(created) {
			t.Errorf("%s: uid %d gid %d mtime %s", h.Name, h.Uid, h.Gid, h.ModTime)
		}
		names = append(names, h.Name)
	}
	want := []string{"a", "lib64/", "lib64/ld.so", "usr/", "usr/share/", "usr/share/doc/", "usr/share/doc/x/", "usr/share/doc/x/copyright"}
	if !slices.Equal(names, want) {
		t.Fatalf("entries %v, want %v", names, want)
	}
}
