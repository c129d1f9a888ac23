package archive

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/dcehost/dcehost/internal/archive/archivetest"
)

// A commit scenario: an archive (nil: none) and an export, merged with
// these options.
type scenario struct {
	name    string
	archive []byte
	export  []byte
	indexed bool // the index is current before the merge
	keep    bool
}

func scenarios() []scenario {
	a := ids(base, 8)
	old := gen(1, a)
	return []scenario{
		{name: "append", archive: old, export: gen(2, ids(archivetest.Next(a[7]), 3))},
		{name: "append indexed", archive: old, export: gen(2, ids(archivetest.Next(a[7]), 3)), indexed: true},
		{name: "overlap", archive: old, export: gen(3, []uint64{a[2], archivetest.Next(a[7])})},
		{name: "create", export: gen(2, ids(base, 3))},
		{name: "create by copy", export: gen(2, ids(base, 3)), keep: true},
	}
}

// setup writes a scenario into a fresh directory.
func (sc scenario) setup(t *testing.T) (dir, ap, ep, meta string) {
	t.Helper()
	dir = t.TempDir()
	ap = archivePath(dir)
	meta = filepath.Join(dir, ".dce-meta")
	if sc.archive != nil {
		writeFile(t, ap, sc.archive)
		if sc.indexed {
			if _, err := Cursor(ap, meta); err != nil {
				t.Fatal(err)
			}
		}
	}
	ep = writeFile(t, filepath.Join(t.TempDir(), "export.json"), sc.export)
	return dir, ap, ep, meta
}

func (sc scenario) opts(meta string) MergeOptions {
	return MergeOptions{ChannelID: testChannel, MetaDir: meta, KeepExport: sc.keep}
}

// reference returns the archive an uninterrupted merge produces.
func (sc scenario) reference(t *testing.T) []byte {
	t.Helper()
	_, ap, ep, meta := sc.setup(t)
	if _, err := Merge(ap, ep, sc.opts(meta)); err != nil {
		t.Fatalf("%s: reference merge: %v", sc.name, err)
	}
	return readFile(t, ap)
}

// failpointNames records the failpoints a scenario passes.
func failpointNames(t *testing.T, sc scenario) []string {
	t.Helper()
	_, ap, ep, meta := sc.setup(t)
	var names []string
	failpoint = func(name string) error { names = append(names, name); return nil }
	defer func() { failpoint = nil }()
	if _, err := Merge(ap, ep, sc.opts(meta)); err != nil {
		t.Fatal(err)
	}
	return names
}

// checkState: the archive is the old one or the new one, valid, with every
// old id.
func checkState(t *testing.T, label string, sc scenario, ap string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(ap)
	switch {
	case sc.archive == nil && errors.Is(err, os.ErrNotExist):
		return // no archive yet: the old state
	case err != nil:
		t.Fatalf("%s: %v", label, err)
	case !bytes.Equal(got, want) && !bytes.Equal(got, sc.archive):
		t.Fatalf("%s: the archive is neither the old nor the new one", label)
	}
	if rep, err := Verify(ap); err != nil || !rep.OK() {
		t.Fatalf("%s: archive does not verify: %+v %v", label, rep, err)
	}
	if sc.archive != nil && !superset(oracle(t, got).ids(t), oracle(t, sc.archive).ids(t)) {
		t.Fatalf("%s: an archived id was lost", label)
	}
}

func TestFailpointsLeaveOldOrNew(t *testing.T) {
	for _, sc := range scenarios() {
		want := sc.reference(t)
		names := failpointNames(t, sc)
		if len(names) < 6 {
			t.Fatalf("%s: only failpoints %v", sc.name, names)
		}
		for _, point := range names {
			label := sc.name + " at " + point
			dir, ap, ep, meta := sc.setup(t)
			injected := errors.New("injected failure")
			failpoint = func(name string) error {
				if name == point {
					return injected
				}
				return nil
			}
			_, err := Merge(ap, ep, sc.opts(meta))
			failpoint = nil
			if !strings.HasSuffix(point, "-index") && !errors.Is(err, injected) {
				t.Fatalf("%s: err %v, want the injected failure", label, err)
			}
			checkState(t, label, sc, ap, want)
			if left := tempLeftovers(t, dir); len(left) > 0 {
				t.Fatalf("%s: temp files left: %v", label, left)
			}
			// A clean re-run converges to the uninterrupted result.
			if _, err := os.Stat(ep); err == nil {
				if _, err := Merge(ap, ep, sc.opts(meta)); err != nil {
					t.Fatalf("%s: re-run: %v", label, err)
				}
			}
			if got := readFile(t, ap); !bytes.Equal(got, want) {
				t.Fatalf("%s: re-run gives another archive", label)
			}
		}
	}
}

