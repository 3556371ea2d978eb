package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// FS stores objects as files under a root directory. Writes go to a
// temporary file in the same filesystem and are renamed into place after
// fsync, so a crash never leaves a half-written object under its key.
type FS struct {
	root string
}

// NewFS creates the root if needed.
func NewFS(root string) (*FS, error) {
	if root == "" {
		return nil, errors.New("blob: fs root is empty")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(abs, ".tmp"), 0o750); err != nil {
		return nil, fmt.Errorf("blob: fs root %s: %w", abs, err)
	}
	return &FS{root: abs}, nil
}

func (f *FS) Name() string { return "fs" }

func (f *FS) path(key string) (string, error) {
	clean := filepath.Clean("/" + key)
	if clean == "/" || strings.HasPrefix(clean, "/.tmp") || clean != "/"+key {
		return "", fmt.Errorf("blob: invalid key %q", key)
	}
	return filepath.Join(f.root, clean), nil
}

type fsWriter struct {
	f    *os.File
	dst  string
	done bool
}

func (f *FS) Writer(ctx context.Context, key string) (Writer, error) {
	dst, err := f.path(key)
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Join(f.root, ".tmp"), "upload-*")
	if err != nil {
		return nil, err
	}
	return &fsWriter{f: tmp, dst: dst}, nil
}

func (w *fsWriter) Write(p []byte) (int, error) { return w.f.Write(p) }

func (w *fsWriter) Commit(ctx context.Context) error {
	if w.done {
		return errors.New("blob: writer already closed")
	}
	w.done = true
	name := w.f.Name()
	if err := w.f.Sync(); err != nil {
		w.f.Close()
		os.Remove(name)
		return err
	}
	if err := w.f.Close(); err != nil {
		os.Remove(name)
		return err
	}
	dir := filepath.Dir(w.dst)
	// The nearest directory that exists already: MkdirAll makes the ones
	// below it, whose entries need syncing too.
	top := dir
	for {
		if _, err := os.Stat(top); !errors.Is(err, fs.ErrNotExist) {
			break
		}
		top = filepath.Dir(top)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		os.Remove(name)
		return err
	}
	if err := os.Rename(name, w.dst); err != nil {
		os.Remove(name)
		return err
	}
	// The rename is durable only once its directory is: without this a
	// power loss could undo it after the row naming the object committed.
	// A directory MkdirAll just made is durable once its parent is, up to
	// the one that existed; usually there is none, and one sync is all.
	for d := dir; ; d = filepath.Dir(d) {
		if err := syncDir(d); err != nil {
			return err
		}
		if d == top {
			return nil
		}
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (w *fsWriter) Cancel(ctx context.Context) error {
	if w.done {
		return nil
	}
	w.done = true
	w.f.Close()
	return os.Remove(w.f.Name())
}

type limitedFile struct {
	io.Reader
	f *os.File
}

func (l limitedFile) Close() error { return l.f.Close() }

// WriteTo lets io.Copy hand the file to sendfile when the destination is a
// TCP connection and the read is unbounded.
func (l limitedFile) WriteTo(w io.Writer) (int64, error) {
	return io.Copy(w, l.Reader)
}

func (f *FS) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	p, err := f.path(key)
	if err != nil {
		return nil, err
	}
	file, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	if offset > 0 {
		if _, err := file.Seek(offset, io.SeekStart); err != nil {
			file.Close()
			return nil, err
		}
	}
	if length < 0 {
		return file, nil
	}
	return limitedFile{Reader: io.LimitReader(file, length), f: file}, nil
}

func (f *FS) Stat(ctx context.Context, key string) (Info, error) {
	p, err := f.path(key)
	if err != nil {
		return Info{}, err
	}
	st, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Info{}, ErrNotFound
		}
		return Info{}, err
	}
	return Info{Key: key, Size: st.Size(), ModTime: st.ModTime()}, nil
}

func (f *FS) Delete(ctx context.Context, key string) error {
	p, err := f.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (f *FS) List(ctx context.Context, prefix string, fn func(Info) error) error {
	return filepath.WalkDir(f.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(f.root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == ".tmp" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(rel, prefix) {
			return nil
		}
		st, err := d.Info()
		if err != nil {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		return fn(Info{Key: rel, Size: st.Size(), ModTime: st.ModTime()})
	})
}

// SweepUnfinished removes the temporary files of uploads last written
// before cutoff: an upload in progress keeps touching its file.
func (f *FS) SweepUnfinished(ctx context.Context, cutoff time.Time, dryRun bool) (Unfinished, error) {
	var u Unfinished
	ents, err := os.ReadDir(filepath.Join(f.root, ".tmp"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return u, nil
		}
		return u, err
	}
	for _, e := range ents {
		if e.IsDir() || !strings.HasPrefix(e.Name(), "upload-") {
			continue
		}
		st, err := e.Info()
		if err != nil || !st.ModTime().Before(cutoff) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return u, err
		}
		if !dryRun {
			if err := os.Remove(filepath.Join(f.root, ".tmp", e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return u, err
			}
		}
		u.Uploads++
		u.Bytes += st.Size()
	}
	return u, nil
}

func (f *FS) SignedURL(ctx context.Context, key string, ttl time.Duration, opts SignOptions) (string, error) {
	return "", ErrUnsupported
}

func (f *FS) Ping(ctx context.Context) error {
	probe, err := os.CreateTemp(filepath.Join(f.root, ".tmp"), "ping-*")
	if err != nil {
		return fmt.Errorf("blob: fs root not writable: %w", err)
	}
	probe.Close()
	return os.Remove(probe.Name())
}
