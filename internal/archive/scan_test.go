package archive

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/dcehost/dcehost/internal/archive/archivetest"
)

type scanned struct {
	ids  []uint64
	raws [][]byte
	hdr  Header
	err  error
	done bool
}

func scanAll(r io.Reader) scanned {
	sc := NewScanner(r)
	var s scanned
	for sc.Next() {
		m := sc.Message()
		s.ids = append(s.ids, m.ID)
		s.raws = append(s.raws, bytes.Clone(m.Raw))
	}
	s.err, s.done, s.hdr = sc.Err(), sc.Complete(), *sc.Header()
	return s
}

func TestScannerAcceptsOtherTools(t *testing.T) {
	tests := []struct {
		name      string
		doc       string
		ids       []uint64
		channel   string
		count     int64 // -1: no messageCount
		wantAfter string
	}{
		{name: "compact", doc: `{"channel":{"id":"5"},"messages":[{"id":"10"},{"id":"9"}],"messageCount":2}`, ids: []uint64{10, 9}, channel: "5", count: 2, wantAfter: ""},
		{name: "tabs and CRLF", doc: "{\r\n\t\"channel\" : { \"id\" : \"5\" } ,\r\n\t\"messages\" : [\r\n\t\t{ \"id\" : \"7\" }\r\n\t] ,\r\n\t\"messageCount\" : 1\r\n}\r\n", ids: []uint64{7}, channel: "5", count: 1},
		{name: "no messageCount, numeric ids", doc: `{"channel":{"id":5},"messages":[{"x":[1,{"id":"99"}],"id":3}]}`, ids: []uint64{3}, channel: "5", count: -1},
		{name: "escaped id key", doc: `{"messages":[{"\u0069d":"42"}],"messageCount":1}`, ids: []uint64{42}, count: 1},
		{name: "messages before header", doc: `{"messages":[],"dateRange":{"after":"2020-01-01T00:00:00+02:00","before":null},"channel":{"id":"8"},"messageCount":0}`, channel: "8", count: 0, wantAfter: `"2020-01-01T00:00:00+02:00"`},
		{name: "mixed-length ids", doc: `{"messages":[{"id":"999999999999999999"},{"id":"1000000000000000000"},{"id":"18446744073709551615"}]}`, ids: []uint64{999999999999999999, 1000000000000000000, 18446744073709551615}, count: -1},
		{name: "duplicates", doc: `{"messages":[{"id":"3"},{"id":"3"}],"messageCount":2}`, ids: []uint64{3, 3}, count: 2},
		{name: "unknown root keys", doc: `{"tool":{"v":[1,2.5e3,-0.1,true,false,null]},"messages":[],"messageCount":0}`, count: 0},
	}
	for _, tt := range tests {
		for _, oneByte := range []bool{false, true} {
			var r io.Reader = strings.NewReader(tt.doc)
			if oneByte {
				r = iotest.OneByteReader(r)
			}
			s := scanAll(r)
			if s.err != nil || !s.done {
				t.Fatalf("%s: err %v, complete %v", tt.name, s.err, s.done)
			}
			if !slices.Equal(s.ids, tt.ids) {
				t.Errorf("%s: ids %v, want %v", tt.name, s.ids, tt.ids)
			}
			if s.hdr.ChannelID != tt.channel {
				t.Errorf("%s: channel %q, want %q", tt.name, s.hdr.ChannelID, tt.channel)
			}
			if got := s.hdr.MessageCount; tt.count >= 0 && (!s.hdr.HasMessageCount || got != tt.count) || tt.count < 0 && s.hdr.HasMessageCount {
				t.Errorf("%s: messageCount %d (present %v), want %d", tt.name, got, s.hdr.HasMessageCount, tt.count)
			}
			if string(s.hdr.After) != tt.wantAfter {
				t.Errorf("%s: after %q, want %q", tt.name, s.hdr.After, tt.wantAfter)
			}
		}
	}
}

func TestScannerRejects(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"empty", ``, "empty document"},
		{"array root", `[]`, "not a JSON object"},
		{"messages not array", `{"messages":{}}`, "not an array"},
		{"message not object", `{"messages":[1]}`, "not an object"},
		{"no id", `{"messages":[{"a":1}]}`, "no id"},
		{"id zero", `{"messages":[{"id":"0"}]}`, "snowflake"},
		{"id negative", `{"messages":[{"id":-1}]}`, "snowflake"},
		{"id letters", `{"messages":[{"id":"12a"}]}`, "snowflake"},
		{"id overflow", `{"messages":[{"id":"18446744073709551616"}]}`, "snowflake"},
		{"id float", `{"messages":[{"id":1.5}]}`, "snowflake"},
		{"two ids", `{"messages":[{"id":"1","id":"2"}]}`, "two ids"},
		{"duplicate root key", `{"messages":[],"messages":[]}`, "duplicate root key"},
		{"trailing data", `{"messages":[]} x`, "after the end"},
		{"bad escape", `{"messages":[{"id":"1","c":"\x"}]}`, "escape"},
		{"control char", "{\"messages\":[{\"id\":\"1\",\"c\":\"a\tb\"}]}", "control character"},
		{"leading zero number", `{"x":01,"messages":[]}`, "expected ','"},
		{"bad literal", `{"x":nul,"messages":[]}`, "invalid literal"},
		{"trailing comma", `{"messages":[{"id":"1"},]}`, "not an object"},
		{"channel not object", `{"channel":"x","messages":[]}`, "not an object"},
		{"negative messageCount", `{"messages":[],"messageCount":-1}`, "non-negative"},
	}
	for _, tt := range tests {
		s := scanAll(strings.NewReader(tt.doc))
		if s.err == nil || s.done {
			t.Errorf("%s: accepted", tt.name)
			continue
		}
		if !strings.Contains(s.err.Error(), tt.want) {
			t.Errorf("%s: error %q, want it to mention %q", tt.name, s.err, tt.want)
		}
	}
}

