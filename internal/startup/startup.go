// Package startup keeps the garbage collector off while the provider
// binary starts: its package set-up (cloud SDK schemas, protobuf
// descriptors) allocates megabytes that stay live, and collecting while
// it grows cost half the start's instructions (callgrind, issue 14) for
// nothing freed. The provider's main imports it and calls Done when
// Terraform configures the provider; a memory limit bounds the heap
// meanwhile, and a timer turns collection back on should Done never be
// called. GOGC or GOMEMLIMIT in the environment leave the runtime's
// settings as the user made them.
//
// Its init runs early (26th of the provider's 379 package inits), before
// the heavy ones and before the heap reaches the runtime's first
// collection goal, because it imports only packages that initialize early
// (see setGCPercent; TestCollectorOffFirst in the repository root).
package startup

import (
	"math"
	"os"
	"sync"
	"time"
	_ "unsafe" // go:linkname
)

const (
	// memoryLimit is the soft heap limit while collection is off: the
	// collector still runs past it.
	memoryLimit = 256 << 20
	// window is the longest collection stays off.
	window = 5 * time.Second
)

var (
	active bool
	once   sync.Once
)

// setGCPercent and setMemoryLimit are the runtime's functions behind
// runtime/debug.SetGCPercent and SetMemoryLimit, which only convert their
// arguments. They are reached by name (the runtime exports them to
// runtime/debug with go:linkname) rather than through runtime/debug so
// that this package does not import it: Go initializes, of the packages
// whose imports are initialized, the one with the smallest import path
// first, and runtime/debug sorts after most of the provider's packages.
// Importing it put this init 189th of 379, after the AWS SDK's schemas and
// after the runtime's first collection, which cost 15 M of the 41 M
// instructions of the package set-up (docs/benchmarks/
// provider-startup-2026-12-03.txt). A Go release that renames them fails
// the build, not the start; TestCollectorOffFirst checks the order.
//
//go:linkname setGCPercent runtime/debug.setGCPercent
func setGCPercent(in int32) (out int32)

//go:linkname setMemoryLimit runtime/debug.setMemoryLimit
func setMemoryLimit(in int64) (out int64)

func init() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	setGCPercent(-1)
	setMemoryLimit(memoryLimit)
	active = true
	time.AfterFunc(window, Done)
}

// Done turns the garbage collector back on, with the runtime's defaults
// (GOGC=100, no memory limit). Calls after the first do nothing.
func Done() {
	once.Do(func() {
		if active {
			setGCPercent(100)
			setMemoryLimit(math.MaxInt64)
		}
	})
}
