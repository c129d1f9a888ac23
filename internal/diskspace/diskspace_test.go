package diskspace

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCheckWith(t *testing.T) {
	root := t.TempDir()
	const mib = 1 << 20
	tests := []struct {
		name     string
		path     string
		bavail   uint64
		bsize    int64
		needMB   int64
		wantLow  bool
		wantFree uint64
		wantStat string // the directory statfs must be asked about
	}{
		{"enough", root, 2048, mib, 1024, false, 0, root},
		{"exactly enough", root, 1024, mib, 1024, false, 0, root},
		{"low", root, 100 * 256, 4096, 1024, true, 100, root},
		{"disabled", root, 0, 4096, 0, false, 0, ""},
		{"missing path measured at its ancestor", filepath.Join(root, "a", "b"), 10, mib, 20, true, 10, root},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asked := ""
			statfs := func(path string, st *unix.Statfs_t) error {
				asked = path
				st.Bavail = tt.bavail
				st.Bsize = tt.bsize
				return nil
			}
			err := CheckWith(statfs, tt.path, tt.needMB)
			if asked != tt.wantStat {
				t.Errorf("statfs asked about %q, want %q", asked, tt.wantStat)
			}
			var low *LowError
			if got := errors.As(err, &low); got != tt.wantLow {
				t.Fatalf("CheckWith = %v, want low=%v", err, tt.wantLow)
			}
			if !tt.wantLow {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if low.FreeMB != tt.wantFree || low.NeedMB != uint64(tt.needMB) || low.Path != tt.path {
				t.Fatalf("LowError = %+v", low)
			}
			for _, want := range []string{tt.path, "MB free", "DCE_MIN_FREE_MB"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestCheckStatfsError(t *testing.T) {
	boom := errors.New("boom")
	err := CheckWith(func(string, *unix.Statfs_t) error { return boom }, t.TempDir(), 1)
	var low *LowError
	if !errors.Is(err, boom) || errors.As(err, &low) {
		t.Fatalf("CheckWith = %v, want the statfs error", err)
	}
}

func TestCheckRealFileSystem(t *testing.T) {
	// The real statfs: a temp dir has more than 1 MiB free, and nobody has
	// an exbibyte.
	dir := t.TempDir()
	if err := Check(dir, 1); err != nil {
		t.Fatalf("Check(1 MB) = %v", err)
	}
	var low *LowError
	if err := Check(dir, 1<<40); !errors.As(err, &low) {
		t.Fatalf("Check(1 EiB) = %v, want *LowError", err)
	}
}
