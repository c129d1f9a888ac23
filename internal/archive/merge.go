package archive

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"

	"github.com/dcehost/dcehost/internal/atomicfile"
)

// Action is what a merge did to the archive.
type Action string

const (
	Created   Action = "CREATED"
	Merged    Action = "MERGED"
	Unchanged Action = "UNCHANGED"
)

// MergeOptions configure Merge.
type MergeOptions struct {
	// ChannelID is the channel the export must belong to. When empty, the
	// channel named by the archive's "[<id>].json" file name or, failing
	// that, by the archive itself is required.
	ChannelID string
	// MetaDir is the target's .dce-meta directory; when set, the cursor
	// index there is used and refreshed. "" disables the index.
	MetaDir string
	// DryRun computes the result without writing anything.
	DryRun bool
	// KeepExport copies the export into place when there is no archive yet
	// instead of renaming it (the export file stays where it is).
	KeepExport bool
}

// MergeResult describes a merge.
type MergeResult struct {
	Action       Action
	BeforeCount  int    // messages in the archive before (0 when none)
	FetchedCount int    // messages in the export
	AfterCount   int    // messages in the archive after
	MaxID        uint64 // largest message id in the archive after (the next cursor)
	Appended     int    // messages added (ids the archive did not have)
	Replaced     int    // archived messages replaced by a different copy from the export
}

// exportDoc is a validated export: its header and its messages' ids and
// offsets, sorted by id. Message bytes stay in the file.
type exportDoc struct {
	path string
	hdr  *Header
	msgs []exportMsg
	// The messages span in file order (see archiveState).
	spanStart, spanEnd int64
}

type exportMsg struct {
	id         uint64
	start, end int64
	seen       bool
}

var archiveNameID = regexp.MustCompile(`\[([0-9]+)\]\.json$`)

// ChannelIDFromName returns the channel id of an archive file named
// "... [<id>].json", or "".
func ChannelIDFromName(path string) string {
	m := archiveNameID.FindStringSubmatch(filepath.Base(path))
	if m == nil {
		return ""
	}
	id, err := parseSnowflake([]byte(m[1]))
	if err != nil {
		return ""
	}
	return fmt.Sprint(id)
}

// loadExport scans and validates an export: a complete document with a
// correct messageCount, of the expected channel (when expected != ""),
// with snowflake ids and no id twice.
func loadExport(path, expected string) (*exportDoc, error) {
	bad := func(reason string, err error) error {
		return &InvalidExportError{Path: path, Reason: reason, Err: err}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open export: %w", err)
	}
	defer f.Close()
	sc := NewScanner(f)
	doc := &exportDoc{path: path}
	for sc.Next() {
		m := sc.Message()
		if len(doc.msgs) == 0 {
			doc.spanStart = m.Start
		}
		doc.spanEnd = m.End
		doc.msgs = append(doc.msgs, exportMsg{id: m.ID, start: m.Start, end: m.End})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, bad("incomplete document (cut off; a killed export?): "+err.Error(), err)
		}
		return nil, bad(err.Error(), err)
	}
	h := sc.Header()
	doc.hdr = h
	switch {
	case !h.HasMessages:
		return nil, bad(`no "messages" array`, nil)
	case !h.HasMessageCount:
		return nil, bad("no messageCount: the export did not finish", nil)
	case h.MessageCount != int64(len(doc.msgs)):
		return nil, bad(fmt.Sprintf("messageCount is %d but it holds %d messages", h.MessageCount, len(doc.msgs)), nil)
	case h.ChannelID == "":
		return nil, bad("no channel.id", nil)
	case expected != "" && h.ChannelID != expected:
		return nil, bad(fmt.Sprintf("it is of channel %s, not %s", h.ChannelID, expected), nil)
	}
	slices.SortFunc(doc.msgs, func(a, b exportMsg) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	for i := 1; i < len(doc.msgs); i++ {
		if doc.msgs[i].id == doc.msgs[i-1].id {
			return nil, bad(fmt.Sprintf("message id %d appears twice", doc.msgs[i].id), nil)
		}
	}
	return doc, nil
}

