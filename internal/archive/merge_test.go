package archive

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dcehost/dcehost/internal/archive/archivetest"
)

var base = archivetest.Snowflake(time.Date(2022, 3, 1, 12, 0, 0, 0, time.UTC), 0)

func TestMergeCreate(t *testing.T) {
	for _, keep := range []bool{false, true} {
		dir := t.TempDir()
		exp := gen(2, ids(base, 4))
		ep := writeFile(t, filepath.Join(dir, "export.json"), exp)
		ap := archivePath(dir)
		res, err := Merge(ap, ep, MergeOptions{ChannelID: testChannel, KeepExport: keep})
		if err != nil {
			t.Fatal(err)
		}
		want := MergeResult{Action: Created, FetchedCount: 4, AfterCount: 4, Appended: 4, MaxID: ids(base, 4)[3]}
		if res != want {
			t.Errorf("keep=%v: result %+v, want %+v", keep, res, want)
		}
		if got := readFile(t, ap); !bytes.Equal(got, exp) {
			t.Errorf("keep=%v: archive differs from the export", keep)
		}
		_, err = os.Stat(ep)
		if keep && err != nil || !keep && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("keep=%v: export after create: %v", keep, err)
		}
		if st, _ := os.Stat(ap); st.Mode().Perm() != 0o644 {
			t.Errorf("keep=%v: mode %v", keep, st.Mode())
		}
		if left := tempLeftovers(t, dir); len(left) > 0 {
			t.Errorf("temp files left: %v", left)
		}
	}
}

