package main

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
)

// elfMachines are the ELF machines of the platforms.
var elfMachines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// checkDynamicDeps verifies, as ldd would but for any architecture, that
// the image holds everything the validator needs to start: the loader it
// requests (PT_INTERP) and every library in its DT_NEEDED entries and
// theirs, found in the loader's default directories.
func checkDynamicDeps(files []file, p Platform) error {
	byPath := map[string]file{}
	for _, f := range files {
		byPath[f.Path] = f
	}
	resolve := func(name string) (file, bool) {
		for range 8 {
			f, ok := byPath[name]
			if !ok || f.Link == "" {
				return f, ok
			}
			if strings.HasPrefix(f.Link, "/") {
				name = f.Link
			} else {
				name = path.Join(path.Dir(name), f.Link)
			}
		}
		return file{}, false
	}
	read := func(f file) (*elf.File, error) {
		data := f.Contents
		if f.Source != "" {
			var err error
			if data, err = os.ReadFile(f.Source); err != nil {
				return nil, err
			}
		}
		return elf.NewFile(bytes.NewReader(data))
	}
	bin, ok := byPath["/gpufleet-nodecheck"]
	if !ok {
		return fmt.Errorf("no /gpufleet-nodecheck in the image")
	}
	ef, err := read(bin)
	if err != nil {
		return fmt.Errorf("/gpufleet-nodecheck: %w", err)
	}
	if ef.Machine != elfMachines[p.GOARCH] {
		return fmt.Errorf("/gpufleet-nodecheck is built for %s, not %s", ef.Machine, p.GOARCH)
	}
	interp := interpreter(ef)
	if interp != p.Interpreter {
		return fmt.Errorf("/gpufleet-nodecheck requests the loader %q, expected %q", interp, p.Interpreter)
	}
	if _, ok := resolve(interp); !ok {
		return fmt.Errorf("the loader %s is not in the image", interp)
	}
	dirs := []string{"/lib/" + p.Triplet, "/usr/lib/" + p.Triplet, "/lib", "/usr/lib"}
	seen := map[string]bool{}
	var missing []string
	var walk func(what string, ef *elf.File) error
	walk = func(what string, ef *elf.File) error {
		needed, err := ef.ImportedLibraries()
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		for _, lib := range needed {
			if seen[lib] {
				continue
			}
			seen[lib] = true
			var found *file
			for _, d := range dirs {
				if f, ok := resolve(d + "/" + lib); ok {
					found = &f
					break
				}
			}
			if found == nil {
				missing = append(missing, lib+" (needed by "+what+")")
				continue
			}
			lf, err := read(*found)
			if err != nil {
				return fmt.Errorf("%s: %w", lib, err)
			}
			if lf.Machine != ef.Machine {
				return fmt.Errorf("%s is built for %s, not %s", lib, lf.Machine, ef.Machine)
			}
			if err := walk(lib, lf); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk("/gpufleet-nodecheck", ef); err != nil {
		return err
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("libraries missing from the image: %s", strings.Join(missing, ", "))
	}
	return nil
}

// interpreter returns an ELF file's PT_INTERP, or "" for static files.
func interpreter(ef *elf.File) string {
	for _, prog := range ef.Progs {
		if prog.Type == elf.PT_INTERP {
			b := make([]byte, prog.Filesz)
			if _, err := prog.ReadAt(b, 0); err != nil {
				return ""
			}
			return strings.TrimRight(string(b), "\x00")
		}
	}
	return ""
}
