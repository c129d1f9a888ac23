package cron

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const testCommand = "/usr/local/bin/dcehost scrape --env-file /home/me/discord/scrape.env --config /home/me/discord/config/scrape-targets.json --log-file /home/me/discord/logs/scrape.log"

func testBlock(t *testing.T, expr string) string {
	t.Helper()
	s, err := ParseSchedule(expr)
	if err != nil {
		t.Fatal(err)
	}
	return RenderBlock(DefaultJobName, s, testCommand)
}

// golden compares got with testdata/blocks/<name>, or rewrites it with
// -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "blocks", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

func readInput(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "blocks", name+".in"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// outsideBlock returns data without the lines of the job's block (markers
// included), for checking that nothing else moved.
func outsideBlock(t *testing.T, data []byte) []byte {
	t.Helper()
	sp, found, err := findBlock(data, DefaultJobName)
	if err != nil {
		t.Fatal(err)
	}
	if !found {
		return data
	}
	return append(append([]byte(nil), data[:sp.start]...), data[sp.end:]...)
}

func TestInstallGolden(t *testing.T) {
	tests := []struct {
		name string
		expr string
	}{
		{"empty", "0 4 1 * *"},
		{"unrelated", "0 4 1 * *"},
		{"oldblock", "0 4 1 * *"},
		{"changed", "0 4 1 * *"},
		{"nonewline", "30 5 * * 0"},
		{"crlf", "0 4 1 * *"},
		{"header", "@weekly"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := readInput(t, tt.name)
			block := testBlock(t, tt.expr)
			out, changed, err := Install(in, DefaultJobName, block)
			if err != nil {
				t.Fatal(err)
			}
			if !changed {
				t.Error("changed = false for a new block")
			}
			golden(t, tt.name+".install", out)
			if !bytes.HasSuffix(out, []byte("\n")) {
				t.Error("result does not end with a newline")
			}
			if !strings.Contains(string(out), block) {
				t.Errorf("result lacks the block:\n%s", out)
			}
			// Everything outside the block is kept byte for byte (a
			// missing final newline is added before an appended block).
			if got, want := outsideBlock(t, out), withNewline(outsideBlock(t, in)); !bytes.Equal(got, want) && !bytes.Equal(got, outsideBlock(t, in)) {
				t.Errorf("lines outside the block changed:\n--- got ---\n%q\n--- want ---\n%q", got, want)
			}
			// Installing the same block again changes nothing.
			again, changed, err := Install(out, DefaultJobName, block)
			if err != nil {
				t.Fatal(err)
			}
			if changed || !bytes.Equal(again, out) {
				t.Errorf("reinstall changed the crontab (changed=%v):\n%s", changed, again)
			}
			// Removing it leaves everything else.
			removed, changed, err := Remove(out, DefaultJobName)
			if err != nil {
				t.Fatal(err)
			}
			if !changed {
				t.Error("remove after install: changed = false")
			}
			if want := withNewline(outsideBlock(t, in)); !bytes.Equal(removed, want) {
				t.Errorf("remove after install:\n--- got ---\n%q\n--- want ---\n%q", removed, want)
			}
		})
	}
}