// find returns the index of the export message with id, or -1.
func (d *exportDoc) find(id uint64) int {
	n := len(d.msgs)
	if n == 0 || id < d.msgs[0].id || id > d.msgs[n-1].id {
		return -1
	}
	i := sort.Search(n, func(i int) bool { return d.msgs[i].id >= id })
	if i < n && d.msgs[i].id == id {
		return i
	}
	return -1
}

// Merge merges the export at exportPath into the archive at archivePath
// (see the package documentation and MergeResult). Existing messages are
// copied through byte for byte in their order; an archived message the
// export also has is replaced in place by the export's copy when the two
// differ; messages with ids the archive lacks are added in id order: after
// the archived messages when their ids are all larger (the incremental
// case), else each before the first archived message with a larger id, so
// an archive ordered by id stays ordered.
// guild, channel, exportedAt and dateRange.before come from the export,
// dateRange.after stays the archive's own; other root keys come from the
// export (those only the archive has are not kept). With no new or changed message
// the archive is not written at all (Unchanged). With no archive, the
// validated export is renamed into place (Created; copied with
// KeepExport).
//
// Errors: *InvalidExportError (export unusable; nothing written),
// *InvalidArchiveError (archive invalid or of another channel; untouched),
// *ShrinkError (result would lose an id; refused), or an I/O error (the
// archive is left as it was).
func Merge(archivePath, exportPath string, opts MergeOptions) (MergeResult, error) {
	expected := opts.ChannelID
	if expected == "" {
		expected = ChannelIDFromName(archivePath)
	}
	exp, err := loadExport(exportPath, expected)
	if err != nil {
		return MergeResult{}, err
	}
	res := MergeResult{FetchedCount: len(exp.msgs)}
	if n := len(exp.msgs); n > 0 {
		res.MaxID = exp.msgs[n-1].id
	}

	st, err := os.Stat(archivePath)
	if errors.Is(err, os.ErrNotExist) {
		res.Action = Created
		res.AfterCount = len(exp.msgs)
		res.Appended = len(exp.msgs)
		if opts.DryRun {
			return res, nil
		}
		if err := createArchive(archivePath, exp, opts.KeepExport); err != nil {
			return MergeResult{}, err
		}
		if opts.MetaDir != "" {
			a := archiveState{ChannelID: exp.hdr.ChannelID, Count: len(exp.msgs), MaxID: res.MaxID,
				After: exp.hdr.After, SpanStart: exp.spanStart, SpanEnd: exp.spanEnd}
			if f, err := os.Open(archivePath); err == nil {
				a.SpanCRC, err = crcRange(f, a.SpanStart, a.SpanEnd)
				f.Close()
				if err == nil {
					writeIndexFor(archivePath, opts.MetaDir, a)
				}
			}
		}
		return res, nil
	}
	if err != nil {
		return MergeResult{}, fmt.Errorf("merge into %s: %w", archivePath, err)
	}
	if !st.Mode().IsRegular() {
		return MergeResult{}, &InvalidArchiveError{Path: archivePath, Reason: "not a regular file"}
	}

	if len(exp.msgs) == 0 {
		// Nothing new: check the archive (through the index when it is
		// unchanged since dcehost last wrote it) and leave it as it is.
		info, err := archiveInfo(archivePath, opts.MetaDir, st)
		if err != nil {
			return MergeResult{}, err
		}
		if info.ChannelID != "" && info.ChannelID != exp.hdr.ChannelID {
			return MergeResult{}, otherChannel(archivePath, info.ChannelID, exp.hdr.ChannelID)
		}
		res.Action = Unchanged
		res.BeforeCount, res.AfterCount, res.MaxID = info.Count, info.Count, info.MaxID
		return res, nil
	}

	// The archive's largest id, from a current index or one scan. An
	// export whose ids are all above it is appended after the archived
	// messages as they are; any other needs the full pass, which replaces
	// the messages both have and puts new ones in id order.
	a, indexed := indexedState(archivePath, opts.MetaDir, st)
	if !indexed {
		if a, err = scanArchive(archivePath, st); err != nil {
			return MergeResult{}, err
		}
		if opts.MetaDir != "" && !opts.DryRun {
			_ = writeIndex(archivePath, opts.MetaDir, st, a)
		}
	}
	if a.ChannelID != "" && a.ChannelID != exp.hdr.ChannelID {
		return MergeResult{}, otherChannel(archivePath, a.ChannelID, exp.hdr.ChannelID)
	}
	if exp.msgs[0].id > a.MaxID {
		return appendInto(archivePath, st, a, exp, opts, res)
	}
	return mergeInto(archivePath, st, a, exp, opts, res)
}

