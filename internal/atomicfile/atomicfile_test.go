package atomicfile

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestWriteFileModes(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := WriteFile(p, []byte("one"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	// WriteFile keeps the mode of the file it replaces.
	if err := WriteFile(p, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Fatalf("WriteFile: mode %v, want the replaced file's 0600", st.Mode().Perm())
	}
	// WriteFileMode sets exactly the mode given.
	if err := WriteFileMode(p, []byte("three"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	data, _ := os.ReadFile(p)
	if st.Mode().Perm() != 0o644 || string(data) != "three" {
		t.Fatalf("WriteFileMode: mode %v, data %q", st.Mode().Perm(), data)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".f*")); len(left) != 0 {
		t.Fatalf("temp files left: %v", left)
	}
}

func TestCleanTemps(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, ".dce-scrape.lock.meta")
	names := map[string]bool{ // name -> removed
		".dce-scrape.lock.meta":                false, // the file itself
		"..dce-scrape.lock.meta8341234123":     true,  // a temp of an interrupted write
		"..dce-scrape.lock.meta":               false, // no random suffix
		"..dce-scrape.lock.metaX12":            false, // not digits
		".dce-scrape.lock":                     false,
		"..dce-scrape.lock.meta12.json":        false,
		"..dce-scrape.lock.meta99999999999999": true,
	}
	for name := range names {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := CleanTemps(p)
	if err != nil {
		t.Fatal(err)
	}
	for name, gone := range names {
		_, err := os.Stat(filepath.Join(dir, name))
		if gone != os.IsNotExist(err) {
			t.Errorf("%s: removed %v, want %v", name, os.IsNotExist(err), gone)
		}
		if gone != slices.Contains(removed, filepath.Join(dir, name)) {
			t.Errorf("%s: reported %v, want %v", name, !gone, gone)
		}
	}
}