func TestMerge(t *testing.T) {
	a := ids(base, 6)
	later := ids(archivetest.Next(a[5]), 3)
	tests := []struct {
		name       string
		archive    []byte
		export     []byte
		wantIDs    []uint64 // file order after the merge
		wantAction Action
		appended   int
		replaced   int
		// exact: the merged file must equal the export's header followed by
		// these messages (archive index >= 0, export index as -1-i).
		exact []int
	}{
		{
			name: "append", archive: gen(1, a), export: gen(2, later),
			wantIDs: append(slices.Clone(a), later...), wantAction: Merged, appended: 3,
			exact: []int{0, 1, 2, 3, 4, 5, -1, -2, -3},
		},
		{
			name: "export out of order appended in id order", archive: gen(1, a), export: gen(2, []uint64{later[2], later[0], later[1]}),
			wantIDs: append(slices.Clone(a), later...), wantAction: Merged, appended: 3,
			exact: []int{0, 1, 2, 3, 4, 5, -2, -3, -1},
		},
		{
			name: "overlap with an edited message", archive: gen(1, a), export: gen(3, []uint64{a[4], later[0]}),
			wantIDs: append(slices.Clone(a), later[0]), wantAction: Merged, appended: 1, replaced: 1,
			exact: []int{0, 1, 2, 3, -1, 5, -2},
		},
		{
			name: "overlap identical only", archive: gen(1, a), export: gen(1, a[:2]),
			wantIDs: a, wantAction: Unchanged,
		},
		{
			// A new id below the archive's largest goes before the first
			// archived message with a larger id; archived ones keep their order.
			name: "unordered archive", archive: gen(1, []uint64{a[3], a[0], a[5]}), export: gen(2, []uint64{later[0], a[1]}),
			wantIDs: []uint64{a[1], a[3], a[0], a[5], later[0]}, wantAction: Merged, appended: 2,
			exact: []int{-2, 0, 1, 2, -1},
		},
		{
			name: "new messages between archived ones", archive: gen(1, []uint64{a[0], a[2], a[4]}), export: gen(2, []uint64{a[1], a[3], later[0]}),
			wantIDs: []uint64{a[0], a[1], a[2], a[3], a[4], later[0]}, wantAction: Merged, appended: 3,
			exact: []int{0, -1, 1, -2, 2, -3},
		},
		{
			name: "new and edited messages between archived ones", archive: gen(1, []uint64{a[0], a[2], a[4]}), export: gen(3, []uint64{a[1], a[2], a[5]}),
			wantIDs: []uint64{a[0], a[1], a[2], a[4], a[5]}, wantAction: Merged, appended: 2, replaced: 1,
			exact: []int{0, -1, -2, 2, -3},
		},
		{
			name: "duplicate ids in the archive", archive: gen(1, []uint64{a[0], a[0], a[1]}), export: gen(2, later[:1]),
			wantIDs: []uint64{a[0], a[0], a[1], later[0]}, wantAction: Merged, appended: 1,
			exact: []int{0, 1, 2, -1},
		},
		{
			name:    "mixed-length ids",
			archive: gen(1, []uint64{999999999999999999, 1000000000000000000}), export: gen(2, []uint64{1000000000000000001, 999999999999999998}),
			wantIDs: []uint64{999999999999999998, 999999999999999999, 1000000000000000000, 1000000000000000001}, wantAction: Merged, appended: 2,
			exact: []int{-2, 0, 1, -1},
		},
		{
			name: "other UTC offset", archive: gen(1, a, func(o *archivetest.Options) { o.UTCOffset = -5 * 3600 }), export: gen(2, later),
			wantIDs: append(slices.Clone(a), later...), wantAction: Merged, appended: 3,
			exact: []int{0, 1, 2, 3, 4, 5, -1, -2, -3},
		},
		{
			name: "archive without messageCount", archive: gen(1, a, func(o *archivetest.Options) { o.NoMessageCount = true }), export: gen(2, later),
			wantIDs: append(slices.Clone(a), later...), wantAction: Merged, appended: 3,
			exact: []int{0, 1, 2, 3, 4, 5, -1, -2, -3},
		},
		{
			name: "empty archive", archive: gen(1, nil), export: gen(2, later),
			wantIDs: later, wantAction: Merged, appended: 3, exact: []int{-1, -2, -3},
		},
		{
			name: "empty export", archive: gen(1, a), export: gen(2, nil),
			wantIDs: a, wantAction: Unchanged,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ap := writeFile(t, archivePath(dir), tt.archive)
			ep := writeFile(t, filepath.Join(dir, "export.json"), tt.export)
			before, _ := os.Stat(ap)
			res, err := Merge(ap, ep, MergeOptions{ChannelID: testChannel})
			if err != nil {
				t.Fatal(err)
			}
			got := readFile(t, ap)
			d := oracle(t, got)
			if gotIDs := d.ids(t); !slices.Equal(gotIDs, tt.wantIDs) {
				t.Errorf("ids %v, want %v", gotIDs, tt.wantIDs)
			}
			if res.Action != tt.wantAction || res.Appended != tt.appended || res.Replaced != tt.replaced {
				t.Errorf("result %+v, want %s appended %d replaced %d", res, tt.wantAction, tt.appended, tt.replaced)
			}
			ad := oracle(t, tt.archive)
			if res.BeforeCount != len(ad.Messages) || res.AfterCount != len(tt.wantIDs) || res.MaxID != slices.Max(tt.wantIDs) {
				t.Errorf("counts %+v", res)
			}
			if tt.wantAction == Unchanged {
				after, _ := os.Stat(ap)
				if !bytes.Equal(got, tt.archive) || !after.ModTime().Equal(before.ModTime()) || !os.SameFile(before, after) {
					t.Errorf("unchanged archive was rewritten")
				}
				return
			}
			if tt.exact != nil {
				ed := oracle(t, tt.export)
				var msgs []json.RawMessage
				for _, i := range tt.exact {
					if i >= 0 {
						msgs = append(msgs, ad.Messages[i])
					} else {
						msgs = append(msgs, ed.Messages[-1-i])
					}
				}
				if want := expectedMerge(t, tt.export, msgs); !bytes.Equal(got, want) {
					t.Errorf("merged document differs from DCE's layout:\n got: %s\nwant: %s", head(got), head(want))
				}
			}
			if st, _ := os.Stat(ap); st.Mode().Perm() != 0o644 {
				t.Errorf("mode %v", st.Mode())
			}
			rep, err := Verify(ap)
			if err != nil || rep.Messages != len(tt.wantIDs) || rep.MessageCount != int64(len(tt.wantIDs)) {
				t.Errorf("verify: %+v %v", rep, err)
			}
			// An archive ordered by id stays ordered: verify finds nothing.
			if ordered := slices.IsSorted(tt.wantIDs) && len(slices.Compact(slices.Clone(tt.wantIDs))) == len(tt.wantIDs); ordered && !rep.OK() {
				t.Errorf("merged archive has problems: %v", rep.Problems)
			}
			if left := tempLeftovers(t, dir); len(left) > 0 {
				t.Errorf("temp files left: %v", left)
			}
		})
	}
}