// TestCrashChild is the process TestCrashAtFailpoints kills: it merges
// and SIGKILLs itself at the failpoint named in the environment.
func TestCrashChild(t *testing.T) {
	point := os.Getenv("DCEHOST_TEST_CRASH_POINT")
	if point == "" {
		t.Skip("run by TestCrashAtFailpoints")
	}
	failpoint = func(name string) error {
		if name == point {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
		return nil
	}
	_, err := Merge(os.Getenv("DCEHOST_TEST_ARCHIVE"), os.Getenv("DCEHOST_TEST_EXPORT"), MergeOptions{
		ChannelID: testChannel, MetaDir: os.Getenv("DCEHOST_TEST_META"), KeepExport: os.Getenv("DCEHOST_TEST_KEEP") == "1",
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCrashAtFailpoints(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process per failpoint")
	}
	for _, sc := range scenarios() {
		want := sc.reference(t)
		for _, point := range failpointNames(t, sc) {
			label := sc.name + " killed at " + point
			dir, ap, ep, meta := sc.setup(t)
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
			keep := "0"
			if sc.keep {
				keep = "1"
			}
			cmd.Env = append(os.Environ(), "DCEHOST_TEST_CRASH_POINT="+point, "DCEHOST_TEST_ARCHIVE="+ap,
				"DCEHOST_TEST_EXPORT="+ep, "DCEHOST_TEST_META="+meta, "DCEHOST_TEST_KEEP="+keep)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("%s: child was not killed: %v\n%s", label, err, out)
			}
			checkState(t, label, sc, ap, want)
			if _, err := CleanTemps(ap); err != nil {
				t.Fatalf("%s: %v", label, err)
			}
			if left := tempLeftovers(t, dir); len(left) > 0 {
				t.Fatalf("%s: CleanTemps left %v", label, left)
			}
			if _, err := os.Stat(ep); err == nil {
				if _, err := Merge(ap, ep, sc.opts(meta)); err != nil {
					t.Fatalf("%s: re-run: %v", label, err)
				}
			}
			if got := readFile(t, ap); !bytes.Equal(got, want) {
				t.Fatalf("%s: re-run gives another archive", label)
			}
		}
	}
}

// enospcWriter fails like a full disk after limit bytes.
type enospcWriter struct {
	f     *os.File
	limit int64
	n     int64
}

func (w *enospcWriter) Write(p []byte) (int, error) {
	room := w.limit - w.n
	if int64(len(p)) <= room {
		n, err := w.f.Write(p)
		w.n += int64(n)
		return n, err
	}
	n, _ := w.f.Write(p[:max(room, 0)])
	w.n += int64(n)
	return n, &os.PathError{Op: "write", Path: w.f.Name(), Err: syscall.ENOSPC}
}

func TestFullDiskInjected(t *testing.T) {
	for _, sc := range scenarios() {
		if sc.archive == nil && !sc.keep {
			continue // a rename writes no data
		}
		size := int64(len(sc.reference(t)))
		for _, limit := range []int64{0, 1, 100, size / 2, size - 1} {
			label := fmt.Sprintf("%s, disk full after %d bytes", sc.name, limit)
			dir, ap, ep, meta := sc.setup(t)
			newTempWriter = func(f *os.File) io.Writer { return &enospcWriter{f: f, limit: limit} }
			_, err := Merge(ap, ep, sc.opts(meta))
			newTempWriter = func(f *os.File) io.Writer { return f }
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("%s: err %v, want ENOSPC", label, err)
			}
			if sc.archive != nil && !bytes.Equal(readFile(t, ap), sc.archive) {
				t.Fatalf("%s: archive changed", label)
			}
			if _, err := os.Stat(ap); sc.archive == nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%s: a partial archive was created", label)
			}
			if left := tempLeftovers(t, dir); len(left) > 0 {
				t.Fatalf("%s: temp files left: %v", label, left)
			}
		}
	}
}

