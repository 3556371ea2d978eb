package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cpuSeconds returns the CPU time (user+system, seconds) used so far by
// the processes that share this machine during a case: MinIO, the gateway
// and this client. On a small machine a transfer is bounded by their sum,
// so the split shows what each side costs.
func cpuSeconds() (minio, gateway, client float64) {
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	self := "/proc/" + strconv.Itoa(os.Getpid()) + "/stat"
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if i < 0 || j < 0 || j+2 > len(s) {
			continue
		}
		f := strings.Fields(s[j+2:])
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		sec := (ut + st) / 100 // USER_HZ is 100 on Linux
		switch {
		case p == self:
			client += sec
		case s[i+1:j] == "minio":
			minio += sec
		case s[i+1:j] == "gateway":
			gateway += sec
		}
	}
	return
}
