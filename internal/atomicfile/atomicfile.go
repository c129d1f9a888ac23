// Package atomicfile replaces small files (summaries, the channel map, run
// records, metrics, crontab backups, unit files, scrape.env) so that a
// crash leaves either the old or the new file: a temporary file in the same
// directory, fsync, rename over the old one, fsync of the directory.
// Archives have their own, stricter commit in internal/archive.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/renameio/v2"
)

// WriteFile replaces path with data. A new file gets perm; a replaced file
// keeps its mode.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return write(path, data, renameio.WithPermissions(perm), renameio.WithExistingPermissions())
}

// WriteFileMode replaces path with data and gives it exactly perm, whatever
// mode the replaced file had (a scrape.env holding a token ends up 0600,
// a metrics file stays readable by the collector).
func WriteFileMode(path string, data []byte, perm fs.FileMode) error {
	return write(path, data, renameio.WithStaticPermissions(perm))
}

func write(path string, data []byte, opts ...renameio.Option) error {
	pf, err := renameio.NewPendingFile(path, opts...)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer pf.Cleanup()
	if _, err := pf.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// CloseAtomicallyReplace fsyncs the file before the rename.
	if err := pf.CloseAtomicallyReplace(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir fsyncs a directory so that a rename in it is durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s for fsync: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// CleanTemps removes the temporary files an interrupted write of path left
// beside it ("." + name + random digits) and returns their paths. Call it
// only while no other process may be writing path (under the archive lock).
func CleanTemps(path string) ([]string, error) {
	dir, prefix := filepath.Dir(path), "."+filepath.Base(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("clean temp files of %s: %w", path, err)
	}
	var removed []string
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || rest == "" || strings.Trim(rest, "0123456789") != "" || !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("clean temp files of %s: %w", path, err)
		}
		removed = append(removed, p)
	}
	return removed, nil
}
