// Package lock is the archive-root run lock: one dcehost run at a time may
// write under an archive root. The lock is a non-blocking flock(2) on
// `<archive_root>/.dce-scrape.lock` (gofrs/flock), so the kernel releases it
// when the holding process dies, however it dies. Beside it a sidecar
// `<lockfile>.meta` (pid=, started=, cmd=) tells a second run who holds it.
package lock

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"

	"github.com/dcehost/dcehost/internal/atomicfile"
	"github.com/dcehost/dcehost/internal/iostreams"
)

// FileName is the lock file's name under the archive root.
const FileName = ".dce-scrape.lock"

// DefaultPath is the lock file of an archive root.
func DefaultPath(archiveRoot string) string {
	return filepath.Join(archiveRoot, FileName)
}

// Path returns override when it is set (DCE_SCRAPE_LOCK_FILE), else the
// default lock file of archiveRoot.
func Path(override, archiveRoot string) string {
	if override != "" {
		return override
	}
	return DefaultPath(archiveRoot)
}

// MetaPath is the holder sidecar of a lock file.
func MetaPath(lockPath string) string { return lockPath + ".meta" }

// Lock is a held archive lock.
type Lock struct {
	path string
	fl   *flock.Flock
}

// Acquire takes the lock at path without waiting. When another process
// holds it, the error is a *HeldError carrying the holder read from the
// sidecar. On success the sidecar is rewritten with h; h.Cmd must not
// contain secrets (it is written as given).
func Acquire(path string, h Holder) (*Lock, error) {
	fl := flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(0o644))
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("archive lock %s: %w", path, err)
	}
	if !ok {
		holder, _ := ReadHolder(MetaPath(path))
		return nil, &HeldError{Path: path, Holder: holder}
	}
	// Under the lock, a temp file of the holder sidecar belongs to a run
	// killed while writing it.
	_, _ = atomicfile.CleanTemps(MetaPath(path))
	if err := writeHolder(MetaPath(path), h); err != nil {
		_ = fl.Unlock()
		return nil, fmt.Errorf("archive lock %s: write holder: %w", path, err)
	}
	return &Lock{path: path, fl: fl}, nil
}

// Path is the lock file.
func (l *Lock) Path() string { return l.path }

// Release removes the holder sidecar and unlocks. The sidecar goes first,
// while the lock is still held, so it never describes a later holder. The
// lock file itself stays: removing it would let two runs lock different
// inodes.
func (l *Lock) Release() error {
	if l == nil || l.fl == nil {
		return nil
	}
	metaErr := os.Remove(MetaPath(l.path))
	if errors.Is(metaErr, os.ErrNotExist) {
		metaErr = nil
	}
	err := l.fl.Unlock()
	l.fl = nil
	if err != nil {
		return fmt.Errorf("archive lock %s: unlock: %w", l.path, err)
	}
	if metaErr != nil {
		return fmt.Errorf("archive lock %s: remove holder file: %w", l.path, metaErr)
	}
	return nil
}

func writeHolder(path string, h Holder) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "pid=%d\n", h.PID)
	fmt.Fprintf(&b, "started=%s\n", h.Started.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "cmd=%s\n", iostreams.OneLine(h.Cmd))
	return atomicfile.WriteFile(path, b.Bytes(), 0o644)
}

// ReadHolder parses a holder sidecar. Unknown keys are ignored; a missing
// or malformed field stays zero.
func ReadHolder(path string) (Holder, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Holder{}, fmt.Errorf("lock holder %s: %w", path, err)
	}
	var h Holder
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch key {
		case "pid":
			if n, err := strconv.Atoi(strings.TrimSpace(value)); err == nil && n > 0 {
				h.PID = n
			}
		case "started":
			if t, err := time.Parse(time.RFC3339, strings.TrimSpace(value)); err == nil {
				h.Started = t
			}
		case "cmd":
			h.Cmd = value
		}
	}
	return h, nil
}
