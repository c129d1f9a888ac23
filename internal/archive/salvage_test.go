package archive

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dcehost/dcehost/internal/archive/archivetest"
)

// Cutting a DCE export at every byte keeps exactly the messages completed
// before the cut.
func TestSalvageEveryCut(t *testing.T) {
	want := ids(base, 3)
	doc := gen(1, want)
	d := oracle(t, doc)
	ends := make([]int, len(d.Messages)) // where each message ends in doc
	for i, m := range d.Messages {
		ends[i] = bytes.Index(doc, m) + len(m)
	}
	dir := t.TempDir()
	near := func(cut int) bool { // around a message's end, every byte
		for _, e := range ends {
			if cut >= e-30 && cut <= e+30 {
				return true
			}
		}
		return cut < 400 && cut%3 == 0
	}
	for cut := 0; cut <= len(doc); cut++ {
		if !near(cut) && cut%11 != 0 && cut != len(doc) {
			continue // Salvage fsyncs; keep the test fast
		}
		p := writeFile(t, filepath.Join(dir, "partial [200000000000000002].json"), doc[:cut])
		out, n, err := Salvage(p, testChannel)
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		complete := 0
		for _, e := range ends {
			if e <= cut {
				complete++
			}
		}
		if n != complete {
			t.Fatalf("cut %d: kept %d messages, want %d", cut, n, complete)
		}
		if n == 0 {
			if out != "" {
				t.Fatalf("cut %d: no message but a document %q", cut, out)
			}
			continue
		}
		got := readFile(t, out)
		gd := oracle(t, got)
		if !slices.Equal(gd.ids(t), want[:n]) || gd.Channel.ID != testChannel || gd.MessageCount == nil || *gd.MessageCount != n {
			t.Fatalf("cut %d: salvaged %v", cut, gd.ids(t))
		}
		for i := range n {
			if !bytes.Equal(gd.Messages[i], d.Messages[i]) {
				t.Fatalf("cut %d: message %d bytes changed", cut, i)
			}
		}
		// The salvaged document is a valid export: it merges.
		if _, err := loadExport(out, testChannel); err != nil {
			t.Fatalf("cut %d: salvaged document is not a valid export: %v", cut, err)
		}
		if !bytes.Equal(readFile(t, p), doc[:cut]) {
			t.Fatalf("cut %d: the partial file was changed", cut)
		}
		if err := os.Remove(out); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSalvageCases(t *testing.T) {
	a := ids(base, 4)
	doc := gen(1, a)
	d := oracle(t, doc)
	afterSecond := bytes.Index(doc, d.Messages[1]) + len(d.Messages[1])
	crlf := gen(1, a, func(o *archivetest.Options) { o.CRLF = true })
	crlfSecond := oracle(t, crlf).Messages[1]
	tests := []struct {
		name    string
		data    []byte
		channel string
		want    int
		wantErr bool
	}{
		{name: "empty file", data: nil, channel: testChannel, want: 0},
		{name: "header only", data: doc[:bytes.Index(doc, []byte("[\n"))+1], channel: testChannel, want: 0},
		{name: "right after a message", data: doc[:afterSecond], channel: testChannel, want: 2},
		{name: "after a message and its comma", data: doc[:afterSecond+1], channel: testChannel, want: 2},
		{name: "zero-filled tail", data: append(bytes.Clone(doc[:afterSecond+20]), make([]byte, 4096)...), channel: testChannel, want: 2},
		{name: "complete export", data: doc, channel: testChannel, want: 4},
		{name: "CRLF", data: crlf[:bytes.Index(crlf, crlfSecond)+len(crlfSecond)+3], channel: testChannel, want: 2},
		{name: "another channel", data: doc[:afterSecond], channel: "999", wantErr: true},
		{name: "any channel", data: doc[:afterSecond], channel: "", want: 2},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		p := writeFile(t, filepath.Join(dir, "x.json"), tt.data)
		out, n, err := Salvage(p, tt.channel)
		var ie *InvalidExportError
		if tt.wantErr {
			if !errors.As(err, &ie) || ie.Path != p {
				t.Errorf("%s: err %v, want *InvalidExportError", tt.name, err)
			}
			continue
		}
		if err != nil || n != tt.want {
			t.Errorf("%s: %d messages, %v; want %d", tt.name, n, err, tt.want)
			continue
		}
		if n > 0 {
			if out != SalvagedPath(p) {
				t.Errorf("%s: written to %s", tt.name, out)
			}
			if !json.Valid(readFile(t, out)) {
				t.Errorf("%s: salvaged document is not valid JSON", tt.name)
			}
		}
	}
}

// FuzzSalvage: salvage never panics; whatever it writes is a valid export
// whose messages are complete messages of the input, byte for byte.
func FuzzSalvage(f *testing.F) {
	doc := gen(1, ids(base, 3))
	f.Add(doc, 700)
	f.Add(doc, len(doc))
	f.Add([]byte(`{"channel":{"id":"5"},"messages":[{"id":"1"},{"id":"2","x":[`), 60)
	f.Fuzz(func(t *testing.T, data []byte, cut int) {
		if cut < 0 || cut > len(data) {
			cut = len(data)
		}
		p := filepath.Join(t.TempDir(), "p.json")
		if err := os.WriteFile(p, data[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		out, n, err := Salvage(p, "")
		if err != nil || n == 0 {
			if out != "" {
				t.Fatalf("no result but a path %q", out)
			}
			return
		}
		exp, err := loadExport(out, "")
		if err != nil {
			t.Fatalf("salvaged document is not a valid export: %v", err)
		}
		if len(exp.msgs) != n {
			t.Fatalf("%d messages, reported %d", len(exp.msgs), n)
		}
		got := readFile(t, out)
		for _, m := range oracle(t, got).Messages {
			if !bytes.Contains(data[:cut], m) {
				t.Fatalf("a salvaged message is not in the input")
			}
		}
	})
}
