package main

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Platform is one linux architecture the image is built for.
type Platform struct {
	// GOARCH is Go's name, also the OCI architecture: amd64, arm64.
	GOARCH string
	// Debian is Debian's architecture name (dpkg --print-architecture).
	Debian string
	// Triplet is the multiarch directory of the libraries: x86_64-linux-gnu.
	Triplet string
	// Interpreter is the dynamic loader path cgo binaries request
	// (PT_INTERP), and Loader its file name in /lib/<triplet>.
	Interpreter, Loader string
	// CrossCC is the Debian cross compiler used when the build machine is
	// of another architecture, and CrossPackages what installs it and the
	// target's glibc.
	CrossCC       string
	CrossPackages []string
}

// Platforms are the architectures the image can hold.
var Platforms = map[string]Platform{
	"amd64": {GOARCH: "amd64", Debian: "amd64", Triplet: "x86_64-linux-gnu", Interpreter: "/lib64/ld-linux-x86-64.so.2", Loader: "ld-linux-x86-64.so.2",
		CrossCC: "x86_64-linux-gnu-gcc", CrossPackages: []string{"gcc-x86-64-linux-gnu", "libc6-dev-amd64-cross"}},
	"arm64": {GOARCH: "arm64", Debian: "arm64", Triplet: "aarch64-linux-gnu", Interpreter: "/lib/ld-linux-aarch64.so.1", Loader: "ld-linux-aarch64.so.1",
		CrossCC: "aarch64-linux-gnu-gcc", CrossPackages: []string{"gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross"}},
}

// Native reports whether the build machine runs the platform's binaries.
func (p Platform) Native() bool { return p.GOARCH == runtime.GOARCH }

// CC is the C compiler for cgo: $CC (or gcc) natively, the cross compiler
// otherwise.
func (p Platform) CC() string {
	if p.Native() {
		if cc := os.Getenv("CC"); cc != "" {
			return cc
		}
		return "gcc"
	}
	return p.CrossCC
}

// glibcLibraries are the glibc files the image carries besides the
// loader: libc for the binary (glibc 2.34 and later hold libdl, libpthread
// and librt in libc, which is all the binary links), and the libraries
// libnvidia-ml.so.1, which go-nvml loads with dlopen, links against.
var glibcLibraries = []string{"libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1"}

// Options say what to build.
type Options struct {
	// Root is the module root (with cmd/gpufleet-nodecheck).
	Root string
	// Version is the release version, set in the binary and the labels.
	Version string
	// Revision is the VCS commit, Source the repository URL, License the
	// SPDX expression of the project.
	Revision, Source, License string
	// Created is the image creation time (fixed, for reproducible images).
	Created time.Time
	// Platforms are the architectures, in index order.
	Platforms []Platform
	// BuildFlags are extra go build flags, such as -trimpath.
	BuildFlags []string
	// WorkDir holds the built binaries.
	WorkDir string
	// Log receives progress lines.
	Log io.Writer
}

// labelPrefix names gpufleet's own labels.
const labelPrefix = "dev.gpufleet."

// Build compiles gpufleet-nodecheck for every platform and returns the
// multi-platform image index.
func Build(ctx context.Context, o Options) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var adds []mutate.IndexAddendum
	for _, p := range o.Platforms {
		img, err := platformImage(ctx, o, p)
		if err != nil {
			return nil, fmt.Errorf("linux/%s: %w", p.GOARCH, err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: p.GOARCH}}})
	}
	return mutate.AppendManifests(idx, adds...), nil
}

// WriteLayout writes the index as the one image of an OCI image layout in
// dir (emptied first), named by the version.
func WriteLayout(dir string, idx v1.ImageIndex, version string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": version}))
}

func platformImage(ctx context.Context, o Options, p Platform) (v1.Image, error) {
	bin := filepath.Join(o.WorkDir, "gpufleet-nodecheck-linux-"+p.GOARCH)
	start := time.Now()
	if err := buildBinary(ctx, o, p, bin); err != nil {
		return nil, err
	}
	logf(o.Log, "built %s in %s", bin, time.Since(start).Round(time.Second))
	return assemble(ctx, o, p, bin)
}

// assemble makes the platform's image around a built binary.
func assemble(ctx context.Context, o Options, p Platform, bin string) (v1.Image, error) {
	lc, err := debianGlibc(ctx, p)
	if err != nil {
		return nil, err
	}
	files, err := rootfs(bin, p, lc)
	if err != nil {
		return nil, err
	}
	if err := checkDynamicDeps(files, p); err != nil {
		return nil, err
	}
	data, err := tarFiles(files, o.Created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON), layer)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", p.GOARCH
	cfg.Created = v1.Time{Time: o.Created.UTC()}
	cfg.Author = "gpufleet"
	cfg.Config = v1.Config{
		Entrypoint: []string{"/gpufleet-nodecheck"},
		User:       "65532:65532",
		WorkingDir: "/",
		Env: []string{
			"PATH=/",
			// The NVIDIA container runtime mounts the driver's NVML
			// library and the GPU devices into containers that ask.
			"NVIDIA_VISIBLE_DEVICES=all",
			"NVIDIA_DRIVER_CAPABILITIES=utility",
		},
		Labels: map[string]string{
			"org.opencontainers.image.title":       "gpufleet-nodecheck",
			"org.opencontainers.image.description": "Validates a node's NVIDIA GPUs through NVML and removes the gpufleet.dev/unvalidated taint when they pass",
			"org.opencontainers.image.version":     o.Version,
			"org.opencontainers.image.revision":    o.Revision,
			"org.opencontainers.image.source":      o.Source,
			"org.opencontainers.image.licenses":    o.License,
			labelPrefix + "glibc.package":          lc.Package,
			labelPrefix + "glibc.version":          lc.Version,
			labelPrefix + "glibc.license":          "LGPL-2.1-or-later",
		},
	}
	cfg.History = []v1.History{{Created: cfg.Created, CreatedBy: "tools/imagebuild: gpufleet-nodecheck and glibc from " + lc.Package + " " + lc.Version, Comment: "built without a container engine"}}
	return mutate.ConfigFile(img, cfg)
}

