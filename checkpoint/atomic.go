package checkpoint

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// AtomicFile is a temporary file, created in the directory of its final
// path, that replaces the final path only when Commit succeeds. Until then
// (and for ever, if Abort is called or Commit fails) any existing file at
// the final path is left untouched. Readers therefore see either the old
// complete file or the new complete file, never a partial one.
//
// An AtomicFile is not safe for concurrent use.
type AtomicFile struct {
	f    *os.File
	path string
	done bool
}

// CreateAtomic creates a temporary file next to path (same directory, so the
// final rename is atomic on POSIX file systems) and returns it. The caller
// must finish with exactly one of Commit or Abort; calling Abort after
// Commit is a harmless no-op, so `defer a.Abort()` is the intended idiom.
func CreateAtomic(path string) (*AtomicFile, error) {
	dir, base := filepath.Split(path)
	if base == "" {
		return nil, fmt.Errorf("atomic write %q: path names a directory", path)
	}
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("atomic write %s: %w", path, err)
	}
	return &AtomicFile{f: f, path: path}, nil
}

// Name returns the path of the temporary file.
func (a *AtomicFile) Name() string { return a.f.Name() }

// Path returns the final path the file is committed to.
func (a *AtomicFile) Path() string { return a.path }

// Write writes p to the temporary file.
func (a *AtomicFile) Write(p []byte) (int, error) {
	if a.done {
		return 0, fmt.Errorf("atomic write %s: write after commit or abort", a.path)
	}
	return a.f.Write(p)
}

// WriteAt writes p at offset off of the temporary file, e.g. to patch a
// header once the data is written.
func (a *AtomicFile) WriteAt(p []byte, off int64) (int, error) {
	if a.done {
		return 0, fmt.Errorf("atomic write %s: write after commit or abort", a.path)
	}
	return a.f.WriteAt(p, off)
}

// Commit flushes the temporary file to stable storage, closes it and
// renames it over the final path. The new file gets the permission bits of
// the file it replaces, or 0644 when there was none. On error the temporary
// file is removed and the old file is left untouched.
func (a *AtomicFile) Commit() (err error) {
	if a.done {
		return fmt.Errorf("atomic write %s: already committed or aborted", a.path)
	}
	defer func() {
		if err != nil {
			a.Abort()
			err = fmt.Errorf("atomic write %s: %w", a.path, err)
		}
	}()
	mode := fs.FileMode(0o644)
	if fi, statErr := os.Stat(a.path); statErr == nil && fi.Mode().IsRegular() {
		mode = fi.Mode().Perm()
	}
	if err := a.f.Chmod(mode); err != nil {
		return err
	}
	if err := a.f.Sync(); err != nil {
		return err
	}
	if err := a.f.Close(); err != nil {
		return err
	}
	if err := os.Rename(a.f.Name(), a.path); err != nil {
		return err
	}
	a.done = true
	syncDir(filepath.Dir(a.path))
	return nil
}

// Abort closes and removes the temporary file, leaving the final path
// untouched. It is a no-op after Commit or a previous Abort.
func (a *AtomicFile) Abort() error {
	if a.done {
		return nil
	}
	a.done = true
	a.f.Close() // may already be closed by a failed Commit
	if err := os.Remove(a.f.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("atomic write %s: remove temp file: %w", a.path, err)
	}
	return nil
}

// syncDir makes a rename in dir durable. It is best effort: some file
// systems and platforms do not support fsync on directories.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}

// WriteFileAtomic atomically replaces the file at path with what write
// writes. write receives a buffered writer on a temporary file in the same
// directory; after write returns nil the data is flushed, fsynced and
// renamed over path. If write returns an error (or panics), or any step
// fails, the temporary file is removed and the previous content of path, if
// any, is left intact. A nil write is an error, returned before the file
// system is touched.
func WriteFileAtomic(path string, write func(w io.Writer) error) error {
	if write == nil {
		return fmt.Errorf("atomic write %s: nil write function", path)
	}
	a, err := CreateAtomic(path)
	if err != nil {
		return err
	}
	defer a.Abort() // no-op once committed; also cleans up if write panics
	bw := bufio.NewWriterSize(a, 1<<20)
	if err := write(bw); err != nil {
		return fmt.Errorf("atomic write %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("atomic write %s: %w", path, err)
	}
	return a.Commit()
}

// WriteJSONAtomic atomically writes v as indented JSON (followed by a
// newline) to path. v is marshalled before the file system is touched, so a
// value that cannot be encoded leaves no trace.
func WriteJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("write json %s: %w", path, err)
	}
	b = append(b, '\n')
	return WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}