func otherChannel(path, has, want string) error {
	return &InvalidArchiveError{Path: path, Reason: fmt.Sprintf("it belongs to channel %s, not %s", has, want)}
}

// mergeStats is what one merge pass found.
type mergeStats struct {
	before, appended, replaced, after int
	maxID                             uint64
	oldIDs                            []uint64
	channelID                         string
	dateAfter                         []byte
}

func mergeInto(archivePath string, st os.FileInfo, a archiveState, exp *exportDoc, opts MergeOptions, res MergeResult) (MergeResult, error) {
	ef, err := os.Open(exp.path)
	if err != nil {
		return MergeResult{}, fmt.Errorf("open export: %w", err)
	}
	defer ef.Close()
	for i := range exp.msgs {
		exp.msgs[i].seen = false
	}
	// Export messages below the archive's largest id may be new ones that
	// belong between archived messages: a first scan marks the ids the
	// archive has, so the merge pass can put the others in id order.
	interleave := exp.msgs[0].id < a.MaxID
	if interleave {
		if err := markArchived(archivePath, exp); err != nil {
			return MergeResult{}, err
		}
	}

	var tmp *os.File
	var out io.Writer = io.Discard
	if !opts.DryRun {
		if tmp, err = createTemp(archivePath); err != nil {
			return MergeResult{}, err
		}
		out = newTempWriter(tmp)
	}
	fail := func(err error) (MergeResult, error) {
		if tmp != nil {
			discardTemp(tmp)
		}
		return MergeResult{}, err
	}
	if err := fp("before-write"); err != nil {
		return fail(err)
	}
	hw := &hashWriter{w: out}
	bw := bufio.NewWriterSize(hw, 1<<20)
	stats, err := mergePass(bw, archivePath, ef, exp, st.Size(), interleave)
	if err != nil {
		return fail(err)
	}
	res.BeforeCount, res.AfterCount, res.MaxID = stats.before, stats.after, stats.maxID
	res.Appended, res.Replaced = stats.appended, stats.replaced
	if stats.appended == 0 && stats.replaced == 0 {
		res.Action = Unchanged
		if tmp != nil {
			discardTemp(tmp)
		}
		return res, nil
	}
	res.Action = Merged
	if opts.DryRun {
		return res, nil
	}
	if err := bw.Flush(); err != nil {
		return fail(fmt.Errorf("write %s: %w", tmp.Name(), err))
	}
	if err := fp("after-write"); err != nil {
		return fail(err)
	}
	if err := commitReplace(tmp, st, archivePath, opts.MetaDir, func() (archiveState, error) {
		return revalidate(tmp.Name(), archivePath, exp.hdr.ChannelID, stats, hw)
	}); err != nil {
		return MergeResult{}, err
	}
	return res, nil
}

