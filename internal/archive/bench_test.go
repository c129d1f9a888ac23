package archive

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dcehost/dcehost/internal/archive/archivetest"
)

// benchArchive writes a generated archive of about size bytes and an
// export of n messages after it.
func benchArchive(b *testing.B, size int64, n int) (dir, archive, export string, st archivetest.Stats) {
	b.Helper()
	dir = b.TempDir()
	archive = archivePath(dir)
	st, err := archivetest.WriteFile(archive, archivetest.Options{Seed: 1, Size: size})
	if err != nil {
		b.Fatal(err)
	}
	export = filepath.Join(dir, "export.json")
	if _, err := archivetest.WriteFile(export, archivetest.Options{Seed: 2, Messages: n, FirstID: archivetest.Next(st.MaxID)}); err != nil {
		b.Fatal(err)
	}
	return dir, archive, export, st
}

func BenchmarkScan(b *testing.B) {
	_, ap, _, st := benchArchive(b, 32<<20, 0)
	b.SetBytes(st.Bytes)
	for b.Loop() {
		f, err := os.Open(ap)
		if err != nil {
			b.Fatal(err)
		}
		sc := NewScanner(f)
		for sc.Next() {
		}
		f.Close()
		if sc.Err() != nil {
			b.Fatal(sc.Err())
		}
	}
}

// BenchmarkMerge1000 appends 1,000 messages to a 32 MB archive without an
// index (the archive is parsed once).
func BenchmarkMerge1000(b *testing.B) {
	_, ap, ep, st := benchArchive(b, 32<<20, 1000)
	orig, err := os.ReadFile(ap)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Bytes)
	for b.Loop() {
		b.StopTimer()
		if err := os.WriteFile(ap, orig, 0o644); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := Merge(ap, ep, MergeOptions{ChannelID: testChannel}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCursorIndexed(b *testing.B) {
	dir, ap, _, _ := benchArchive(b, 1<<20, 0)
	meta := filepath.Join(dir, ".dce-meta")
	if _, err := Cursor(ap, meta); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Cursor(ap, meta); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMerge1000Indexed appends 1,000 messages to a 32 MB archive whose
// index is current (the scrape's case): the archive is copied, not parsed.
func BenchmarkMerge1000Indexed(b *testing.B) {
	dir, ap, ep, st := benchArchive(b, 32<<20, 1000)
	orig, err := os.ReadFile(ap)
	if err != nil {
		b.Fatal(err)
	}
	meta := filepath.Join(dir, ".dce-meta")
	b.SetBytes(st.Bytes)
	for b.Loop() {
		b.StopTimer()
		if err := os.WriteFile(ap, orig, 0o644); err != nil {
			b.Fatal(err)
		}
		if _, err := Cursor(ap, meta); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := Merge(ap, ep, MergeOptions{ChannelID: testChannel, MetaDir: meta}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNoopIndexed is the per-channel cost of a run with nothing new.
func BenchmarkNoopIndexed(b *testing.B) {
	dir, ap, _, _ := benchArchive(b, 1<<20, 0)
	meta := filepath.Join(dir, ".dce-meta")
	empty := filepath.Join(dir, "empty.json")
	if _, err := archivetest.WriteFile(empty, archivetest.Options{Seed: 3}); err != nil {
		b.Fatal(err)
	}
	if _, err := Cursor(ap, meta); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if res, err := Merge(ap, empty, MergeOptions{ChannelID: testChannel, MetaDir: meta}); err != nil || res.Action != Unchanged {
			b.Fatal(res, err)
		}
	}
}
