//go:build unix

package helperbin

import "syscall"

// procAttr puts the helper in a process group of its own: a Ctrl-C
// at the terminal interrupts Terraform and the provider, which still
// needs the world to stop gracefully. The helper ends when its stdin
// does, when the provider closes it or exits however it does (the kernel
// closes a dead process's pipes, and Go opens every other file
// close-on-exec, so no other process holds it open).
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
