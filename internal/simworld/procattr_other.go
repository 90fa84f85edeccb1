//go:build !unix

package simworld

import "syscall"

// helperProcAttr leaves the helper's process attributes as they are:
// it ends when its stdin does.
func helperProcAttr() *syscall.SysProcAttr { return nil }
