package registry

import (
	"runtime"
	"syscall"
)

// toBackground moves the calling goroutine to a thread of its own at the
// lowest scheduling priority (nice 19). The goroutine must not unlock
// the thread: when it ends, Go ends the thread with it, so no other
// goroutine ever runs at that priority. The main thread is the exception:
// Go parks it for good instead, so a goroutine that happens to run there
// stays at the process's priority. An error (a seccomp filter, say)
// leaves the priority as it was.
func toBackground() {
	runtime.LockOSThread()
	tid := syscall.Gettid()
	if tid == syscall.Getpid() {
		runtime.UnlockOSThread()
		return
	}
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, tid, 19)
}