// buildBinary compiles the validator with cgo for the platform.
func buildBinary(ctx context.Context, o Options, p Platform, out string) error {
	args := append([]string{"build"}, o.BuildFlags...)
	args = append(args, "-ldflags", "-s -w -X main.version="+o.Version, "-o", out, "./cmd/gpufleet-nodecheck")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = o.Root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "GOOS=linux", "GOARCH="+p.GOARCH, "CC="+p.CC())
	if os.Getenv("CGO_CFLAGS") == "" {
		// go-nvml's cgo prologue uses deprecated NVML calls.
		cmd.Env = append(cmd.Env, "CGO_CFLAGS=-O2 -g -Wno-deprecated-declarations")
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		hint := ""
		if !p.Native() {
			if _, lerr := exec.LookPath(p.CrossCC); lerr != nil {
				hint = fmt.Sprintf(" (no %s: install the Debian packages %s)", p.CrossCC, strings.Join(p.CrossPackages, " "))
			}
		}
		return fmt.Errorf("go %s%s: %v\n%s", strings.Join(args, " "), hint, err, tail(stderr.String(), 4000))
	}
	return nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// file is one entry of the image's file system.
type file struct {
	Path     string // absolute, in the image
	Mode     int64
	Dir      bool
	Link     string // symlink target
	Source   string // host file to copy
	Contents []byte // or these bytes
}

// rootfs lists the image's files: the validator, glibc from the Debian
// package, the loader at the path the binary requests, a non-root user,
// and the empty library directory the NVIDIA container runtime mounts
// libnvidia-ml.so.1 into.
func rootfs(bin string, p Platform, lc glibc) ([]file, error) {
	libDir := "/lib/" + p.Triplet
	files := []file{
		{Path: "/gpufleet-nodecheck", Mode: 0o755, Source: bin},
		{Path: "/etc/passwd", Mode: 0o644, Contents: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{Path: "/etc/group", Mode: 0o644, Contents: []byte("root:x:0:\nnonroot:x:65532:\n")},
		// Host lookups without glibc's NSS modules (Go's resolver reads this).
		{Path: "/etc/nsswitch.conf", Mode: 0o644, Contents: []byte("hosts: files dns\n")},
		{Path: "/home/nonroot", Mode: 0o755, Dir: true},
		{Path: "/tmp", Mode: 0o1777, Dir: true},
		{Path: "/usr/lib/" + p.Triplet, Mode: 0o755, Dir: true},
		{Path: "/usr/share/doc/" + lc.Name + "/copyright", Mode: 0o644, Source: lc.Copyright},
	}
	for _, name := range append([]string{p.Loader}, glibcLibraries...) {
		src, ok := lc.Files[name]
		if !ok {
			return nil, fmt.Errorf("%s is not in Debian package %s", name, lc.Package)
		}
		files = append(files, file{Path: libDir + "/" + name, Mode: 0o755, Source: src})
	}
	if interpDir := path.Dir(p.Interpreter); interpDir != libDir {
		rel, err := filepath.Rel(interpDir, libDir+"/"+p.Loader)
		if err != nil {
			return nil, err
		}
		files = append(files, file{Path: p.Interpreter, Mode: 0o777, Link: rel})
	}
	return withParents(files), nil
}

// withParents adds the missing parent directories and sorts by path.
func withParents(files []file) []file {
	have := map[string]bool{}
	for _, f := range files {
		have[f.Path] = true
	}
	for _, f := range files {
		for d := path.Dir(f.Path); d != "/"; d = path.Dir(d) {
			if !have[d] {
				have[d] = true
				files = append(files, file{Path: d, Mode: 0o755, Dir: true})
			}
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files
}

// tarFiles writes the layer: owned by root, stamped with the creation
// time, in path order, so that the same files give the same digest.
func tarFiles(files []file, created time.Time) ([]byte, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range files {
		h := &tar.Header{Name: strings.TrimPrefix(f.Path, "/"), Mode: f.Mode, ModTime: created.UTC(), Format: tar.FormatPAX, Uname: "root", Gname: "root"}
		var data []byte
		switch {
		case f.Dir:
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		case f.Link != "":
			h.Typeflag, h.Linkname = tar.TypeSymlink, f.Link
		default:
			h.Typeflag, data = tar.TypeReg, f.Contents
			if f.Source != "" {
				var err error
				if data, err = os.ReadFile(f.Source); err != nil {
					return nil, err
				}
			}
			h.Size = int64(len(data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, "imagebuild: "+format+"\n", args...)
	}
}

// imageSize is the compressed size of an image: its layers, config and
// manifest.
func imageSize(img v1.Image) (int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	size := m.Config.Size
	for _, l := range m.Layers {
		size += l.Size
	}
	raw, err := img.RawManifest()
	return size + int64(len(raw)), err
}