// A real nearly full filesystem: a 2 MB tmpfs holding a 1.2 MB archive
// cannot hold the merged copy beside it.
func TestFullDiskTmpfs(t *testing.T) {
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs (needs root and mount rights): %v: %s", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	old := archivetest.Bytes(archivetest.Options{Seed: 1, Size: 1200 << 10})
	ap := writeFile(t, archivePath(mnt), old)
	d := oracle(t, old)
	last := msgID(t, d.Messages[len(d.Messages)-1])
	ep := writeFile(t, filepath.Join(t.TempDir(), "e.json"), gen(2, ids(archivetest.Next(last), 20)))
	for _, meta := range []string{"", filepath.Join(mnt, ".dce-meta")} {
		_, err := Merge(ap, ep, MergeOptions{ChannelID: testChannel, MetaDir: meta})
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("meta %q: err %v, want ENOSPC", meta, err)
		}
		if !bytes.Equal(readFile(t, ap), old) {
			t.Fatal("archive changed")
		}
		if left := tempLeftovers(t, mnt); len(left) > 0 {
			t.Fatalf("temp files left: %v", left)
		}
	}
}

// corruptWriter damages what is written, silently: it replaces the byte
// at offset at, or drops the bytes from at on.
type corruptWriter struct {
	f    *os.File
	at   int64
	drop bool
	n    int64
}

func (w *corruptWriter) Write(p []byte) (int, error) {
	q := bytes.Clone(p)
	if i := w.at - w.n; i >= 0 && i < int64(len(q)) {
		if w.drop {
			q = q[:i]
		} else {
			q[i] ^= 0x01
		}
	} else if w.drop && w.n > w.at {
		q = nil
	}
	if _, err := w.f.Write(q); err != nil {
		return 0, err
	}
	w.n += int64(len(p))
	return len(p), nil
}

// The re-validation of the temp file catches what the write damaged; the
// archive stays as it was.
func TestRevalidationCatchesDamage(t *testing.T) {
	for _, sc := range scenarios() {
		if sc.archive == nil && !sc.keep {
			continue
		}
		ref := sc.reference(t)
		size := int64(len(ref))
		// Damage that keeps the JSON valid, too: a letter of the guild's
		// name, of the first and of the last message's content.
		inName := int64(bytes.Index(ref, []byte("Test Guild")) + 2)
		inFirst := int64(bytes.Index(ref, []byte(`"content": "`)) + 14)
		inLast := int64(bytes.LastIndex(ref, []byte(`"content": "`)) + 14)
		for _, at := range []int64{10, inName, inFirst, inLast, size / 3, size / 2, size - 3} {
			for _, drop := range []bool{false, true} {
				label := fmt.Sprintf("%s, damage at %d (drop %v)", sc.name, at, drop)
				dir, ap, ep, meta := sc.setup(t)
				newTempWriter = func(f *os.File) io.Writer { return &corruptWriter{f: f, at: at, drop: drop} }
				_, err := Merge(ap, ep, sc.opts(meta))
				newTempWriter = func(f *os.File) io.Writer { return f }
				if err == nil || !strings.Contains(err.Error(), "re-validate") {
					t.Fatalf("%s: err %v, want a re-validation failure", label, err)
				}
				if sc.archive != nil && !bytes.Equal(readFile(t, ap), sc.archive) {
					t.Fatalf("%s: archive changed", label)
				}
				if left := tempLeftovers(t, dir); len(left) > 0 {
					t.Fatalf("%s: temp files left: %v", label, left)
				}
			}
		}
	}
}

// The re-validation compares id sets, not counts: a result with as many
// messages as the archive had, but one of its ids swapped for another, is
// refused with a *ShrinkError.
func TestRevalidateComparesIDSets(t *testing.T) {
	dir := t.TempDir()
	ap := archivePath(dir)
	a := ids(base, 4)
	result := gen(1, []uint64{a[0], a[2], a[3], archivetest.Next(a[3])}) // a[1] missing, one new
	tmp := writeFile(t, filepath.Join(dir, "tmp.json"), result)
	hw := &hashWriter{w: io.Discard}
	hw.Write(result)
	stats := mergeStats{after: 4, oldIDs: []uint64{a[3], a[1], a[0], a[2], a[0]}} // unordered, a duplicate
	_, err := revalidate(tmp, ap, testChannel, stats, hw)
	var se *ShrinkError
	if !errors.As(err, &se) || se.Missing != 1 || len(se.Example) != 1 || se.Example[0] != a[1] || se.Path != ap {
		t.Fatalf("err %v, want a *ShrinkError naming id %d", err, a[1])
	}
	if !strings.Contains(err.Error(), ap) || !strings.Contains(err.Error(), fmt.Sprint(a[1])) {
		t.Errorf("error %q names neither the archive nor the id", err)
	}
	// The same file passes when no archived id is missing.
	stats.oldIDs = []uint64{a[0], a[2], a[3]}
	if _, err := revalidate(tmp, ap, testChannel, stats, hw); err != nil {
		t.Fatalf("superset refused: %v", err)
	}
}