// The bytes of every archived message, and everything before the first
// one changes, are kept; for an appending merge the whole old messages
// array is a prefix-preserved region of the new file.
func TestMergeKeepsExistingBytes(t *testing.T) {
	for _, crlf := range []bool{false, true} {
		dir := t.TempDir()
		old := gen(1, ids(base, 20), func(o *archivetest.Options) { o.CRLF = crlf })
		ap := writeFile(t, archivePath(dir), old)
		ep := writeFile(t, filepath.Join(dir, "e.json"), gen(2, ids(archivetest.Next(ids(base, 20)[19]), 5)))
		if _, err := Merge(ap, ep, MergeOptions{ChannelID: testChannel}); err != nil {
			t.Fatal(err)
		}
		got := readFile(t, ap)
		var sepOld, sepNew = []byte(`"messages": [`), []byte(`"messages": [`)
		if crlf {
			sepOld = []byte("\"messages\": [")
		}
		i, j := bytes.Index(old, sepOld), bytes.Index(got, sepNew)
		lastOld := bytes.LastIndex(old, []byte("}"))
		oldMsgs := old[i+len(sepOld) : bytes.LastIndex(old[:lastOld], []byte("]"))]
		oldMsgs = bytes.TrimRight(oldMsgs, " \r\n")
		newPart := got[j+len(sepNew):]
		if crlf {
			// Message bytes are kept; only the separators between them
			// are DCE's.
			for _, m := range oracle(t, old).Messages {
				if !bytes.Contains(got, m) {
					t.Fatalf("crlf: an archived message's bytes changed")
				}
			}
			continue
		}
		if !bytes.HasPrefix(newPart, oldMsgs) {
			t.Fatalf("the archived messages are not copied through byte for byte")
		}
		if !bytes.Equal(got[:j], readFile(t, ep)[:bytes.Index(readFile(t, ep), sepNew)]) {
			t.Fatalf("header not the export's")
		}
	}
}

func TestMergeDateRange(t *testing.T) {
	tests := []struct {
		name, archiveAfter, exportAfter, wantAfter string
	}{
		{"null stays null", "", "2024-01-01T00:00:00+00:00", "null"},
		{"archive's own after kept", "2020-05-01T00:00:00+02:00", "2024-01-01T00:00:00+00:00", `"2020-05-01T00:00:00+02:00"`},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		ap := writeFile(t, archivePath(dir), gen(1, ids(base, 2), func(o *archivetest.Options) {
			o.After, o.Before = tt.archiveAfter, "2023-01-01T00:00:00+00:00"
		}))
		ep := writeFile(t, filepath.Join(dir, "e.json"), gen(2, ids(base+1<<40, 1), func(o *archivetest.Options) {
			o.After, o.Before = tt.exportAfter, "2025-06-01T00:00:00+00:00"
			o.ExportedAt = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
		}))
		if _, err := Merge(ap, ep, MergeOptions{ChannelID: testChannel}); err != nil {
			t.Fatal(err)
		}
		d := oracle(t, readFile(t, ap))
		if string(d.DateRange.After) != tt.wantAfter || string(d.DateRange.Before) != `"2025-06-01T00:00:00+00:00"` || string(d.ExportedAt) != `"2025-06-01T00:00:00+00:00"` {
			t.Errorf("%s: after %s before %s exportedAt %s", tt.name, d.DateRange.After, d.DateRange.Before, d.ExportedAt)
		}
	}
}

