package archive

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dcehost/dcehost/internal/archive/archivetest"
)

func TestVerify(t *testing.T) {
	a := ids(base, 4)
	good := gen(1, a)
	tests := []struct {
		name     string
		file     string // base name; "" = the DCE-style archive name
		doc      []byte
		problems []string // substrings, in order
		invalid  bool     // *InvalidArchiveError
	}{
		{name: "good", doc: good},
		{name: "empty channel", doc: gen(1, nil)},
		{name: "unordered", doc: gen(1, []uint64{a[1], a[0], a[2]}), problems: []string{"out of id order"}},
		{name: "duplicates", doc: gen(1, []uint64{a[0], a[1], a[1]}), problems: []string{"1 duplicate"}},
		{name: "mixed-length ids in order", doc: gen(1, []uint64{999999999999999999, 1000000000000000000})},
		{name: "no messageCount", doc: gen(1, a, func(o *archivetest.Options) { o.NoMessageCount = true }), problems: []string{"no messageCount"}},
		{name: "wrong messageCount", doc: bytes.Replace(good, []byte(`"messageCount": 4`), []byte(`"messageCount": 5`), 1), problems: []string{"messageCount is 5"}},
		{name: "file name of another channel", file: "x [123].json", doc: good, problems: []string{"file name says 123"}},
		{name: "file name without id", file: "x.json", doc: good, problems: []string{"does not end in [<channel id>].json"}},
		{name: "cut off", doc: good[:len(good)/2], invalid: true},
		{name: "not JSON", doc: []byte("<html>"), invalid: true},
		{name: "no messages", doc: []byte(`{"channel":{"id":"` + testChannel + `"}}`), invalid: true},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		p := archivePath(dir)
		if tt.file != "" {
			p = filepath.Join(dir, tt.file)
		}
		writeFile(t, p, tt.doc)
		rep, err := Verify(p)
		var ia *InvalidArchiveError
		if tt.invalid {
			if !errors.As(err, &ia) || ia.Path != p {
				t.Errorf("%s: err %v, want *InvalidArchiveError", tt.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if len(rep.Problems) != len(tt.problems) {
			t.Errorf("%s: problems %q, want %q", tt.name, rep.Problems, tt.problems)
			continue
		}
		for i, want := range tt.problems {
			if !strings.Contains(rep.Problems[i], want) {
				t.Errorf("%s: problem %q, want %q", tt.name, rep.Problems[i], want)
			}
		}
		if rep.OK() != (len(tt.problems) == 0) {
			t.Errorf("%s: OK() = %v", tt.name, rep.OK())
		}
	}
}

// FuzzMerge: merging any export into any archive never panics, never
// loses an archived id, and leaves either the old archive untouched (on an
// error) or a valid document.
func FuzzMerge(f *testing.F) {
	a := ids(base, 3)
	f.Add(gen(1, a), gen(2, ids(archivetest.Next(a[2]), 2)))
	f.Add(gen(1, a), gen(2, []uint64{a[1], archivetest.Next(a[2])}))
	f.Add(gen(1, []uint64{a[0], a[2]}), gen(2, a[1:2]))
	f.Add(gen(1, []uint64{a[2], a[0], a[0]}, func(o *archivetest.Options) { o.CRLF = true }), gen(2, a[1:2]))
	f.Add([]byte(`{"channel":{"id":"`+testChannel+`"},"messages":[{"id":"5"}]}`), []byte(`{"channel":{"id":"`+testChannel+`"},"messages":[{"id":"6","x":"\u00e9"}],"messageCount":1}`))
	f.Fuzz(func(t *testing.T, archiveDoc, exportDoc []byte) {
		dir := t.TempDir()
		ap := writeFile(t, archivePath(dir), archiveDoc)
		ep := writeFile(t, filepath.Join(dir, "e.json"), exportDoc)
		before := scanAll(bytes.NewReader(archiveDoc))
		for _, meta := range []string{"", filepath.Join(dir, ".dce-meta")} {
			cur := readFile(t, ap)
			_, err := Merge(ap, ep, MergeOptions{ChannelID: testChannel, MetaDir: meta})
			got := readFile(t, ap)
			if err != nil {
				if !bytes.Equal(got, cur) {
					t.Fatalf("failed merge changed the archive: %v", err)
				}
				continue
			}
			after := scanAll(bytes.NewReader(got))
			if after.err != nil || !after.done {
				t.Fatalf("merged archive does not scan: %v", after.err)
			}
			if !json.Valid(got) {
				t.Fatalf("merged archive is not valid JSON")
			}
			if !strings.HasPrefix(string(got), "{") {
				t.Fatalf("merged archive is not a DCE document")
			}
			for _, id := range before.ids {
				if !slices.Contains(after.ids, id) {
					t.Fatalf("id %d lost", id)
				}
			}
			// An archive ordered by id (strictly) stays ordered.
			if isStrictlyOrdered(scanAll(bytes.NewReader(cur)).ids) && !isStrictlyOrdered(after.ids) {
				t.Fatalf("ordered archive became unordered: %v", after.ids)
			}
		}
		if _, err := os.Stat(ap); err != nil {
			t.Fatal(err)
		}
	})
}

func isStrictlyOrdered(ids []uint64) bool {
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			return false
		}
	}
	return true
}
