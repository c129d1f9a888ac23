package archive

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/dcehost/dcehost/internal/atomicfile"
)

// SalvagedPath is where Salvage writes the complete document made from a
// partial export: beside it, ".json" replaced by ".salvaged.json".
func SalvagedPath(partialPath string) string {
	return strings.TrimSuffix(partialPath, ".json") + ".salvaged.json"
}

// Salvage turns a partial export left by a killed DCE (cut off mid-message
// or right after a complete one, with no closing bracket and no
// messageCount) into a complete document at SalvagedPath(partialPath),
// keeping every complete message byte for byte, and returns its path and
// the number of messages kept. The partial file is left as it is.
//
// The partial is read with the JSON scanner, not by looking for
// indentation: everything up to the first point where the document stops
// being valid (its end, or damage such as a zero-filled tail) is used.
// When no complete message can be recovered (an empty file, a header only,
// a cut inside the first message) it returns "", 0 and no error, and
// writes nothing. A partial of another channel (when channelID is not "")
// gives an *InvalidExportError. A complete export is accepted too.
func Salvage(partialPath, channelID string) (completePath string, messages int, err error) {
	f, err := os.Open(partialPath)
	if err != nil {
		return "", 0, fmt.Errorf("salvage: %w", err)
	}
	defer f.Close()
	type span struct{ start, end int64 }
	var spans []span
	sc := NewScanner(f)
	for sc.Next() {
		m := sc.Message()
		spans = append(spans, span{m.Start, m.End})
	}
	if sc.rerr != nil && !errors.Is(sc.rerr, io.ErrUnexpectedEOF) {
		return "", 0, fmt.Errorf("salvage %s: %w", partialPath, sc.rerr)
	}
	h := sc.Header()
	if h.ChannelID != "" && channelID != "" && h.ChannelID != channelID {
		return "", 0, &InvalidExportError{Path: partialPath, Reason: fmt.Sprintf("it is of channel %s, not %s", h.ChannelID, channelID)}
	}
	if len(spans) == 0 {
		return "", 0, nil
	}
	if h.ChannelID == "" {
		return "", 0, &InvalidExportError{Path: partialPath, Reason: "messages but no channel.id before them"}
	}

	out := SalvagedPath(partialPath)
	tmp, err := os.CreateTemp(filepath.Dir(out), tempPrefix(out)+"*")
	if err != nil {
		return "", 0, fmt.Errorf("salvage %s: %w", partialPath, err)
	}
	fail := func(err error) (string, int, error) {
		discardTemp(tmp)
		return "", 0, fmt.Errorf("salvage %s: %w", partialPath, err)
	}
	w := bufio.NewWriterSize(newTempWriter(tmp), 1<<20)
	if err := writeHead(w, docHead{Guild: h.Guild, Channel: h.Channel, After: h.After, Before: h.Before, ExportedAt: h.ExportedAt, Extra: h.Extra}); err != nil {
		return fail(err)
	}
	var buf []byte
	for i, s := range spans {
		n := int(s.end - s.start)
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := f.ReadAt(buf, s.start); err != nil {
			return fail(fmt.Errorf("read message at offset %d: %w", s.start, err))
		}
		w.WriteString(msgSep(i))
		w.Write(buf)
	}
	if err := writeTail(w, len(spans)); err != nil {
		return fail(err)
	}
	if err := w.Flush(); err != nil {
		return fail(fmt.Errorf("write %s: %w", tmp.Name(), err))
	}
	if err := tmp.Sync(); err != nil {
		return fail(fmt.Errorf("fsync %s: %w", tmp.Name(), err))
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fail(fmt.Errorf("chmod %s: %w", tmp.Name(), err))
	}
	if err := tmp.Close(); err != nil {
		return fail(fmt.Errorf("close %s: %w", tmp.Name(), err))
	}
	if _, err := loadExport(tmp.Name(), h.ChannelID); err != nil {
		return fail(fmt.Errorf("re-validate salvaged document: %w", err))
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fail(err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(out)); err != nil {
		return "", 0, fmt.Errorf("salvage %s: %w", partialPath, err)
	}
	return out, len(spans), nil
}
