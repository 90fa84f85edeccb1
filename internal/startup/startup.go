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
// Its init does not run first: Go initializes, of the packages whose
// imports are initialized, the one with the smallest import path, and
// runtime/debug, which this package needs, sorts after most of the
// binary's (about half of the provider's package inits run before it,
// the AWS SDK's schemas among them, and the runtime's first collection,
// at its 4 MB heap goal, with them; GODEBUG=inittrace=1,gctrace=1 shows
// the order).
package startup

import (
	"math"
	"os"
	"runtime/debug"
	"sync"
	"time"
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

func init() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(memoryLimit)
	active = true
	time.AfterFunc(window, Done)
}

// Done turns the garbage collector back on, with the runtime's defaults
// (GOGC=100, no memory limit). Calls after the first do nothing.
func Done() {
	once.Do(func() {
		if active {
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(math.MaxInt64)
		}
	})
}
