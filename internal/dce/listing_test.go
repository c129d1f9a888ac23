package dce

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// render writes channels back in DCE's `channels` layout (ids padded).
func renderChannels(cs []Channel) string {
	var b strings.Builder
	for _, c := range cs {
		if c.Thread {
			state := "Active"
			if c.Archived {
				state = "Archived"
			}
			fmt.Fprintf(&b, " * %-20s | Thread / %s | %s\n", c.ID, c.Name, state)
			continue
		}
		fmt.Fprintf(&b, "%-20s | %s\n", c.ID, c.Name)
	}
	return b.String()
}

func renderGuilds(gs []Guild) string {
	var b strings.Builder
	for _, g := range gs {
		fmt.Fprintf(&b, "%-20s | %s\r\n", g.ID, g.Name)
	}
	return b.String()
}

func TestParseChannels(t *testing.T) {
	in := "10                  | Text / general\n" +
		" * 11 | Thread / a | b | Active\n" +
		" * 12 | Thread / old | Archived\n" +
		"\n" +
		"9                   | Voice / Lounge | 2\n"
	got, err := ParseChannels([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Channel{
		{ID: "10", Name: "Text / general"},
		{ID: "11", Name: "a | b", Thread: true, ParentID: "10"},
		{ID: "12", Name: "old", Thread: true, ParentID: "10", Archived: true},
		{ID: "9", Name: "Voice / Lounge | 2"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParseListingErrors(t *testing.T) {
	for _, in := range []string{
		" * 11 | Thread / a | Active\n",       // thread first
		"10 | a\n * 11 | Thread / a | Gone\n", // bad state
		"10 | a\n * 11 | a | Active\n",        // no "Thread / "
		"abc | a\n",                           // id not a number
		"18446744073709551616 | a\n",          // overflows uint64
		"-1 | a\n",                            // sign
		"010 | a\n",                           // leading zero
		"10 a\n",                              // no separator
		"Update available!\n",                 // not a listing line
	} {
		if got, err := ParseChannels([]byte(in)); err == nil {
			t.Errorf("ParseChannels(%q) = %+v, want an error", in, got)
		}
	}
	if got, err := ParseGuilds([]byte("1 | a\nnope\n")); err == nil {
		t.Errorf("ParseGuilds = %+v, want an error", got)
	}
}

func checkIDs(t *testing.T, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if !ValidID(id) {
			t.Fatalf("parsed id %q is not a snowflake", id)
		}
	}
}

func FuzzParseChannels(f *testing.F) {
	f.Add("10 | Text / general\n * 11 | Thread / a | Active\n * 12 | Thread / b | Archived\n9 | Lounge\n")
	f.Add("1000000000000000001 | x | y\r\n")
	f.Add(" * 1 | Thread / | Active\n")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseChannels([]byte(in))
		if err != nil {
			return
		}
		for _, c := range got {
			checkIDs(t, c.ID)
			if c.Thread {
				checkIDs(t, c.ParentID)
			} else if c.ParentID != "" || c.Archived {
				t.Fatalf("channel with thread fields: %+v", c)
			}
		}
		again, err := ParseChannels([]byte(renderChannels(got)))
		if err != nil {
			t.Fatalf("re-parse of %q: %v", renderChannels(got), err)
		}
		if diff := cmp.Diff(got, again); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

func FuzzParseGuilds(f *testing.F) {
	f.Add("0                  | Direct Messages\n123456789012345678 | My Server\n")
	f.Add("1 | a | b\n")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseGuilds([]byte(in))
		if err != nil {
			return
		}
		for _, g := range got {
			checkIDs(t, g.ID)
		}
		again, err := ParseGuilds([]byte(renderGuilds(got)))
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if diff := cmp.Diff(got, again); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

func FuzzParseDMs(f *testing.F) {
	f.Add("20   | friend\n2100 | group\n")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseDMs([]byte(in))
		if err != nil {
			return
		}
		for _, c := range got {
			checkIDs(t, c.ID)
			if c.Thread {
				t.Fatalf("DM parsed as thread: %+v", c)
			}
		}
	})
}

func FuzzClassify(f *testing.F) {
	f.Add(1, "Authentication token is invalid.\n")
	f.Add(1, "x: Request to 'u' failed: forbidden.\n")
	f.Add(137, "")
	f.Fuzz(func(t *testing.T, code int, stderr string) {
		if code < 1 || code > 255 {
			return
		}
		err := Classify(code, 0, nil, []byte(stderr))
		if err == nil {
			t.Fatal("Classify of a failure returned nil")
		}
	})
}