// mergePass streams the archive through to w, replacing overlapping
// messages and adding the export's new ones. With interleave (the export's
// messages were marked by markArchived), each new message is written just
// before the first archived message with a larger id, so an ordered
// archive stays ordered; otherwise (all new ids are above the archive's)
// they follow the archived messages. Archived messages keep their order.
func mergePass(w *bufio.Writer, archivePath string, ef *os.File, exp *exportDoc, sizeHint int64, interleave bool) (mergeStats, error) {
	bad := func(reason string, err error) error {
		return &InvalidArchiveError{Path: archivePath, Reason: reason, Err: err}
	}
	af, err := os.Open(archivePath)
	if err != nil {
		return mergeStats{}, fmt.Errorf("open archive: %w", err)
	}
	defer af.Close()
	sc := NewScanner(af)
	has := sc.Next()
	ah := sc.Header()
	if sc.Err() != nil {
		return mergeStats{}, bad(scanReason(sc.Err()), sc.Err())
	}
	want := exp.hdr.ChannelID
	if ah.ChannelID != "" && ah.ChannelID != want {
		return mergeStats{}, otherChannel(archivePath, ah.ChannelID, want)
	}
	after := ah.After
	if ah.DateRange == nil && !sc.Complete() {
		// A tool that put dateRange after the messages: find it first.
		full, err := scanHeader(archivePath)
		if err != nil {
			return mergeStats{}, err
		}
		after = full.After
	}
	eh := exp.hdr
	if err := writeHead(w, docHead{Guild: eh.Guild, Channel: eh.Channel, After: after, Before: eh.Before, ExportedAt: eh.ExportedAt, Extra: eh.Extra}); err != nil {
		return mergeStats{}, fmt.Errorf("write merged header: %w", err)
	}

	st := mergeStats{oldIDs: make([]uint64, 0, sizeHint/1500+16)}
	var msgBuf, cmpA, cmpB bytes.Buffer
	readExport := func(m exportMsg) ([]byte, error) {
		raw := make([]byte, m.end-m.start)
		if _, err := ef.ReadAt(raw, m.start); err != nil {
			return nil, fmt.Errorf("read export %s at %d: %w", exp.path, m.start, err)
		}
		v, err := messageLayout(raw)
		if err != nil {
			return nil, &InvalidExportError{Path: exp.path, Reason: "message " + fmt.Sprint(m.id) + ": " + err.Error(), Err: err}
		}
		return v, nil
	}
	next := 0 // the export's messages before next are written or archived
	writeNew := func(upTo uint64, all bool) error {
		for ; next < len(exp.msgs) && (all || exp.msgs[next].id < upTo); next++ {
			m := exp.msgs[next]
			if m.seen {
				continue
			}
			body, err := readExport(m)
			if err != nil {
				return err
			}
			w.WriteString(msgSep(st.after))
			if _, err := w.Write(body); err != nil {
				return fmt.Errorf("write merged archive: %w", err)
			}
			st.after++
			st.appended++
			if m.id > st.maxID {
				st.maxID = m.id
			}
		}
		return nil
	}
	for ; has; has = sc.Next() {
		m := sc.Message()
		if interleave {
			if err := writeNew(m.ID, false); err != nil {
				return mergeStats{}, err
			}
		}
		st.oldIDs = append(st.oldIDs, m.ID)
		if m.ID > st.maxID {
			st.maxID = m.ID
		}
		body := m.Raw
		if i := exp.find(m.ID); i >= 0 {
			exp.msgs[i].seen = true
			repl, err := readExport(exp.msgs[i])
			if err != nil {
				return mergeStats{}, err
			}
			cmpA.Reset()
			cmpB.Reset()
			if json.Compact(&cmpA, m.Raw) == nil && json.Compact(&cmpB, repl) == nil && !bytes.Equal(cmpA.Bytes(), cmpB.Bytes()) {
				msgBuf.Reset()
				msgBuf.Write(repl)
				body = msgBuf.Bytes()
				st.replaced++
			}
		}
		w.WriteString(msgSep(st.after))
		if _, err := w.Write(body); err != nil {
			return mergeStats{}, fmt.Errorf("write merged archive: %w", err)
		}
		st.after++
	}
	if err := sc.Err(); err != nil {
		return mergeStats{}, bad(scanReason(err), err)
	}
	ah = sc.Header()
	if !ah.HasMessages {
		return mergeStats{}, bad(`no "messages" array`, nil)
	}
	if ah.ChannelID != "" && ah.ChannelID != want {
		return mergeStats{}, otherChannel(archivePath, ah.ChannelID, want)
	}
	st.channelID = want
	st.dateAfter = after
	st.before = st.after - st.appended
	if err := writeNew(0, true); err != nil {
		return mergeStats{}, err
	}
	if err := writeTail(w, st.after); err != nil {
		return mergeStats{}, fmt.Errorf("write merged archive: %w", err)
	}
	return st, nil
}

