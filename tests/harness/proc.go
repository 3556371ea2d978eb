package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// child is one run of a server process whose output is appended to a log
// file. It is deliberately not tied to a context: services are started lazily
// by whichever test asks first, and must outlive that test's context.
type child struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has been reaped
	err  error         // Wait result, valid after done is closed
}

// startChild starts path with args, appending stdout and stderr to logPath.
//
// Pdeathsig makes the kernel SIGKILL the server when the test binary dies
// (crash, timeout panic, ^C), so no stray servers pile up between runs. When
// cred is set the process runs as that user; Go sets the death signal after
// switching credentials, so it survives the switch (runuser would sit in
// between and the signal would not reach the server itself).
func startChild(path string, args, env []string, cred *syscall.Credential, logPath string) (*child, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	// The child gets its own copy of the descriptor; ours is not needed.
	defer logf.Close()

	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stdin = nil
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Pdeathsig:  syscall.SIGKILL,
		Credential: cred,
		// A process group of its own keeps ^C in the terminal from reaching
		// the server before the harness had a chance to shut it down.
		Setpgid: true,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// exited reports whether the process has terminated.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends sig and waits up to grace for the process to exit, then
// SIGKILLs it. It returns once the process has been reaped.
func (c *child) stop(sig syscall.Signal, grace time.Duration) {
	if c.exited() {
		return
	}
	_ = c.cmd.Process.Signal(sig)
	if sig != syscall.SIGKILL {
		select {
		case <-c.done:
			return
		case <-time.After(grace):
		}
		_ = c.cmd.Process.Kill()
	}
	<-c.done
}

// runLogged runs a short-lived helper command (initdb) to completion with its
// output appended to logPath.
func runLogged(ctx context.Context, path string, args, env []string, cred *syscall.Credential, logPath string) error {
	c, err := startChild(path, args, env, cred, logPath)
	if err != nil {
		return err
	}
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		c.stop(syscall.SIGKILL, 0)
		return ctx.Err()
	}
}

// freePort asks the kernel for an unused loopback port. The port is released
// before the server binds it, so there is a small race with other processes;
// callers retry start-up with a new port when the bind fails.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// logTail returns the last few KiB of a log file, for start-up errors: the
// reason a server refused to start is almost always in its last lines.
func logTail(path string) string {
	const max = 4096
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	off := st.Size() - max
	if off < 0 {
		off = 0
	}
	b, err := io.ReadAll(io.NewSectionReader(f, off, max))
	if err != nil {
		return fmt.Sprintf("(reading log: %v)", err)
	}
	s := strings.TrimSpace(string(b))
	if off > 0 {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
		s = "...\n" + s
	}
	if s == "" {
		return "(log is empty)"
	}
	return s
}

// errWithLog decorates a start-up error with the tail of the server log.
func errWithLog(err error, what, logPath string) error {
	return fmt.Errorf("%s: %w\n--- %s (tail) ---\n%s\n---", what, err, logPath, logTail(logPath))
}

// waitReady polls check every interval until it succeeds, the process exits,
// ctx ends or timeout passes.
func waitReady(ctx context.Context, c *child, timeout time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		last = check(cctx)
		ccancel()
		if last == nil {
			return nil
		}
		select {
		case <-c.done:
			if c.err != nil {
				return fmt.Errorf("process exited during start-up: %w", c.err)
			}
			return errors.New("process exited during start-up")
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s: %w (last check: %v)", timeout, ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// looksLikePortClash reports whether a failed start-up was caused by the port
// having been taken between freePort and the server's bind.
func looksLikePortClash(logPath string) bool {
	t := strings.ToLower(logTail(logPath))
	return strings.Contains(t, "address already in use") || strings.Contains(t, "could not bind")
}

// cleanEnv returns the environment for a child with the given overrides, so
// that e.g. a developer's PGDATA or MINIO_* settings cannot leak into it.
func cleanEnv(overrides ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PG") || strings.HasPrefix(k, "MINIO_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, overrides...)
}
