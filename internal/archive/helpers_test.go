package archive

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dcehost/dcehost/internal/archive/archivetest"
)

const testChannel = "200000000000000002"

// oracleDoc is a document as encoding/json reads it: an independent
// reading to check the scanner and the merge against.
type oracleDoc struct {
	Channel struct {
		ID string `json:"id"`
	} `json:"channel"`
	DateRange struct {
		After  json.RawMessage `json:"after"`
		Before json.RawMessage `json:"before"`
	} `json:"dateRange"`
	ExportedAt   json.RawMessage   `json:"exportedAt"`
	Messages     []json.RawMessage `json:"messages"`
	MessageCount *int              `json:"messageCount"`
}

func oracle(t testing.TB, doc []byte) oracleDoc {
	t.Helper()
	var d oracleDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatalf("encoding/json cannot read the document: %v\n%s", err, head(doc))
	}
	return d
}

func head(b []byte) []byte {
	if len(b) > 600 {
		return b[:600]
	}
	return b
}

// msgID returns the id of a raw message as encoding/json reads it.
func msgID(t testing.TB, raw []byte) uint64 {
	t.Helper()
	var m struct {
		ID json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("message: %v", err)
	}
	id, err := strconv.ParseUint(strings.Trim(string(m.ID), `"`), 10, 64)
	if err != nil {
		t.Fatalf("message id %s: %v", m.ID, err)
	}
	return id
}

func (d oracleDoc) ids(t testing.TB) []uint64 {
	var ids []uint64
	for _, m := range d.Messages {
		ids = append(ids, msgID(t, m))
	}
	return ids
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, path string, b []byte) string {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// archivePath returns a DCE-style archive name in dir.
func archivePath(dir string) string {
	return filepath.Join(dir, "Test Guild - Text Channels - general ["+testChannel+"].json")
}

// ids returns n increasing snowflakes starting at first.
func ids(first uint64, n int) []uint64 {
	out := make([]uint64, n)
	id := first
	for i := range out {
		out[i] = id
		id = archivetest.Next(id)
	}
	return out
}

// gen returns a generated document with these ids.
func gen(seed uint64, idList []uint64, mod ...func(*archivetest.Options)) []byte {
	o := archivetest.Options{Seed: seed, IDs: idList}
	if len(idList) == 0 {
		o.Messages = 0
	}
	for _, m := range mod {
		m(&o)
	}
	return archivetest.Bytes(o)
}

// expectedMerge builds the document a merge must produce: the export's
// header (with the archive's dateRange.after, which the tests keep equal
// unless they say otherwise) and the given raw messages.
func expectedMerge(t testing.TB, export []byte, msgs []json.RawMessage) []byte {
	t.Helper()
	i := bytes.Index(export, []byte(`"messages": [`))
	if i < 0 {
		t.Fatal("export has no messages key")
	}
	var b bytes.Buffer
	b.Write(export[:i+len(`"messages": [`)])
	for j, m := range msgs {
		if j == 0 {
			b.WriteString("\n    ")
		} else {
			b.WriteString(",\n    ")
		}
		b.Write(m)
	}
	b.WriteString("\n  ],\n  \"messageCount\": " + strconv.Itoa(len(msgs)) + "\n}")
	return b.Bytes()
}

func sortedCopy(a []uint64) []uint64 {
	b := slices.Clone(a)
	slices.Sort(b)
	return slices.Compact(b)
}

// superset reports whether every id of old is in now.
func superset(now, old []uint64) bool {
	n := sortedCopy(now)
	for _, id := range old {
		if _, ok := slices.BinarySearch(n, id); !ok {
			return false
		}
	}
	return true
}

// tempLeftovers lists dcehost temp files in dir.
func tempLeftovers(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.Contains(e.Name(), ".dcehost-tmp-") {
			out = append(out, e.Name())
		}
	}
	return out
}
