//go:build !linux

package registry

import "hash"

// A digestJob is one chunk for one digest.
type digestJob struct {
	d    hash.Hash
	data []byte
	done chan struct{}
}

// hashInBackground hashes in place: the priority of a thread is a Linux
// matter here.
func hashInBackground(j *digestJob) { j.d.Write(j.data) }
