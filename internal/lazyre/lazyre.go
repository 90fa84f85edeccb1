// Package lazyre holds regular expressions compiled on first use rather
// than at package set-up, so that validators a start of the provider does
// not run cost it nothing (issue 14: compiling the node bootstrap's
// validators cost about a million instructions at every start).
package lazyre

import (
	"regexp"
	"sync"
)

// New returns a function that compiles expr on its first call, as
// regexp.MustCompile does (it panics if expr is not a valid regular
// expression), and returns the same *regexp.Regexp on every call.
func New(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