func TestInstallReplacesInPlace(t *testing.T) {
	in := readInput(t, "changed")
	out, _, err := Install(in, DefaultJobName, testBlock(t, "15 3 * * *"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(out), "\n")
	want := []string{
		"# before",
		"0 3 * * * /home/me/bin/backup.sh",
		"# BEGIN discord-scrape",
		ManagedComment,
		"15 3 * * * " + testCommand,
		"# END discord-scrape",
		"# after",
		"",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", out, strings.Join(want, "\n"))
	}
}

func TestRemoveGolden(t *testing.T) {
	for _, name := range []string{"remove", "remove-none"} {
		t.Run(name, func(t *testing.T) {
			in := readInput(t, name)
			out, changed, err := Remove(in, DefaultJobName)
			if err != nil {
				t.Fatal(err)
			}
			if changed != (name == "remove") {
				t.Errorf("changed = %v", changed)
			}
			golden(t, name+".remove", out)
		})
	}
}

func TestDamagedBlocksRefused(t *testing.T) {
	for _, name := range []string{"damaged-noend", "damaged-nobegin", "damaged-twobegins", "damaged-twoblocks", "damaged-reversed"} {
		t.Run(name, func(t *testing.T) {
			in := readInput(t, name)
			var errs []error
			_, _, err := Install(in, DefaultJobName, testBlock(t, "0 4 1 * *"))
			errs = append(errs, err)
			_, _, err = Remove(in, DefaultJobName)
			errs = append(errs, err)
			_, err = Find(in, DefaultJobName)
			errs = append(errs, err)
			for _, err := range errs {
				var damaged *DamagedBlockError
				if !errors.As(err, &damaged) {
					t.Fatalf("err = %v, want *DamagedBlockError", err)
				}
			}
			golden(t, name+".err", []byte(errs[0].Error()+"\n"))
		})
	}
}

func TestOtherJobNamesAreIndependent(t *testing.T) {
	in := readInput(t, "oldblock")
	s, err := ParseSchedule("0 1 * * *")
	if err != nil {
		t.Fatal(err)
	}
	block := RenderBlock("discord-scrape-dms", s, testCommand+" --target dms")
	out, changed, err := Install(in, "discord-scrape-dms", block)
	if err != nil || !changed {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
	if !bytes.HasPrefix(out, in) {
		t.Errorf("the other block was touched:\n%s", out)
	}
	got, err := Find(out, DefaultJobName)
	if err != nil || got == nil {
		t.Fatalf("Find(discord-scrape) = %v, %v", got, err)
	}
	if !strings.Contains(got.Command, "run-scrape.sh") {
		t.Errorf("found the wrong block: %q", got.Command)
	}
}

func TestFind(t *testing.T) {
	in := readInput(t, "changed")
	got, err := Find(in, DefaultJobName)
	if err != nil {
		t.Fatal(err)
	}
	if got == nil {
		t.Fatal("no block found")
	}
	if got.FirstLine != 3 || got.Schedule == nil || got.Schedule.Expr != "0 4 * * 0" || got.Command != testCommand {
		t.Errorf("Find = %+v", got)
	}
	if !strings.HasPrefix(got.Text, "# BEGIN discord-scrape\n") || !strings.HasSuffix(got.Text, "# END discord-scrape\n") {
		t.Errorf("Text = %q", got.Text)
	}
	none, err := Find(readInput(t, "unrelated"), DefaultJobName)
	if err != nil || none != nil {
		t.Errorf("Find without a block = %v, %v", none, err)
	}
	broken, err := Find([]byte("# BEGIN discord-scrape\n# only a comment\n# END discord-scrape\n"), DefaultJobName)
	if err != nil || broken == nil || broken.ScheduleErr == nil {
		t.Errorf("Find of a block without a job line = %+v, %v", broken, err)
	}
	bad, err := Find([]byte("# BEGIN discord-scrape\n0 2 1 * 9 /x\n# END discord-scrape\n"), DefaultJobName)
	if err != nil || bad == nil || bad.ScheduleErr == nil || bad.Command != "/x" {
		t.Errorf("Find of a block with a bad schedule = %+v, %v", bad, err)
	}
}

func TestCheckJobName(t *testing.T) {
	for _, ok := range []string{"discord-scrape", "a", "dms_2.monthly"} {
		if err := CheckJobName(ok); err != nil {
			t.Errorf("CheckJobName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-x", "two words", "a\nb", "x;y", "a#b", strings.Repeat("a", 65), "é"} {
		var jn *JobNameError
		if err := CheckJobName(bad); !errors.As(err, &jn) {
			t.Errorf("CheckJobName(%q) = %v, want *JobNameError", bad, err)
		}
	}
}

// FuzzInstall: for any crontab, Install and Remove never panic; a damaged
// block is the only refusal; what they return keeps every line outside
// the block, ends with a newline, and installing is idempotent.
func FuzzInstall(f *testing.F) {
	for _, name := range []string{"unrelated", "oldblock", "changed", "crlf", "header", "nonewline", "damaged-noend", "damaged-twobegins"} {
		data, err := os.ReadFile(filepath.Join("testdata", "blocks", name+".in"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("# BEGIN discord-scrape\r\n# END discord-scrape"))
	s, err := ParseSchedule("0 4 1 * *")
	if err != nil {
		f.Fatal(err)
	}
	block := RenderBlock(DefaultJobName, s, testCommand)
	f.Fuzz(func(t *testing.T, in []byte) {
		out, changed, err := Install(in, DefaultJobName, block)
		if err != nil {
			var damaged *DamagedBlockError
			if !errors.As(err, &damaged) {
				t.Fatalf("Install error %T %v", err, err)
			}
			return
		}
		if changed != !bytes.Equal(out, in) {
			t.Fatalf("changed = %v for out == in: %v", changed, bytes.Equal(out, in))
		}
		if !bytes.HasSuffix(out, []byte("\n")) || !bytes.Contains(out, []byte(block)) {
			t.Fatalf("Install(%q) = %q", in, out)
		}
		again, changed, err := Install(out, DefaultJobName, block)
		if err != nil || changed || !bytes.Equal(again, out) {
			t.Fatalf("second Install(%q): changed=%v err=%v", out, changed, err)
		}
		removed, _, err := Remove(out, DefaultJobName)
		if err != nil {
			t.Fatal(err)
		}
		if want := withNewline(outsideBlock(t, in)); !bytes.Equal(removed, want) {
			t.Fatalf("Remove(Install(%q)) = %q, want %q", in, removed, want)
		}
	})
}
