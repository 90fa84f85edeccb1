package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"strings"
)

// glibc is the C library of one platform, from a Debian package of the
// build machine.
type glibc struct {
	// Package is the package as dpkg names it ("libc6:amd64",
	// "libc6-arm64-cross"), Name without the architecture qualifier.
	Package, Name string
	Version       string
	// Files maps library file names to their host paths.
	Files map[string]string
	// Copyright is the package's copyright file (the LGPL notice).
	Copyright string
}

// debianGlibc finds the platform's glibc: the native libc6 package when
// the build machine has the platform's architecture, the cross package
// libc6-<arch>-cross otherwise.
func debianGlibc(ctx context.Context, p Platform) (glibc, error) {
	lc := glibc{Package: "libc6:" + p.Debian, Name: "libc6", Files: map[string]string{}}
	dir := "/" + p.Triplet
	if !p.Native() {
		lc.Package = "libc6-" + p.Debian + "-cross"
		lc.Name = lc.Package
		dir = "/usr/" + p.Triplet + "/lib"
	}
	version, err := dpkg(ctx, "dpkg-query", "-W", "-f", "${Version}", lc.Package)
	if err != nil {
		return lc, fmt.Errorf("glibc for linux/%s: %w (install the Debian package %s)", p.GOARCH, err, lc.Package)
	}
	lc.Version = strings.TrimSpace(version)
	list, err := dpkg(ctx, "dpkg", "-L", lc.Package)
	if err != nil {
		return lc, err
	}
	for _, f := range strings.Split(list, "\n") {
		switch {
		case strings.HasSuffix(f, "/copyright") && strings.HasPrefix(f, "/usr/share/doc/"):
			lc.Copyright = f
		case strings.HasSuffix(path.Dir(f), dir):
			if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() {
				lc.Files[path.Base(f)] = f
			}
		}
	}
	if lc.Copyright == "" {
		return lc, fmt.Errorf("package %s has no copyright file", lc.Package)
	}
	return lc, nil
}

func dpkg(ctx context.Context, name string, args ...string) (string, error) {
	var out, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out.String(), nil
}
