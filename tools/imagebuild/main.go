// Command imagebuild builds the gpufleet-nodecheck container image as an
// OCI image layout, without a container engine: it compiles the validator
// with cgo for each platform, adds the glibc runtime files from the build
// machine's Debian packages (the binary is dynamically linked, and go-nvml
// loads libnvidia-ml.so.1, which the NVIDIA container runtime mounts into
// the container, with dlopen), checks that every library the binary needs
// is in the image, and writes a multi-platform index.
//
//	go run ./tools/imagebuild -out bin/image -version 0.1.0 -platforms amd64,arm64
//
// The same sources, toolchain, Debian packages and -created time give the
// same digests. Push the layout with crane (crane push bin/image REF).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "imagebuild: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("imagebuild", flag.ContinueOnError)
	out := fs.String("out", "bin/image", "directory of the OCI image layout (replaced)")
	version := fs.String("version", "dev", "version set in the binary (-X main.version) and the image labels")
	revision := fs.String("revision", gitOutput("rev-parse", "HEAD"), "VCS revision label")
	source := fs.String("source", "https://github.com/gpufleet/terraform-provider-gpufleet", "source repository label")
	license := fs.String("license", "NOASSERTION", "SPDX license expression of the project, for the licenses label")
	created := fs.String("created", defaultCreated(), "image creation time, Unix seconds (default $SOURCE_DATE_EPOCH, else the last commit's time)")
	platforms := fs.String("platforms", "amd64", "comma-separated architectures: amd64, arm64 (arm64 needs gcc-aarch64-linux-gnu and libc6-dev-arm64-cross on amd64)")
	trimpath := fs.Bool("trimpath", true, "build with -trimpath (reproducible across checkouts)")
	root := fs.String("root", ".", "module root")
	if err := fs.Parse(args); err != nil {
		return err
	}
	secs, err := strconv.ParseInt(*created, 10, 64)
	if err != nil {
		return fmt.Errorf("-created must be Unix seconds, got %q", *created)
	}
	o := Options{
		Root: *root, Version: *version, Revision: orUnknown(*revision), Source: *source, License: *license,
		Created: time.Unix(secs, 0).UTC(), Log: os.Stderr,
	}
	if *trimpath {
		o.BuildFlags = []string{"-trimpath"}
	}
	for _, name := range strings.Split(*platforms, ",") {
		p, ok := Platforms[strings.TrimSpace(name)]
		if !ok {
			return fmt.Errorf("unknown platform %q (amd64, arm64)", name)
		}
		o.Platforms = append(o.Platforms, p)
	}
	work, err := os.MkdirTemp("", "imagebuild-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	o.WorkDir = work
	start := time.Now()
	idx, err := Build(ctx, o)
	if err != nil {
		return err
	}
	if err := WriteLayout(*out, idx, o.Version); err != nil {
		return err
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, desc := range m.Manifests {
		img, err := idx.Image(desc.Digest)
		if err != nil {
			return err
		}
		size, err := imageSize(img)
		if err != nil {
			return err
		}
		fmt.Printf("linux/%s\t%s\t%.1f MiB compressed\n", desc.Platform.Architecture, desc.Digest, float64(size)/(1<<20))
	}
	fmt.Printf("index\t%s\t%s (%s)\n", d, *out, time.Since(start).Round(time.Second))
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func gitOutput(args ...string) string {
	out, err := exec.Command("git", args...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func defaultCreated() string {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		return s
	}
	if s := gitOutput("log", "-1", "--format=%ct"); s != "" {
		return s
	}
	return "0"
}
