//go:build !unix

package helperbin

import "syscall"

// procAttr leaves the helper's process attributes as they are:
// it ends when its stdin does.
func procAttr() *syscall.SysProcAttr { return nil }
