package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// LockFile marks a run directory as being trained; it holds the trainer's
// process ID.
const LockFile = "LOCK"

// lockDir takes the run directory for this process, or returns an error
// naming the process that holds it. A lock left by a process that no
// longer exists is taken over. The returned function releases it.
func lockDir(dir string) (func(), error) {
	path := filepath.Join(dir, LockFile)
	for try := 0; try < 2; try++ {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			_, werr := fmt.Fprintf(f, "%d\n", os.Getpid())
			if cerr := f.Close(); werr == nil {
				werr = cerr
			}
			if werr != nil {
				os.Remove(path)
				return nil, fmt.Errorf("lock %s: %w", path, werr)
			}
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		b, _ := os.ReadFile(path)
		pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
		if perr == nil && alive(pid) {
			return nil, fmt.Errorf("%s is being trained by process %d (%s); wait for it or stop it", dir, pid, path)
		}
		os.Remove(path) // stale: its process is gone
	}
	return nil, fmt.Errorf("lock %s: taken again while taking over a stale lock", path)
}

// alive reports whether a process with the ID exists.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, os.ErrPermission)
}

// removeStaleTemps deletes the temporary files that an atomic write killed
// midway left in dir (".NAME.tmp-*").
func removeStaleTemps(dir string) {
	matches, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	for _, m := range matches {
		os.Remove(m)
	}
}

// checkUnlocked returns lockDir's error if a live process holds dir,
// without taking it (to refuse before loading a run another process is
// writing).
func checkUnlocked(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, LockFile))
	if err != nil {
		return nil
	}
	if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && alive(pid) && pid != os.Getpid() {
		return fmt.Errorf("%s is being trained by process %d (%s); wait for it or stop it", dir, pid, filepath.Join(dir, LockFile))
	}
	return nil
}
