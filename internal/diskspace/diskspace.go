// Package diskspace checks the free space under the archive root before a
// run, so a scrape never starts on a disk that is about to fill up.
package diskspace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// StatfsFunc reads file system statistics (unix.Statfs).
type StatfsFunc func(path string, st *unix.Statfs_t) error

// Check returns a *LowError when the file system holding path has less than
// needMB megabytes available to unprivileged users. needMB 0 disables the
// check. A path that does not exist yet is measured at its nearest existing
// ancestor.
func Check(path string, needMB int64) error {
	return CheckWith(unix.Statfs, path, needMB)
}

// CheckWith is Check with an injected statfs.
func CheckWith(statfs StatfsFunc, path string, needMB int64) error {
	if needMB <= 0 {
		return nil
	}
	dir, err := existingAncestor(path)
	if err != nil {
		return fmt.Errorf("free space under %s: %w", path, err)
	}
	var st unix.Statfs_t
	if err := statfs(dir, &st); err != nil {
		return fmt.Errorf("free space under %s: statfs %s: %w", path, dir, err)
	}
	free := freeMB(st)
	if free < uint64(needMB) {
		return &LowError{Path: path, FreeMB: free, NeedMB: uint64(needMB)}
	}
	return nil
}

// freeMB is the space available to unprivileged users, in MiB.
func freeMB(st unix.Statfs_t) uint64 {
	bsize := uint64(st.Bsize)
	if st.Frsize > 0 {
		bsize = uint64(st.Frsize)
	}
	return st.Bavail * bsize / (1 << 20)
}

func existingAncestor(path string) (string, error) {
	p, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	for {
		_, err := os.Stat(p)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(p)
		if parent == p {
			return "", err
		}
		p = parent
	}
}