func TestMergeRefuses(t *testing.T) {
	a := ids(base, 3)
	good := gen(1, a)
	tests := []struct {
		name      string
		archive   []byte // nil: no archive
		export    []byte
		channel   string
		wantType  string // "archive" | "export"
		wantInMsg string
	}{
		{name: "export of another channel", archive: good, export: gen(2, ids(base+1<<40, 1), func(o *archivetest.Options) { o.ChannelID = 999 }), channel: testChannel, wantType: "export", wantInMsg: "channel 999"},
		{name: "export of another channel, no archive", export: gen(2, ids(base, 1), func(o *archivetest.Options) { o.ChannelID = 999 }), channel: testChannel, wantType: "export", wantInMsg: "channel 999"},
		{name: "export without messageCount", archive: good, export: gen(2, ids(base+1<<40, 1), func(o *archivetest.Options) { o.NoMessageCount = true }), channel: testChannel, wantType: "export", wantInMsg: "messageCount"},
		{name: "export cut off", archive: good, export: gen(2, ids(base+1<<40, 2))[:900], channel: testChannel, wantType: "export", wantInMsg: "incomplete"},
		{name: "export with a bad id", archive: good, export: bytes.Replace(gen(2, ids(base+1<<40, 1)), []byte(`"id": "`+fmtID(base+1<<40)+`"`), []byte(`"id": "x1"`), 1), channel: testChannel, wantType: "export", wantInMsg: "snowflake"},
		{name: "export with a wrong messageCount", archive: good, export: bytes.Replace(gen(2, ids(base+1<<40, 1)), []byte(`"messageCount": 1`), []byte(`"messageCount": 2`), 1), channel: testChannel, wantType: "export", wantInMsg: "messageCount is 2"},
		{name: "export with an id twice", archive: good, export: gen(2, []uint64{base + 1<<40, base + 1<<40}), channel: testChannel, wantType: "export", wantInMsg: "twice"},
		{name: "archive of another channel", archive: gen(1, a, func(o *archivetest.Options) { o.ChannelID = 777 }), export: gen(2, ids(base+1<<40, 1)), channel: testChannel, wantType: "archive", wantInMsg: "channel 777"},
		{name: "archive of another channel, empty export", archive: gen(1, a, func(o *archivetest.Options) { o.ChannelID = 777 }), export: gen(2, nil), channel: testChannel, wantType: "archive", wantInMsg: "channel 777"},
		{name: "archive not JSON", archive: []byte("not json at all"), export: gen(2, ids(base+1<<40, 1)), channel: testChannel, wantType: "archive", wantInMsg: "not a JSON object"},
		{name: "archive cut off", archive: good[:len(good)-40], export: gen(2, ids(base+1<<40, 1)), channel: testChannel, wantType: "archive", wantInMsg: "incomplete"},
		{name: "archive cut off, empty export", archive: good[:len(good)-40], export: gen(2, nil), channel: testChannel, wantType: "archive", wantInMsg: "incomplete"},
		{name: "channel from the file name", archive: good, export: gen(2, ids(base+1<<40, 1), func(o *archivetest.Options) { o.ChannelID = 999 }), channel: "", wantType: "export", wantInMsg: "not " + testChannel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ap := archivePath(dir)
			if tt.archive != nil {
				writeFile(t, ap, tt.archive)
			}
			ep := writeFile(t, filepath.Join(dir, "e.json"), tt.export)
			before, _ := os.Stat(ap)
			_, err := Merge(ap, ep, MergeOptions{ChannelID: tt.channel})
			var ia *InvalidArchiveError
			var ie *InvalidExportError
			switch tt.wantType {
			case "archive":
				if !errors.As(err, &ia) || ia.Path != ap {
					t.Fatalf("err %v, want *InvalidArchiveError naming the archive", err)
				}
			case "export":
				if !errors.As(err, &ie) || ie.Path != ep {
					t.Fatalf("err %v, want *InvalidExportError naming the export", err)
				}
			}
			if !strings.Contains(err.Error(), tt.wantInMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantInMsg)
			}
			if tt.archive == nil {
				if _, err := os.Stat(ap); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("an archive was created")
				}
			} else {
				after, _ := os.Stat(ap)
				if !bytes.Equal(readFile(t, ap), tt.archive) || !after.ModTime().Equal(before.ModTime()) {
					t.Errorf("archive changed")
				}
			}
			if left := tempLeftovers(t, dir); len(left) > 0 {
				t.Errorf("temp files left: %v", left)
			}
		})
	}
}

func fmtID(id uint64) string { return strconv.FormatUint(id, 10) }