// markArchived marks the export's messages whose ids the archive has.
func markArchived(archivePath string, exp *exportDoc) error {
	f, err := os.Open(archivePath)
	if err != nil {
		return fmt.Errorf("open archive: %w", err)
	}
	defer f.Close()
	sc := NewScanner(f)
	for sc.Next() {
		if i := exp.find(sc.Message().ID); i >= 0 {
			exp.msgs[i].seen = true
		}
	}
	if err := sc.Err(); err != nil {
		return &InvalidArchiveError{Path: archivePath, Reason: scanReason(err), Err: err}
	}
	return nil
}

// scanReason words a scanner error for an archive.
func scanReason(err error) string {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "incomplete document: " + err.Error()
	}
	return err.Error()
}

// scanHeader reads a whole archive for its header values.
func scanHeader(path string) (*Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open archive: %w", err)
	}
	defer f.Close()
	sc := NewScanner(f)
	for sc.Next() {
	}
	if err := sc.Err(); err != nil {
		return nil, &InvalidArchiveError{Path: path, Reason: scanReason(err), Err: err}
	}
	return sc.Header(), nil
}

// revalidate scans the written temp file: a complete document of the
// channel, messageCount right, and every id the archive had still there.
func revalidate(tmpPath, archivePath, channelID string, st mergeStats, written *hashWriter) (archiveState, error) {
	var a archiveState
	f, err := os.Open(tmpPath)
	if err != nil {
		return a, fmt.Errorf("re-validate %s: %w", tmpPath, err)
	}
	defer f.Close()
	hr := &hashReader{r: f}
	old := st.oldIDs
	slices.Sort(old)
	old = slices.Compact(old)
	found := make([]uint64, (len(old)+63)/64)
	sc := NewScanner(hr)
	hint := 0
	for sc.Next() {
		m := sc.Message()
		if a.Count == 0 {
			a.SpanStart = m.Start
		}
		a.SpanEnd = m.End
		a.Count++
		a.MaxID = max(a.MaxID, m.ID)
		id := m.ID
		i := hint
		if i >= len(old) || old[i] != id {
			j, ok := slices.BinarySearch(old, id)
			if !ok {
				continue
			}
			i = j
		}
		found[i/64] |= 1 << (i % 64)
		hint = i + 1
	}
	if err := sc.Err(); err != nil {
		return a, fmt.Errorf("re-validate merged file for %s: %w", archivePath, err)
	}
	if hr.n != written.n || hr.crc != written.crc {
		return a, fmt.Errorf("re-validate merged file for %s: the file differs from what was written (%d bytes, CRC-32C %08x; wrote %d bytes, %08x)", archivePath, hr.n, hr.crc, written.n, written.crc)
	}
	h := sc.Header()
	if !h.HasMessageCount || h.MessageCount != int64(sc.Count()) || sc.Count() != st.after {
		return a, fmt.Errorf("re-validate merged file for %s: messageCount %d, %d messages, %d expected", archivePath, h.MessageCount, sc.Count(), st.after)
	}
	if h.ChannelID != channelID {
		return a, fmt.Errorf("re-validate merged file for %s: channel %q, want %s", archivePath, h.ChannelID, channelID)
	}
	var missing []uint64
	n := 0
	for i, id := range old {
		if found[i/64]&(1<<(i%64)) == 0 {
			n++
			if len(missing) < 5 {
				missing = append(missing, id)
			}
		}
	}
	if n > 0 {
		return a, &ShrinkError{Path: archivePath, Missing: n, Example: missing}
	}
	a.ChannelID, a.After = h.ChannelID, h.After
	if a.SpanCRC, err = crcRange(f, a.SpanStart, a.SpanEnd); err != nil {
		return a, err
	}
	return a, nil
}