// Every strict prefix of a document is reported as cut off, never as a
// complete document.
func TestScannerPrefixesAreTruncated(t *testing.T) {
	doc := gen(1, ids(1<<40, 3))
	full := scanAll(bytes.NewReader(doc))
	if full.err != nil {
		t.Fatal(full.err)
	}
	for n := 0; n < len(doc); n++ {
		s := scanAll(bytes.NewReader(doc[:n]))
		if s.done || !errors.Is(s.err, io.ErrUnexpectedEOF) {
			t.Fatalf("prefix of %d bytes: complete %v, err %v", n, s.done, s.err)
		}
		if !slices.Equal(s.ids, full.ids[:len(s.ids)]) {
			t.Fatalf("prefix of %d bytes: ids %v", n, s.ids)
		}
	}
}

// The scanner agrees with encoding/json on generated DCE documents: ids,
// raw message bytes and offsets.
func TestScannerMatchesEncodingJSON(t *testing.T) {
	for _, o := range []archivetest.Options{
		{Seed: 3, Messages: 50},
		{Seed: 4, Messages: 20, CRLF: true, UTCOffset: 7200},
		{Seed: 5, Messages: 0},
		{Seed: 6, Size: 600 << 10}, // more than the initial buffer
	} {
		doc := archivetest.Bytes(o)
		d := oracle(t, doc)
		for _, oneByte := range []bool{false, true} {
			var r io.Reader = bytes.NewReader(doc)
			if oneByte {
				r = iotest.OneByteReader(r)
			}
			sc := NewScanner(r)
			i := 0
			for sc.Next() {
				m := sc.Message()
				if i >= len(d.Messages) {
					t.Fatalf("more messages than encoding/json sees")
				}
				if !bytes.Equal(m.Raw, d.Messages[i]) || !bytes.Equal(doc[m.Start:m.End], m.Raw) {
					t.Fatalf("message %d: raw bytes differ", i)
				}
				if want := msgID(t, m.Raw); m.ID != want {
					t.Fatalf("message %d: id %d, want %d", i, m.ID, want)
				}
				i++
			}
			if sc.Err() != nil || i != len(d.Messages) {
				t.Fatalf("%+v: err %v, %d messages, want %d", o, sc.Err(), i, len(d.Messages))
			}
			if sc.Header().ChannelID != d.Channel.ID || int(sc.Header().MessageCount) != *d.MessageCount {
				t.Fatalf("header differs: %+v", sc.Header())
			}
		}
	}
}

// FuzzScan: the scanner never panics; it agrees with encoding/json on the
// JSON grammar; what it yields from a complete document is what
// encoding/json reads.
func FuzzScan(f *testing.F) {
	f.Add([]byte(`{"channel":{"id":"5"},"messages":[{"id":"10","c":"a\"b\\u00e9"},{"id":9}],"messageCount":2}`))
	f.Add(gen(1, ids(1<<40, 2)))
	f.Add(gen(2, ids(1<<40, 2), func(o *archivetest.Options) { o.CRLF = true }))
	f.Add([]byte(`[1,2.5e-3,{"a":[true,false,null]},"\ud83d\ude00"]`))
	f.Add([]byte(`{"x":-0.0E+1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := scanAll(bytes.NewReader(data))
		one := scanAll(iotest.OneByteReader(bytes.NewReader(data)))
		if (s.err == nil) != (one.err == nil) || !slices.Equal(s.ids, one.ids) {
			t.Fatalf("buffering changes the result: %v vs %v", s.err, one.err)
		}
		if s.err == nil {
			if !json.Valid(data) {
				t.Fatalf("scanner accepted what encoding/json rejects")
			}
			var root map[string]json.RawMessage
			var msgs []json.RawMessage
			if err := json.Unmarshal(data, &root); err != nil {
				t.Fatalf("encoding/json: %v", err)
			}
			if m, ok := root["messages"]; ok {
				if err := json.Unmarshal(m, &msgs); err != nil {
					t.Fatalf("encoding/json: messages: %v", err)
				}
			}
			if len(msgs) != len(s.ids) {
				t.Fatalf("%d messages, encoding/json sees %d", len(s.ids), len(msgs))
			}
			for i, raw := range msgs {
				if !bytes.Equal(raw, s.raws[i]) {
					t.Fatalf("message %d raw differs", i)
				}
			}
		}
		// Grammar: any value in a fixed frame is accepted exactly when
		// encoding/json accepts it.
		framed := append(append([]byte(`{"messages":[],"x":`), data...), '}')
		fs := scanAll(bytes.NewReader(framed))
		if (fs.err == nil) != json.Valid(framed) {
			t.Fatalf("grammar differs from encoding/json: scanner err %v, json.Valid %v", fs.err, json.Valid(framed))
		}
	})
}
