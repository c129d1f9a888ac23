package archive

import (
	"bufio"
	"bytes"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// appendInto is the merge of an export none of whose ids the archive has
// (the usual incremental case): the new header, then the archive's whole
// messages span copied as it is (in the kernel where it can), then the new
// messages in id order and the tail. Its cost follows the archive's size
// only through that copy; the archive is not parsed again when the index
// is current.
func appendInto(archivePath string, st os.FileInfo, a archiveState, exp *exportDoc, opts MergeOptions, res MergeResult) (MergeResult, error) {
	res.Action = Merged
	res.BeforeCount = a.Count
	res.Appended = len(exp.msgs)
	res.AfterCount = a.Count + len(exp.msgs)
	res.MaxID = max(a.MaxID, exp.msgs[len(exp.msgs)-1].id)
	if opts.DryRun {
		return res, nil
	}
	af, err := os.Open(archivePath)
	if err != nil {
		return MergeResult{}, fmt.Errorf("open archive: %w", err)
	}
	defer af.Close()
	ef, err := os.Open(exp.path)
	if err != nil {
		return MergeResult{}, fmt.Errorf("open export: %w", err)
	}
	defer ef.Close()

	tmp, err := createTemp(archivePath)
	if err != nil {
		return MergeResult{}, err
	}
	fail := func(err error) (MergeResult, error) {
		discardTemp(tmp)
		return MergeResult{}, err
	}
	if err := fp("before-write"); err != nil {
		return fail(err)
	}
	lay, err := writeAppend(newTempWriter(tmp), af, ef, a, exp)
	if err != nil {
		return fail(fmt.Errorf("write %s: %w", tmp.Name(), err))
	}
	if err := fp("after-write"); err != nil {
		return fail(err)
	}
	if err := commitReplace(tmp, st, archivePath, opts.MetaDir, func() (archiveState, error) {
		return revalidateAppend(tmp.Name(), archivePath, a, exp, lay)
	}); err != nil {
		return MergeResult{}, err
	}
	return res, nil
}

// appendLayout is where writeAppend put things in the new file.
type appendLayout struct {
	headLen int64 // the header, up to and including `"messages": [`
	oldLen  int64 // the archive's span copied after it
	spanEnd int64 // end of the last new message
	size    int64
	written *hashWriter // everything but the copied span
}

// countingWriter counts what goes through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ReadFrom lets io.Copy reach the file's ReadFrom (copy_file_range).
func (c *countingWriter) ReadFrom(r io.Reader) (int64, error) {
	n, err := io.Copy(c.w, r)
	c.n += n
	return n, err
}

func writeAppend(out io.Writer, af, ef *os.File, a archiveState, exp *exportDoc) (appendLayout, error) {
	var lay appendLayout
	cw := &countingWriter{w: out}
	// What goes through user space (all but the span) is hashed, for the
	// re-validation.
	lay.written = &hashWriter{w: cw}
	bw := bufio.NewWriterSize(lay.written, 256<<10)
	eh := exp.hdr
	if err := writeHead(bw, docHead{Guild: eh.Guild, Channel: eh.Channel, After: a.After, Before: eh.Before, ExportedAt: eh.ExportedAt, Extra: eh.Extra}); err != nil {
		return lay, err
	}
	if err := bw.Flush(); err != nil {
		return lay, err
	}
	lay.headLen = cw.n
	n := 0
	if span := a.SpanEnd - a.SpanStart; span > 0 {
		if _, err := bw.WriteString("\n    "); err != nil {
			return lay, err
		}
		if err := bw.Flush(); err != nil {
			return lay, err
		}
		lay.headLen = cw.n
		if err := copySpan(cw, af, a.SpanStart, span); err != nil {
			return lay, fmt.Errorf("copy archived messages: %w", err)
		}
		lay.oldLen = span
		n = a.Count
	}
	for _, m := range exp.msgs {
		raw := make([]byte, m.end-m.start)
		if _, err := ef.ReadAt(raw, m.start); err != nil {
			return lay, fmt.Errorf("read export %s at %d: %w", exp.path, m.start, err)
		}
		v, err := messageLayout(raw)
		if err != nil {
			return lay, &InvalidExportError{Path: exp.path, Reason: fmt.Sprintf("message %d: %v", m.id, err), Err: err}
		}
		if n > 0 {
			bw.WriteString(",\n    ")
		} else {
			bw.WriteString("\n    ")
		}
		if _, err := bw.Write(v); err != nil {
			return lay, err
		}
		n++
	}
	if err := bw.Flush(); err != nil {
		return lay, err
	}
	lay.spanEnd = cw.n
	if err := writeTail(bw, n); err != nil {
		return lay, err
	}
	if err := bw.Flush(); err != nil {
		return lay, err
	}
	lay.size = cw.n
	return lay, nil
}

// copySpan copies n bytes of src from off to cw; when cw writes to a file
// the kernel copies (copy_file_range), so the span never passes through
// user space.
func copySpan(cw *countingWriter, src *os.File, off, n int64) error {
	if _, err := src.Seek(off, io.SeekStart); err != nil {
		return err
	}
	copied, err := cw.ReadFrom(io.LimitReader(src, n))
	if err != nil {
		return err
	}
	if copied != n {
		return fmt.Errorf("copied %d of %d bytes", copied, n)
	}
	return nil
}

// revalidateAppend re-reads the written file: the copied span must be
// byte for byte the archive's span as checked before (its CRC-32C), and
// everything else (header, new messages, tail) is scanned as a document
// of its own: complete, of the channel, the new ids exactly the export's,
// messageCount right. It returns the new file's state for the index.
func revalidateAppend(tmpPath, archivePath string, a archiveState, exp *exportDoc, lay appendLayout) (archiveState, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("re-validate merged file for %s: %s", archivePath, fmt.Sprintf(format, args...))
	}
	f, err := os.Open(tmpPath)
	if err != nil {
		return archiveState{}, fmt.Errorf("re-validate: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || st.Size() != lay.size {
		return archiveState{}, bad("size differs from what was written")
	}
	sr := &spanReader{r: f, skipFrom: lay.headLen, skipTo: lay.headLen + lay.oldLen, spanEnd: lay.spanEnd, dropComma: lay.oldLen > 0}
	sc := NewScanner(sr)
	var got []uint64
	for sc.Next() {
		got = append(got, sc.Message().ID)
	}
	if err := sc.Err(); err != nil {
		return archiveState{}, bad("%v", err)
	}
	if sr.err != nil {
		return archiveState{}, bad("%v", sr.err)
	}
	if sr.otherN != lay.written.n || sr.otherCRC != lay.written.crc {
		return archiveState{}, bad("the file differs from what was written")
	}
	if lay.oldLen > 0 && sr.oldCRC != a.SpanCRC {
		return archiveState{}, bad("the archived messages were not copied intact (CRC-32C differs)")
	}
	if len(got) != len(exp.msgs) {
		return archiveState{}, bad("%d new messages, want %d", len(got), len(exp.msgs))
	}
	for i, id := range got {
		if id != exp.msgs[i].id {
			return archiveState{}, bad("new message %d has id %d, want %d", i, id, exp.msgs[i].id)
		}
	}
	h := sc.Header()
	total := a.Count + len(got)
	if !h.HasMessageCount || h.MessageCount != int64(total) {
		return archiveState{}, bad("messageCount %d, want %d", h.MessageCount, total)
	}
	if h.ChannelID != exp.hdr.ChannelID {
		return archiveState{}, bad("channel %q, want %s", h.ChannelID, exp.hdr.ChannelID)
	}
	start := lay.headLen
	if lay.oldLen == 0 {
		start = lay.headLen + int64(len("\n    "))
	}
	return archiveState{
		ChannelID: h.ChannelID, Count: total, MaxID: max(a.MaxID, exp.msgs[len(exp.msgs)-1].id),
		After: h.After, SpanStart: start, SpanEnd: lay.spanEnd, SpanCRC: sr.spanCRC,
	}, nil
}

// spanReader reads a merged file for revalidateAppend: bytes in
// [skipFrom, skipTo) (the copied span) are hashed instead of passed on,
// then the comma that joins the span to the new messages is dropped, so
// the scanner sees a document of the new messages only. It also hashes
// the new file's whole messages span, up to spanEnd.
type spanReader struct {
	r                 io.Reader
	off               int64
	skipFrom, skipTo  int64
	spanEnd           int64
	dropComma         bool
	oldCRC, spanCRC   uint32
	otherCRC          uint32 // the bytes outside [skipFrom, skipTo)
	otherN            int64
	err               error
	buf               []byte
	pending           []byte
	spanStartObserved bool
}

func (s *spanReader) Read(p []byte) (int, error) {
	for len(s.pending) == 0 {
		if s.buf == nil {
			s.buf = make([]byte, 1<<20)
		}
		n, err := s.r.Read(s.buf)
		chunk := s.buf[:n]
		start := s.off
		s.off += int64(n)
		s.pending = s.filter(chunk, start)
		if err != nil && len(s.pending) == 0 {
			return 0, err
		}
		if n == 0 && err == nil {
			return 0, io.ErrNoProgress
		}
	}
	n := copy(p, s.pending)
	s.pending = s.pending[n:]
	return n, nil
}

// filter hashes and drops the skipped bytes of chunk (at file offset
// start) and returns what the scanner is to see.
func (s *spanReader) filter(chunk []byte, start int64) []byte {
	end := start + int64(len(chunk))
	// The new file's span: from the start of the copied span (or of the
	// first new message) to spanEnd.
	spanFrom := s.skipFrom
	if s.skipTo == s.skipFrom {
		spanFrom = s.skipFrom + int64(len("\n    "))
	}
	if lo, hi := max(start, spanFrom), min(end, s.spanEnd); lo < hi {
		s.spanCRC = crc32.Update(s.spanCRC, castagnoli, chunk[lo-start:hi-start])
	}
	if lo, hi := max(start, s.skipFrom), min(end, s.skipTo); lo < hi {
		s.oldCRC = crc32.Update(s.oldCRC, castagnoli, chunk[lo-start:hi-start])
	}
	if start < s.skipFrom {
		b := chunk[:min(end, s.skipFrom)-start]
		s.otherCRC = crc32.Update(s.otherCRC, castagnoli, b)
		s.otherN += int64(len(b))
	}
	if end > s.skipTo {
		b := chunk[max(s.skipTo, start)-start:]
		s.otherCRC = crc32.Update(s.otherCRC, castagnoli, b)
		s.otherN += int64(len(b))
	}
	var out []byte
	if start < s.skipFrom {
		out = append(out, chunk[:min(end, s.skipFrom)-start]...)
	}
	if end > s.skipTo {
		rest := chunk[max(s.skipTo, start)-start:]
		if s.dropComma && len(rest) > 0 {
			if rest[0] != ',' {
				s.err = fmt.Errorf("offset %d: no ',' after the archived messages", max(s.skipTo, start))
			}
			rest = rest[1:]
			s.dropComma = false
			// Keep the "\n    " that the scanner needs after `[`.
		}
		out = append(out, rest...)
	}
	if s.skipTo > s.skipFrom && start <= s.skipFrom && s.skipFrom < end && !bytes.HasPrefix(chunk[s.skipFrom-start:], []byte("{")) {
		s.err = fmt.Errorf("offset %d: the archived messages do not start with '{'", s.skipFrom)
	}
	return out
}
