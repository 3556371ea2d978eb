package registry

import (
	"hash"
	"runtime"
	"sync"
	"syscall"
)

// The background digest workers: goroutines locked to threads of the
// lowest scheduling priority (nice 19) for the life of the process, as
// many as GOMAXPROCS, started at the first large upload. They never end:
// an unprivileged thread cannot take its priority back, and a thread that
// ended would take with it any child process started from it with a
// parent-death signal (Linux sends it when the creating thread ends, not
// the process), which is how an earlier version, whose threads ended
// with their upload, killed the test suite's MinIO.
var workers struct {
	once sync.Once
	jobs chan *digestJob
}

// A digestJob is one chunk for one digest; done is the stream's own.
type digestJob struct {
	d    hash.Hash
	data []byte
	done chan struct{}
}

// hashInBackground writes data to d on a background worker and returns
// when it is done, so each digest still sees its chunks in order.
func hashInBackground(j *digestJob) {
	workers.once.Do(func() {
		workers.jobs = make(chan *digestJob)
		for range runtime.GOMAXPROCS(0) {
			go backgroundWorker()
		}
	})
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