func TestMergeIdempotentAndDryRun(t *testing.T) {
	dir := t.TempDir()
	a := ids(base, 5)
	old := gen(1, a)
	ap := writeFile(t, archivePath(dir), old)
	exp := gen(2, ids(archivetest.Next(a[4]), 2))
	ep := writeFile(t, filepath.Join(dir, "e.json"), exp)

	dry, err := Merge(ap, ep, MergeOptions{ChannelID: testChannel, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if dry.Action != Merged || dry.Appended != 2 || dry.AfterCount != 7 {
		t.Errorf("dry run %+v", dry)
	}
	if !bytes.Equal(readFile(t, ap), old) || len(tempLeftovers(t, dir)) > 0 {
		t.Fatal("dry run wrote")
	}
	first, err := Merge(ap, ep, MergeOptions{ChannelID: testChannel})
	if err != nil {
		t.Fatal(err)
	}
	if first != dry {
		t.Errorf("merge %+v differs from its dry run %+v", first, dry)
	}
	once := readFile(t, ap)
	st1, _ := os.Stat(ap)
	second, err := Merge(ap, ep, MergeOptions{ChannelID: testChannel})
	if err != nil {
		t.Fatal(err)
	}
	st2, _ := os.Stat(ap)
	if second.Action != Unchanged || second.AfterCount != 7 || !bytes.Equal(readFile(t, ap), once) || !st1.ModTime().Equal(st2.ModTime()) {
		t.Errorf("re-merge: %+v", second)
	}
}

func TestMergeKeepsMode(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o600} {
		dir := t.TempDir()
		ap := writeFile(t, archivePath(dir), gen(1, ids(base, 2)))
		if err := os.Chmod(ap, mode); err != nil {
			t.Fatal(err)
		}
		if os.Geteuid() == 0 {
			if err := os.Chown(ap, 1234, 5678); err != nil {
				t.Fatal(err)
			}
		}
		ep := writeFile(t, filepath.Join(dir, "e.json"), gen(2, ids(base+1<<40, 1)))
		if _, err := Merge(ap, ep, MergeOptions{ChannelID: testChannel}); err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(ap)
		if st.Mode().Perm() != mode {
			t.Errorf("mode %v, want %v", st.Mode().Perm(), mode)
		}
		if s := st.Sys().(*syscall.Stat_t); os.Geteuid() == 0 && (s.Uid != 1234 || s.Gid != 5678) {
			t.Errorf("owner %d:%d, want 1234:5678", s.Uid, s.Gid)
		}
	}
}

// New messages from an export in another layout (compact, CRLF) are
// written in DCE's layout: the result equals the merge of DCE's own export.
func TestMergeReindentsOtherLayouts(t *testing.T) {
	a := ids(base, 3)
	old := gen(1, a)
	exp := gen(2, ids(archivetest.Next(a[2]), 2))
	var compact bytes.Buffer
	if err := json.Compact(&compact, exp); err != nil {
		t.Fatal(err)
	}
	crlf := gen(2, ids(archivetest.Next(a[2]), 2), func(o *archivetest.Options) { o.CRLF = true })
	var want []byte
	for i, e := range [][]byte{exp, compact.Bytes(), crlf} {
		dir := t.TempDir()
		ap := writeFile(t, archivePath(dir), old)
		ep := writeFile(t, filepath.Join(dir, "e.json"), e)
		if _, err := Merge(ap, ep, MergeOptions{ChannelID: testChannel}); err != nil {
			t.Fatal(err)
		}
		got := readFile(t, ap)
		if i == 0 {
			want = got
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("layout %d: merged archive differs from the merge of DCE's layout:\n%s", i, head(got[len(got)-700:]))
		}
	}
}

// An archive name using all 255 bytes a file name may have still merges,
// and CleanTemps finds its temp files.
func TestMergeLongName(t *testing.T) {
	dir := t.TempDir()
	suffix := " [" + testChannel + "].json"
	ap := filepath.Join(dir, strings.Repeat("é", (255-len(suffix))/2)+strings.Repeat("x", (255-len(suffix))%2)+suffix)
	if len(filepath.Base(ap)) != 255 {
		t.Fatalf("test setup: name of %d bytes", len(filepath.Base(ap)))
	}
	a := ids(base, 2)
	writeFile(t, ap, gen(1, a))
	for i, e := range [][]byte{gen(2, ids(archivetest.Next(a[1]), 2)), gen(3, []uint64{a[0]})} {
		ep := writeFile(t, filepath.Join(dir, "e.json"), e)
		if res, err := Merge(ap, ep, MergeOptions{ChannelID: testChannel}); err != nil || res.Action != Merged {
			t.Fatalf("merge %d: %+v %v", i, res, err)
		}
	}
	tmp, err := createTemp(ap)
	if err != nil {
		t.Fatal(err)
	}
	tmp.Close()
	removed, err := CleanTemps(ap)
	if err != nil || len(removed) != 1 || removed[0] != tmp.Name() {
		t.Fatalf("CleanTemps: %v %v, want %s", removed, err, tmp.Name())
	}
}
