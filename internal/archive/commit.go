package archive

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/dcehost/dcehost/internal/atomicfile"
	"golang.org/x/sys/unix"
)

// failpoint, when set (tests), is called before and after every write step
// of a commit with names like "before-rename" and "after-rename"; an error
// it returns aborts the commit as if the step had failed.
var failpoint func(name string) error

// newTempWriter wraps the temp file a merge writes (tests inject a writer
// that fails with ENOSPC).
var newTempWriter = func(f *os.File) io.Writer { return f }

func fp(name string) error {
	if failpoint == nil {
		return nil
	}
	if err := failpoint(name); err != nil {
		return fmt.Errorf("failpoint %s: %w", name, err)
	}
	return nil
}

// step runs one write step between its two failpoints.
func step(name string, fn func() error) error {
	if err := fp("before-" + name); err != nil {
		return err
	}
	if err := fn(); err != nil {
		return err
	}
	return fp("after-" + name)
}

// commitReplace is the end of every merge that replaces an archive: fsync
// the complete temp file, give it the old archive's mode and owner, close
// it, re-validate it (revalidate reads the temp file back), rename it over
// the archive unless the archive changed meanwhile, fsync the directory,
// and refresh the cursor index. On any failure before the rename the temp
// file is removed and the archive is as it was.
func commitReplace(tmp *os.File, st os.FileInfo, archivePath, metaDir string, revalidate func() (archiveState, error)) error {
	fail := func(err error) error {
		// After a failure past the rename the new archive is in place;
		// removing the (now absent) temp name is harmless.
		discardTemp(tmp)
		return err
	}
	if err := step("sync", func() error {
		if err := tmp.Sync(); err != nil {
			return fmt.Errorf("fsync %s: %w", tmp.Name(), err)
		}
		return nil
	}); err != nil {
		return fail(err)
	}
	if err := step("chmod", func() error { return keepOwnership(tmp, st) }); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(fmt.Errorf("close %s: %w", tmp.Name(), err))
	}
	var after archiveState
	if err := step("revalidate", func() error {
		var err error
		after, err = revalidate()
		return err
	}); err != nil {
		return fail(err)
	}
	if err := step("rename", func() error {
		now, err := os.Stat(archivePath)
		if err != nil {
			return fmt.Errorf("stat %s before replacing it: %w", archivePath, err)
		}
		if !sameFile(st, now) {
			return fmt.Errorf("archive %s changed during the merge; not replaced", archivePath)
		}
		if err := os.Rename(tmp.Name(), archivePath); err != nil {
			return fmt.Errorf("replace archive: %w", err)
		}
		return nil
	}); err != nil {
		return fail(err)
	}
	if err := step("sync-dir", func() error { return atomicfile.SyncDir(filepath.Dir(archivePath)) }); err != nil {
		return err
	}
	writeIndexFor(archivePath, metaDir, after)
	return nil
}

// tempPrefix is the name prefix of dcehost's temp files beside an archive;
// they never end in "].json", so they are never taken for archives.
func tempPrefix(archivePath string) string {
	const tag = ".dcehost-tmp-"
	base := filepath.Base(archivePath)
	// Stay within the 255-byte file name limit with the random digits
	// CreateTemp adds; archive names may use all 255 bytes.
	if room := 255 - len(".") - len(tag) - 20; len(base) > room {
		id := ChannelIDFromName(archivePath)
		cut := room - len(id) - 1
		for cut > 0 && !utf8.RuneStart(base[cut]) {
			cut--
		}
		base = base[:cut] + "~" + id
	}
	return "." + base + tag
}

// createTemp creates a temp file in the archive's directory.
func createTemp(archivePath string) (*os.File, error) {
	var f *os.File
	err := step("create-temp", func() error {
		var err error
		f, err = os.CreateTemp(filepath.Dir(archivePath), tempPrefix(archivePath)+"*")
		if err != nil {
			return fmt.Errorf("create temp file beside %s: %w", archivePath, err)
		}
		return nil
	})
	if err != nil && f != nil {
		discardTemp(f)
		f = nil
	}
	return f, err
}

// discardTemp closes and removes a temp file, ignoring errors (the temp is
// not an archive; a leftover one is removed by CleanTemps).
func discardTemp(f *os.File) {
	_ = f.Close()
	_ = os.Remove(f.Name())
}

// CleanTemps removes temp files a crashed merge left beside archivePath.
// Call it only while holding the archive lock (a temp then belongs to a dead
// run). It returns the paths removed.
func CleanTemps(archivePath string) ([]string, error) {
	dir := filepath.Dir(archivePath)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("clean temp files in %s: %w", dir, err)
	}
	prefix := tempPrefix(archivePath)
	var removed []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), prefix) {
			p := filepath.Join(dir, e.Name())
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return removed, fmt.Errorf("remove stale temp file: %w", err)
			}
			removed = append(removed, p)
		}
	}
	return removed, nil
}

// keepOwnership gives the temp file the old archive's permission bits and,
// when running as root, its owner and group.
func keepOwnership(f *os.File, old os.FileInfo) error {
	if err := f.Chmod(old.Mode().Perm()); err != nil {
		return fmt.Errorf("chmod %s: %w", f.Name(), err)
	}
	if st, ok := old.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
		if err := f.Chown(int(st.Uid), int(st.Gid)); err != nil {
			return fmt.Errorf("chown %s: %w", f.Name(), err)
		}
	}
	return nil
}

// renameNoReplace renames oldPath to newPath, failing with os.ErrExist
// when newPath exists.
func renameNoReplace(oldPath, newPath string) error {
	err := unix.Renameat2(unix.AT_FDCWD, oldPath, unix.AT_FDCWD, newPath, unix.RENAME_NOREPLACE)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EEXIST):
		return &os.LinkError{Op: "rename", Old: oldPath, New: newPath, Err: os.ErrExist}
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.ENOTSUP):
		// The filesystem cannot refuse to replace: a hard link can.
		if lerr := os.Link(oldPath, newPath); lerr == nil {
			return os.Remove(oldPath)
		} else if errors.Is(lerr, os.ErrExist) {
			return lerr
		}
		if _, serr := os.Lstat(newPath); serr == nil {
			return &os.LinkError{Op: "rename", Old: oldPath, New: newPath, Err: os.ErrExist}
		}
		return os.Rename(oldPath, newPath)
	default:
		return &os.LinkError{Op: "rename", Old: oldPath, New: newPath, Err: err}
	}
}

// sameFile reports whether two stats describe the same, unmodified file.
func sameFile(a, b os.FileInfo) bool {
	if a.Size() != b.Size() || !a.ModTime().Equal(b.ModTime()) {
		return false
	}
	sa, oka := a.Sys().(*syscall.Stat_t)
	sb, okb := b.Sys().(*syscall.Stat_t)
	if oka && okb {
		return sa.Ino == sb.Ino && sa.Dev == sb.Dev && sa.Ctim == sb.Ctim
	}
	return os.SameFile(a, b)
}

// errCrossDevice: a rename across filesystems.
var errCrossDevice error = unix.EXDEV
