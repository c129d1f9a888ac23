package archive

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/dcehost/dcehost/internal/archive/archivetest"
)

func TestCursor(t *testing.T) {
	tests := []struct {
		name string
		doc  []byte
		want uint64
	}{
		{"mixed-length ids", gen(1, []uint64{999999999999999999, 1000000000000000000}), 1000000000000000000},
		{"mixed-length ids, longer first", gen(1, []uint64{1000000000000000000, 999999999999999999}), 1000000000000000000},
		{"unordered", gen(1, []uint64{base + 5<<22, base + 9<<22, base + 1<<22}), base + 9<<22},
		{"no messages", gen(1, nil), 0},
		{"CRLF, no messageCount", gen(1, []uint64{7, 70, 8}, func(o *archivetest.Options) { o.CRLF, o.NoMessageCount = true, true }), 70},
	}
	for _, tt := range tests {
		for _, withIndex := range []bool{false, true} {
			dir := t.TempDir()
			ap := writeFile(t, archivePath(dir), tt.doc)
			meta := ""
			if withIndex {
				meta = filepath.Join(dir, ".dce-meta")
			}
			for round := range 2 { // the second round reads the index
				got, err := Cursor(ap, meta)
				if err != nil || got != tt.want {
					t.Errorf("%s (index %v, round %d): %d, %v; want %d", tt.name, withIndex, round, got, err, tt.want)
				}
			}
		}
	}
}

func TestCursorMissingAndInvalid(t *testing.T) {
	dir := t.TempDir()
	if c, err := Cursor(archivePath(dir), ""); c != 0 || err != nil {
		t.Errorf("missing archive: %d, %v", c, err)
	}
	ap := writeFile(t, archivePath(dir), gen(1, ids(base, 3))[:500])
	var ia *InvalidArchiveError
	if _, err := Cursor(ap, filepath.Join(dir, ".dce-meta")); !errors.As(err, &ia) || ia.Path != ap {
		t.Errorf("cut-off archive: %v", err)
	}
}

