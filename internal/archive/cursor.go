package archive

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// indexVersion is the version of the index file format.
const indexVersion = 1

// indexFile is what dcehost remembers about an archive it wrote or
// checked, in <metaDir>/index/<channel id>.json. It is trusted only while
// the archive has the same path, size, mtime, ctime, inode and device.
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
	// After is the raw dateRange.after ("" when absent).
	After string `json:"after"`
	// The messages span: from the first message's '{' to just after the
	// last message's '}', and its CRC-32C.
	SpanStart int64  `json:"span_start"`
	SpanEnd   int64  `json:"span_end"`
	SpanCRC   uint32 `json:"span_crc32c"`
}

// archiveState is what the cursor and the merge need of a valid archive.
type archiveState struct {
	ChannelID string
	Count     int
	MaxID     uint64
	After     []byte // raw dateRange.after; nil when absent
	// SpanStart..SpanEnd holds every message and only the separators
	// between them (SpanStart == SpanEnd when there is none).
	SpanStart, SpanEnd int64
	SpanCRC            uint32
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Cursor returns the largest message id in the archive (0 when it has no
// message or does not exist). On an archive unchanged since dcehost last
// wrote or scanned it, it reads the index in metaDir instead of the file;
// otherwise it scans the whole archive once (checking it) and refreshes the
// index. metaDir "" disables the index. An archive that is not a complete
// document gives an *InvalidArchiveError.
func Cursor(archivePath, metaDir string) (uint64, error) {
	return CursorFor(archivePath, metaDir, "")
}

// CursorFor is Cursor for the archive of channelID ("" checks nothing):
// an archive that belongs to another channel is an *InvalidArchiveError,
// found before any export is downloaded for it. An archive without a
// channel id (an old tool's) is accepted, as Merge accepts it.
func CursorFor(archivePath, metaDir, channelID string) (uint64, error) {
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
	if channelID != "" && info.ChannelID != "" && info.ChannelID != channelID {
		return 0, otherChannel(archivePath, info.ChannelID, channelID)
	}
	return info.MaxID, nil
}

// Indexed returns the message count and largest id of the archive from
// its index in metaDir, when the index describes the file as it is now
// (ok false otherwise: the caller scans). It reads no archive bytes and
// writes nothing.
func Indexed(archivePath, metaDir string) (messages int, maxID uint64, ok bool) {
	st, err := os.Stat(archivePath)
	if err != nil {
		return 0, 0, false
	}
	a, ok := indexedState(archivePath, metaDir, st)
	return a.Count, a.MaxID, ok
}

// archiveInfo returns the archive's state, from the index when it is
// current, else by a full scan (which refreshes the index).
func archiveInfo(path, metaDir string, st os.FileInfo) (archiveState, error) {
	if a, ok := indexedState(path, metaDir, st); ok {
		return a, nil
	}
	a, err := scanArchive(path, st)
	if err != nil {
		return archiveState{}, err
	}
	if metaDir != "" {
		_ = writeIndex(path, metaDir, st, a)
	}
	return a, nil
}

// indexedState returns the state the index holds for the archive when the
// index describes the file as it is now.
func indexedState(path, metaDir string, st os.FileInfo) (archiveState, bool) {
	ix, ok := readIndex(path, metaDir, st)
	if !ok {
		return archiveState{}, false
	}
	max, err := strconv.ParseUint(ix.MaxID, 10, 64)
	if err != nil || ix.SpanStart > ix.SpanEnd || ix.SpanEnd > st.Size() {
		return archiveState{}, false
	}
	a := archiveState{ChannelID: ix.ChannelID, Count: ix.Count, MaxID: max,
		SpanStart: ix.SpanStart, SpanEnd: ix.SpanEnd, SpanCRC: ix.SpanCRC}
	if ix.After != "" {
		a.After = []byte(ix.After)
	}
	return a, true
}

// scanArchive reads a whole archive, checking it, and returns its state.
// With exp, it also reports whether the archive holds any of the export's
// ids. The file must still match st afterwards.
func scanArchive(path string, st os.FileInfo) (archiveState, error) {
	f, err := os.Open(path)
	if err != nil {
		return archiveState{}, fmt.Errorf("open archive: %w", err)
	}
	defer f.Close()
	sc := NewScanner(f)
	var a archiveState
	for sc.Next() {
		m := sc.Message()
		if a.Count == 0 {
			a.SpanStart = m.Start
		}
		a.SpanEnd = m.End
		a.Count++
		if m.ID > a.MaxID {
			a.MaxID = m.ID
		}
	}
	if err := sc.Err(); err != nil {
		return archiveState{}, &InvalidArchiveError{Path: path, Reason: scanReason(err), Err: err}
	}
	h := sc.Header()
	if !h.HasMessages {
		return archiveState{}, &InvalidArchiveError{Path: path, Reason: `no "messages" array`}
	}
	a.ChannelID, a.After = h.ChannelID, h.After
	if a.SpanCRC, err = crcRange(f, a.SpanStart, a.SpanEnd); err != nil {
		return archiveState{}, err
	}
	if now, err := f.Stat(); err != nil || !sameFile(st, now) {
		return archiveState{}, fmt.Errorf("archive %s changed while it was read", path)
	}
	return a, nil
}

// crcRange returns the CRC-32C of f's bytes [start, end).
func crcRange(f *os.File, start, end int64) (uint32, error) {
	buf := make([]byte, 1<<20)
	var crc uint32
	for off := start; off < end; {
		n := int(min(int64(len(buf)), end-off))
		if _, err := f.ReadAt(buf[:n], off); err != nil {
			return 0, fmt.Errorf("read %s at %d: %w", f.Name(), off, err)
		}
		crc = crc32.Update(crc, castagnoli, buf[:n])
		off += int64(n)
	}
	return crc, nil
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

// writeIndex records the archive's state (as of st) in its index file,
// by temp file and rename. The index is only a shortcut: a missing or stale
// one costs a scan, never a wrong answer.
func writeIndex(path, metaDir string, st os.FileInfo, a archiveState) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	ino, dev, ctime := statKey(st)
	ix := indexFile{
		Version: indexVersion, Path: abs, Size: st.Size(), MtimeNs: st.ModTime().UnixNano(),
		CtimeNs: ctime, Inode: ino, Dev: dev, ChannelID: a.ChannelID,
		MaxID: strconv.FormatUint(a.MaxID, 10), Count: a.Count, After: string(a.After),
		SpanStart: a.SpanStart, SpanEnd: a.SpanEnd, SpanCRC: a.SpanCRC,
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

// writeIndexFor refreshes the index after dcehost wrote the archive;
// failures only cost a scan next time.
func writeIndexFor(path, metaDir string, a archiveState) {
	if metaDir == "" {
		return
	}
	st, err := os.Stat(path)
	if err != nil {
		return
	}
	_ = writeIndex(path, metaDir, st, a)
}
