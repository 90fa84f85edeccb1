package conformance

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"unicode"
)

// The AWS API models are read from this module as data (it is not
// imported): `make test` runs `go mod download` for it.
const (
	AWSModelsModule  = "github.com/aws/aws-sdk-go"
	AWSModelsVersion = "v1.55.8"
	// googleAPIModule holds the discovery documents; its version is the
	// one this binary is built with (a fallback when build info is
	// missing).
	googleAPIModule  = "google.golang.org/api"
	googleAPIVersion = "v0.304.0"
)

var modCache = sync.OnceValues(func() (string, error) {
	if d := os.Getenv("GOMODCACHE"); d != "" {
		return d, nil
	}
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMODCACHE: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
})

// escapePath is the module cache's case encoding (Azure -> !azure).
func escapePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// moduleFile returns the path of file inside module@version in the module
// cache, or an error saying how to download it.
func moduleFile(module, version, file string) (string, error) {
	cache, err := modCache()
	if err != nil {
		return "", err
	}
	p := filepath.Join(cache, escapePath(module)+"@"+version, filepath.FromSlash(file))
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("API model %s of %s@%s is not in the module cache (make test downloads it: go mod download %s@%s): %w",
			file, module, version, module, version, err)
	}
	return p, nil
}

var depVersions sync.Map // module -> version

// depVersion is the version of a module this binary is built with: from
// its build information, or (test binaries carry none) from `go list -m`
// in the main module, where tests run.
func depVersion(module, fallback string) string {
	if v, ok := depVersions.Load(module); ok {
		return v.(string)
	}
	version := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == module {
				version = d.Version
				if d.Replace != nil {
					version = d.Replace.Version
				}
			}
		}
	}
	if version == "" {
		if out, err := exec.Command("go", "list", "-mod=mod", "-m", "-f", "{{.Version}}", module).Output(); err == nil {
			version = strings.TrimSpace(string(out))
		}
	}
	if version == "" {
		version = fallback
	}
	depVersions.Store(module, version)
	return version
}