// The index is read instead of the archive while the archive is unchanged,
// and ignored as soon as it changes.
func TestCursorIndex(t *testing.T) {
	dir := t.TempDir()
	meta := filepath.Join(dir, ".dce-meta")
	a := ids(base, 4)
	ap := writeFile(t, archivePath(dir), gen(1, a))
	if c, err := Cursor(ap, meta); err != nil || c != a[3] {
		t.Fatalf("first cursor %d, %v", c, err)
	}
	ixPath := filepath.Join(meta, "index", testChannel+".json")
	var ix indexFile
	if err := json.Unmarshal(readFile(t, ixPath), &ix); err != nil {
		t.Fatal(err)
	}
	if ix.MaxID != strconv.FormatUint(a[3], 10) || ix.Count != 4 || ix.ChannelID != testChannel {
		t.Errorf("index %+v", ix)
	}
	// Tamper with the index: while the archive is unchanged its answer is
	// used, which shows the file was not read.
	ix.MaxID = "12345"
	b, _ := json.Marshal(ix)
	writeFile(t, ixPath, b)
	if c, err := Cursor(ap, meta); err != nil || c != 12345 {
		t.Fatalf("indexed cursor %d, %v; want the index's 12345", c, err)
	}
	// Any change of the archive (here only its mtime) makes it stale.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(ap, later, later); err != nil {
		t.Fatal(err)
	}
	if c, err := Cursor(ap, meta); err != nil || c != a[3] {
		t.Fatalf("cursor after a change %d, %v; want a rescan", c, err)
	}
	// An edit in place that keeps the size and puts the mtime back is
	// caught too (by the ctime).
	st, _ := os.Stat(ap)
	old := readFile(t, ap)
	last, lower := strconv.FormatUint(a[3], 10), strconv.FormatUint(a[3]-1, 10)
	edited := bytes.Replace(old, []byte(`"id": "`+last+`"`), []byte(`"id": "`+lower+`"`), 1)
	if len(edited) != len(old) || bytes.Equal(edited, old) {
		t.Fatal("test setup: the edit must keep the size")
	}
	f, err := os.OpenFile(ap, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(edited, 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Chtimes(ap, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	if c, err := Cursor(ap, meta); err != nil || c != a[3]-1 {
		t.Fatalf("cursor after an in-place edit %d, %v; want %d", c, err, a[3]-1)
	}
	// A garbage index is ignored.
	writeFile(t, ixPath, []byte("{not json"))
	if c, err := Cursor(ap, meta); err != nil || c == 12345 || c == 0 {
		t.Fatalf("cursor with a broken index %d, %v", c, err)
	}
}

// Merges that use the index give exactly the archives merges without it
// give, through a sequence of creates, appends, overlaps and no-ops.
func TestMergeWithIndexSameAsWithout(t *testing.T) {
	a := ids(base, 30)
	exports := [][]byte{
		gen(1, a[:10]),
		gen(2, a[10:15]),
		gen(3, nil),
		gen(4, []uint64{a[12], a[15]}), // overlap with an edit
		gen(5, a[16:20]),
		gen(6, a[16:18]), // identical overlap only
		gen(7, []uint64{a[25], a[20]}),
	}
	results := map[bool][][]byte{}
	for _, withIndex := range []bool{false, true} {
		dir := t.TempDir()
		ap := archivePath(dir)
		meta := ""
		if withIndex {
			meta = filepath.Join(dir, ".dce-meta")
		}
		for i, e := range exports {
			ep := writeFile(t, filepath.Join(dir, "e.json"), e)
			res, err := Merge(ap, ep, MergeOptions{ChannelID: testChannel, MetaDir: meta})
			if err != nil {
				t.Fatalf("index %v, export %d: %v", withIndex, i, err)
			}
			if c, err := Cursor(ap, meta); err != nil || c != res.MaxID {
				t.Fatalf("index %v, export %d: cursor %d (%v), merge said %d", withIndex, i, c, err, res.MaxID)
			}
			results[withIndex] = append(results[withIndex], readFile(t, ap))
		}
	}
	for i := range exports {
		if !bytes.Equal(results[false][i], results[true][i]) {
			t.Fatalf("after export %d the archives differ with and without the index", i)
		}
	}
	if rep, err := Verify(archivePath(t.TempDir())); err == nil {
		t.Errorf("verify of a missing file: %+v", rep)
	}
}

func TestIndexed(t *testing.T) {
	dir := t.TempDir()
	meta := filepath.Join(dir, ".dce-meta")
	a := ids(base, 3)
	ap := writeFile(t, archivePath(dir), gen(1, a))
	if _, _, ok := Indexed(ap, meta); ok {
		t.Fatal("Indexed answered before any index was written")
	}
	if _, err := Cursor(ap, meta); err != nil {
		t.Fatal(err)
	}
	if n, max, ok := Indexed(ap, meta); !ok || n != 3 || max != a[2] {
		t.Fatalf("Indexed = %d, %d, %v; want 3, %d, true", n, max, ok, a[2])
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(ap, later, later); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := Indexed(ap, meta); ok {
		t.Fatal("Indexed trusted the index of a changed archive")
	}
	if _, _, ok := Indexed(filepath.Join(dir, "missing [1].json"), meta); ok {
		t.Fatal("Indexed answered for a missing archive")
	}
}

func TestCursorForRefusesAnotherChannelsArchive(t *testing.T) {
	dir := t.TempDir()
	a := ids(base, 2)
	ap := writeFile(t, archivePath(dir), gen(1, a))
	if c, err := CursorFor(ap, "", testChannel); err != nil || c != a[1] {
		t.Fatalf("own channel: %d, %v", c, err)
	}
	var inv *InvalidArchiveError
	if _, err := CursorFor(ap, "", "999999999999999999"); !errors.As(err, &inv) {
		t.Fatalf("another channel's archive: %v, want *InvalidArchiveError", err)
	}
	if c, err := CursorFor(filepath.Join(dir, "none [1].json"), "", "1"); err != nil || c != 0 {
		t.Fatalf("missing archive: %d, %v", c, err)
	}
}
