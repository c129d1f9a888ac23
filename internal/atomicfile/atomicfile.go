// Package atomicfile replaces small files (summaries, the channel map, run
// records, metrics, crontab backups, unit files, scrape.env) so that a
// crash leaves either the old or the new file: a temporary file in the same
// directory, fsync, rename over the old one, fsync of the directory.
// Archives have their own, stricter commit in internal/archive.
package atomicfile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

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
