package engine

import (
	"bytes"
	"strconv"

	"encoding/json"
	"github.com/dcehost/dcehost/internal/iostreams"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
func jsonMarshal(v any) ([]byte, error)   { return json.Marshal(v) }

// snapshot maps every regular file under root (relative path) to its
// content.
func snapshot(t *testing.T, root string) map[string]string {
	return snapshotExcept(t, root)
}

func snapshotExcept(t *testing.T, root string, except ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if os.IsNotExist(err) && p == root {
			return filepath.SkipAll
		}
		if err != nil {
			return err
		}
		for _, x := range except {
			if p == x || strings.HasPrefix(p, x+string(filepath.Separator)) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		if d.Type().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			out[rel] = string(data)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = slices.Sort[[]string]
	return out
}

func uitoa(n uint64) string { return strconv.FormatUint(n, 10) }

func testStreams() (*iostreams.IOStreams, *bytes.Buffer, *bytes.Buffer) {
	ios, _, out, errOut := iostreams.Test()
	return ios, out, errOut
}
