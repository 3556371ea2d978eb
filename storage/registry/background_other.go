//go:build !linux

package registry

// toBackground is Linux-only (a per-thread nice value); elsewhere the
// digests run at the process's priority.
func toBackground() {}