// createArchive puts a validated export into place as a new archive.
func createArchive(archivePath string, exp *exportDoc, keep bool) error {
	dir := filepath.Dir(archivePath)
	if !keep {
		err := step("sync", func() error {
			f, err := os.Open(exp.path)
			if err != nil {
				return fmt.Errorf("open export for fsync: %w", err)
			}
			defer f.Close()
			if err := f.Sync(); err != nil {
				return fmt.Errorf("fsync export %s: %w", exp.path, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		err = step("rename", func() error { return renameNoReplace(exp.path, archivePath) })
		if err == nil {
			if err := step("sync-dir", func() error { return atomicfile.SyncDir(dir) }); err != nil {
				return err
			}
			if src := filepath.Dir(exp.path); src != dir {
				_ = atomicfile.SyncDir(src)
			}
			return nil
		}
		var le *os.LinkError
		if !errors.As(err, &le) || !errors.Is(le.Err, errCrossDevice) {
			if errors.Is(err, os.ErrExist) {
				return fmt.Errorf("create archive %s: it appeared meanwhile; not replaced: %w", archivePath, err)
			}
			return fmt.Errorf("create archive %s: %w", archivePath, err)
		}
		// Another filesystem: copy instead.
	}
	return copyIntoPlace(archivePath, exp)
}

// copyIntoPlace copies a validated export to a temp file beside the
// archive, fsyncs, re-validates and renames it into place.
func copyIntoPlace(archivePath string, exp *exportDoc) error {
	src, err := os.Open(exp.path)
	if err != nil {
		return fmt.Errorf("open export: %w", err)
	}
	defer src.Close()
	tmp, err := createTemp(archivePath)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		discardTemp(tmp)
		return err
	}
	hw := &hashWriter{w: newTempWriter(tmp)}
	if err := step("write", func() error {
		if _, err := io.Copy(hw, src); err != nil {
			return fmt.Errorf("copy export to %s: %w", tmp.Name(), err)
		}
		return nil
	}); err != nil {
		return fail(err)
	}
	if err := step("sync", func() error { return tmp.Sync() }); err != nil {
		return fail(fmt.Errorf("fsync %s: %w", tmp.Name(), err))
	}
	if err := step("chmod", func() error { return tmp.Chmod(0o644) }); err != nil {
		return fail(fmt.Errorf("chmod %s: %w", tmp.Name(), err))
	}
	if err := tmp.Close(); err != nil {
		return fail(fmt.Errorf("close %s: %w", tmp.Name(), err))
	}
	if err := step("revalidate", func() error {
		_, err := revalidate(tmp.Name(), archivePath, exp.hdr.ChannelID, mergeStats{after: len(exp.msgs)}, hw)
		return err
	}); err != nil {
		return fail(err)
	}
	if err := step("rename", func() error { return renameNoReplace(tmp.Name(), archivePath) }); err != nil {
		return fail(fmt.Errorf("create archive %s: %w", archivePath, err))
	}
	return step("sync-dir", func() error { return atomicfile.SyncDir(filepath.Dir(archivePath)) })
}

// hashWriter passes writes on and keeps the CRC-32C and length of what
// was written, for the re-validation to compare the file with.
type hashWriter struct {
	w   io.Writer
	crc uint32
	n   int64
}

func (h *hashWriter) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	h.crc = crc32.Update(h.crc, castagnoli, p[:n])
	h.n += int64(n)
	return n, err
}

// hashReader keeps the CRC-32C and length of what was read through it.
type hashReader struct {
	r   io.Reader
	crc uint32
	n   int64
}

func (h *hashReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.crc = crc32.Update(h.crc, castagnoli, p[:n])
	h.n += int64(n)
	return n, err
}
