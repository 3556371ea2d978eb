package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cpu is the CPU time (user+system, seconds) used so far by the processes
// that share this machine during a case. On a small machine a transfer is
// bounded by their sum, so the split shows what each side costs.
type cpu struct{ minio, gateway, postgres, client, idle float64 }

func cpuNow() cpu {
	c := cpu{idle: idleNow()}
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
		switch name := s[i+1 : j]; {
		case p == self:
			c.client += sec
		case name == "minio":
			c.minio += sec
		case name == "gateway":
			c.gateway += sec
		case name == "postgres":
			c.postgres += sec
		}
	}
	return c
}

func (c cpu) since(b cpu) cpu {
	return cpu{c.minio - b.minio, c.gateway - b.gateway, c.postgres - b.postgres, c.client - b.client, c.idle - b.idle}
}

func (c cpu) String() string {
	return fmt.Sprintf("cpu s: minio %.2f gateway %.2f postgres %.2f client %.2f idle %.2f", c.minio, c.gateway, c.postgres, c.client, c.idle)
}

// idleNow is the seconds all CPUs of the machine have spent idle (or
// waiting for I/O) so far: what a run leaves of the cores, whoever the
// busy time went to, the kernel's own threads included.
func idleNow() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait ...
	if len(f) < 6 || f[0] != "cpu" {
		return 0
	}
	idle, _ := strconv.ParseFloat(f[4], 64)
	iowait, _ := strconv.ParseFloat(f[5], 64)
	return (idle + iowait) / 100
}
