package archive

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// indexVersion is the version of the index file format.
const indexVersion = 1

// indexFile is what dcehost remembers about an archive it wrote, in
// <metaDir>/index/<channel id>.json. It is trusted only while the archive
// has the same path, size, mtime, ctime, inode and device.
type indexFile struct {
	Version   int    `json:"version"`
	Path      string `json:"path"`
	Size      int64  `json:"size"`
	MtimeNs   int64  `json:"mtime_ns"`
	CtimeNs   int64  `json:"ctime_ns"`
	Inode     uint64 `json:"inode"`
	Dev       uint64 `json:"dev"`
	ChannelID string `json:"channel_id"`
	MaxID     string `json:"max_id"`
	Count     int    `json:"count"`
}

// archiveMeta is what the cursor and a no-op merge need of an archive.
type archiveMeta struct {
	ChannelID string
	Count     int
	MaxID     uint64
}

// Cursor returns the largest message id in the archive (0 when it has no
// message or does not exist). On an archive unchanged since dcehost last
// wrote or scanned it, it reads the index in metaDir instead of the file;
// otherwise it scans the whole archive once (checking it) and refreshes the
// index. metaDir "" disables the index. An archive that is not a complete
// document gives an *InvalidArchiveError.
func Cursor(archivePath, metaDir string) (uint64, error) {
	st, err := os.Stat(archivePath)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cursor of %s: %w", archivePath, err)
	}
	info, err := archiveInfo(archivePath, metaDir, st)
	if err != nil {
		return 0, err
	}
	return info.MaxID, nil
}

// archiveInfo returns the archive's channel, count and largest id, from
// the index when it is current, else by a full scan.
func archiveInfo(path, metaDir string, st os.FileInfo) (archiveMeta, error) {
	if ix, ok := readIndex(path, metaDir, st); ok {
		max, err := strconv.ParseUint(ix.MaxID, 10, 64)
		if err == nil {
			return archiveMeta{ChannelID: ix.ChannelID, Count: ix.Count, MaxID: max}, nil
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return archiveMeta{}, fmt.Errorf("open archive: %w", err)
	}
	defer f.Close()
	sc := NewScanner(f)
	var m archiveMeta
	for sc.Next() {
		if id := sc.Message().ID; id > m.MaxID {
			m.MaxID = id
		}
	}
	if err := sc.Err(); err != nil {
		return archiveMeta{}, &InvalidArchiveError{Path: path, Reason: scanReason(err), Err: err}
	}
	if !sc.Header().HasMessages {
		return archiveMeta{}, &InvalidArchiveError{Path: path, Reason: `no "messages" array`}
	}
	m.Count = sc.Count()
	m.ChannelID = sc.Header().ChannelID
	if metaDir != "" {
		// Only when the file did not change while it was read.
		if now, err := f.Stat(); err == nil && sameFile(st, now) {
			_ = writeIndex(path, metaDir, st, m)
		}
	}
	return m, nil
}

// indexPath names the index file of an archive.
func indexPath(archivePath, metaDir string) string {
	key := ChannelIDFromName(archivePath)
	if key == "" {
		abs, err := filepath.Abs(archivePath)
		if err != nil {
			abs = archivePath
		}
		sum := sha256.Sum256([]byte(abs))
		key = "path-" + hex.EncodeToString(sum[:8])
	}
	return filepath.Join(metaDir, "index", key+".json")
}

func statKey(st os.FileInfo) (ino, dev uint64, ctime int64) {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return s.Ino, s.Dev, s.Ctim.Nano()
	}
	return 0, 0, 0
}

// readIndex returns the archive's index entry when it describes the file
// as it is now.
func readIndex(path, metaDir string, st os.FileInfo) (indexFile, bool) {
	if metaDir == "" {
		return indexFile{}, false
	}
	b, err := os.ReadFile(indexPath(path, metaDir))
	if err != nil {
		return indexFile{}, false
	}
	var ix indexFile
	if json.Unmarshal(b, &ix) != nil || ix.Version != indexVersion {
		return indexFile{}, false
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return indexFile{}, false
	}
	ino, dev, ctime := statKey(st)
	if ix.Path != abs || ix.Size != st.Size() || ix.MtimeNs != st.ModTime().UnixNano() ||
		ix.CtimeNs != ctime || ix.Inode != ino || ix.Dev != dev || ino == 0 {
		return indexFile{}, false
	}
	return ix, true
}

// writeIndex records the archive's state (st) in its index file, by
// temp file and rename. The index is only a shortcut: a missing or stale
// one costs a scan, never a wrong answer.
func writeIndex(path, metaDir string, st os.FileInfo, m archiveMeta) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	ino, dev, ctime := statKey(st)
	ix := indexFile{
		Version: indexVersion, Path: abs, Size: st.Size(), MtimeNs: st.ModTime().UnixNano(),
		CtimeNs: ctime, Inode: ino, Dev: dev, ChannelID: m.ChannelID,
		MaxID: strconv.FormatUint(m.MaxID, 10), Count: m.Count,
	}
	b, err := json.MarshalIndent(ix, "", "  ")
	if err != nil {
		return err
	}
	p := indexPath(path, metaDir)
	return step("index", func() error {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("create index directory: %w", err)
		}
		tmp, err := os.CreateTemp(filepath.Dir(p), ".index-*.tmp")
		if err != nil {
			return fmt.Errorf("write index: %w", err)
		}
		if _, err := tmp.Write(b); err != nil {
			discardTemp(tmp)
			return fmt.Errorf("write index: %w", err)
		}
		if err := tmp.Close(); err != nil {
			_ = os.Remove(tmp.Name())
			return fmt.Errorf("write index: %w", err)
		}
		if err := os.Rename(tmp.Name(), p); err != nil {
			_ = os.Remove(tmp.Name())
			return fmt.Errorf("write index: %w", err)
		}
		return nil
	})
}

// writeIndexFor refreshes the index after dcehost wrote or checked the
// archive; failures only cost a scan next time.
func writeIndexFor(path, metaDir, channelID string, maxID uint64, count int) {
	if metaDir == "" {
		return
	}
	st, err := os.Stat(path)
	if err != nil {
		return
	}
	_ = writeIndex(path, metaDir, st, archiveMeta{ChannelID: channelID, Count: count, MaxID: maxID})
}
