package registry

import (
	"runtime"
	"sync"
	"syscall"
)

// The background digest workers: goroutines locked to threads of the
// lowest scheduling priority (nice 19) for the life of the process, one
// fewer than GOMAXPROCS, started at the first large upload. A worker that
// the kernel keeps waiting holds its P (Go's right to run code) all the
// while, so at least one P stays with the rest of the gateway; with a
// single P there are none, and digests are computed in place. One worker
// hashes at 1.5 GB/s here, several times what an upload brings in. They
// never end: an unprivileged thread cannot take its priority back, and a
// thread that ended would take with it any child process started from it
// with a parent-death signal (Linux sends it when the creating thread
// ends, not the process), which is how an earlier version, whose threads
// ended with their upload, killed the test suite's MinIO.
var workers struct {
	once sync.Once
	jobs chan *digestJob
}

// hashInBackground writes data to d on a background worker and returns
// when it is done, so each digest still sees its chunks in order.
func hashInBackground(j *digestJob) {
	workers.once.Do(func() {
		n := runtime.GOMAXPROCS(0) - 1
		if n < 1 {
			return
		}
		workers.jobs = make(chan *digestJob)
		for range n {
			go backgroundWorker()
		}
	})
	if workers.jobs == nil {
		j.d.Write(j.data)
		return
	}
	workers.jobs <- j
	<-j.done
}

func backgroundWorker() {
	runtime.LockOSThread() // for good: see workers
	// The main thread is left at the process's priority: the gateway
	// keeps it to its main goroutine, so no worker lands there.
	if tid := syscall.Gettid(); tid != syscall.Getpid() {
		_ = syscall.Setpriority(syscall.PRIO_PROCESS, tid, 19)
	}
	for j := range workers.jobs {
		j.d.Write(j.data)
		j.done <- struct{}{}
	}
}
