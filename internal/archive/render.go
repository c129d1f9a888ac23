package archive

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// docHead is what goes before the messages of a document written by
// dcehost, in DCE's key order.
type docHead struct {
	Guild, Channel []byte
	After, Before  []byte
	ExportedAt     []byte
	Extra          []Field
}

// indentValue re-indents a raw JSON value to DCE's layout (2 spaces per
// level) for a value that starts at nesting depth depth. String escapes are
// kept as they are.
func indentValue(raw []byte, depth int) ([]byte, error) {
	var c, b bytes.Buffer
	c.Grow(len(raw))
	if err := json.Compact(&c, raw); err != nil {
		return nil, err
	}
	b.Grow(len(raw) + len(raw)/4)
	if err := json.Indent(&b, c.Bytes(), strings.Repeat("  ", depth), "  "); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func orNull(v []byte) []byte {
	if len(v) == 0 {
		return []byte("null")
	}
	return v
}

// writeHead writes the document from its opening brace to the opening
// bracket of "messages".
func writeHead(w io.Writer, h docHead) error {
	var b bytes.Buffer
	b.WriteString("{")
	sep := "\n  "
	field := func(key string, raw []byte, depth int) error {
		v, err := indentValue(raw, depth)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		b.WriteString(sep)
		b.WriteString(strconv.Quote(key))
		b.WriteString(": ")
		b.Write(v)
		sep = ",\n  "
		return nil
	}
	if h.Guild != nil {
		if err := field("guild", h.Guild, 1); err != nil {
			return err
		}
	}
	if h.Channel != nil {
		if err := field("channel", h.Channel, 1); err != nil {
			return err
		}
	}
	after, err := indentValue(orNull(h.After), 2)
	if err != nil {
		return fmt.Errorf("dateRange.after: %w", err)
	}
	before, err := indentValue(orNull(h.Before), 2)
	if err != nil {
		return fmt.Errorf("dateRange.before: %w", err)
	}
	b.WriteString(sep)
	fmt.Fprintf(&b, "\"dateRange\": {\n    \"after\": %s,\n    \"before\": %s\n  }", after, before)
	sep = ",\n  "
	if h.ExportedAt != nil {
		if err := field("exportedAt", h.ExportedAt, 1); err != nil {
			return err
		}
	}
	for _, f := range h.Extra {
		if err := field(f.Key, f.Value, 1); err != nil {
			return err
		}
	}
	b.WriteString(sep)
	b.WriteString(`"messages": [`)
	_, err = w.Write(b.Bytes())
	return err
}

// msgSep returns what goes before the i-th message (0-based).
func msgSep(i int) string {
	if i == 0 {
		return "\n    "
	}
	return ",\n    "
}

// writeTail closes the messages array and the document (no trailing
// newline, as DCE writes it).
func writeTail(w io.Writer, count int) error {
	var err error
	if count == 0 {
		_, err = fmt.Fprintf(w, "],\n  \"messageCount\": 0\n}")
	} else {
		_, err = fmt.Fprintf(w, "\n  ],\n  \"messageCount\": %d\n}", count)
	}
	return err
}

// messageLayout returns a message from an export in DCE's layout for its
// place in the messages array. A message DCE wrote is already laid out so
// (it opens with "{\n      \"" and closes with "\n    }") and is taken as
// it is; any other layout is re-indented.
func messageLayout(raw []byte) ([]byte, error) {
	if bytes.HasPrefix(raw, []byte("{\n      \"")) && bytes.HasSuffix(raw, []byte("\n    }")) {
		return raw, nil
	}
	return indentValue(raw, 2)
}
