package progress

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

const clr = "\r\x1b[K"

func TestTerminalStatusLine(t *testing.T) {
	var out bytes.Buffer
	r := New(&out, true, nil)
	r.AddTotal(2)
	r.Start("general")
	r.Done("general", 120)
	r.Start("random\x1b[2J") // a control character in a name cannot reach the terminal
	r.Done("random\x1b[2J", 1)
	r.End()
	want := clr + "[0/2] 0 new messages" +
		clr + "[0/2] 0 new messages | exporting general" +
		clr + "[1/2] 120 new messages" +
		clr + "[1/2] 120 new messages | exporting random [2J" +
		clr + "[2/2] 121 new messages" +
		clr
	if got := out.String(); got != want {
		t.Errorf("terminal output\n got %q\nwant %q", got, want)
	}
}

func TestPlainLinesOffTerminal(t *testing.T) {
	var out, logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	r := New(&out, false, log)
	r.AddTotal(3)
	r.Start("a")
	r.Done("a", 5)
	r.Start("b")
	r.Done("b", 0)
	r.End()
	if out.Len() != 0 {
		t.Errorf("wrote %q to the stream off a terminal", out.String())
	}
	want := `level=INFO msg="channel done" channel=a n=1 of=3 appended=5 appended_total=5
level=INFO msg="channel done" channel=b n=2 of=3 appended=0 appended_total=5
level=INFO msg="channels done" n=2 of=3 appended_total=5
`
	if logs.String() != want {
		t.Errorf("logs\n got %s\nwant %s", logs.String(), want)
	}
	if w := r.Writer(&out); w != &out {
		t.Error("Writer wrapped the stream off a terminal")
	}
}

func TestWriterKeepsStatusBelowLogLines(t *testing.T) {
	var out bytes.Buffer
	r := New(&out, true, nil)
	r.AddTotal(1)
	w := r.Writer(&out)
	fmt.Fprint(w, "level=INFO msg=hello\n")
	r.End()
	fmt.Fprint(w, "after\n")
	want := clr + "[0/1] 0 new messages" +
		clr + "level=INFO msg=hello\n" + clr + "[0/1] 0 new messages" +
		clr +
		"after\n" + clr + "[0/1] 0 new messages"
	if got := out.String(); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestParallelActiveAndWidth(t *testing.T) {
	var out bytes.Buffer
	r := New(&out, true, nil)
	r.SetWidth(40)
	r.AddTotal(3)
	r.Start("a-very-long-channel-name-that-does-not-fit")
	r.Start("b")
	out.Reset()
	r.Start("c")
	got := strings.TrimPrefix(out.String(), clr)
	// Width 40: at most 39 runes, so the cursor never wraps.
	if got != "[0/3] 0 new messages | exporting a-ver…" || len([]rune(got)) != 39 {
		t.Errorf("status %q", got)
	}
	r.Done("a-very-long-channel-name-that-does-not-fit", 1)
	out.Reset()
	r.Done("c", 0)
	if got := strings.TrimPrefix(out.String(), clr); got != "[2/3] 1 new message | exporting b" {
		t.Errorf("status %q", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	var out bytes.Buffer
	r := New(&out, true, nil)
	r.AddTotal(50)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			label := fmt.Sprintf("ch%d", i)
			r.Start(label)
			r.Done(label, 2)
		}(i)
	}
	wg.Wait()
	done, total, appended := r.Counts()
	if done != 50 || total != 50 || appended != 100 {
		t.Errorf("counts %d/%d, %d appended; want 50/50, 100", done, total, appended)
	}
}

func TestNilReporter(t *testing.T) {
	var r *Reporter
	r.AddTotal(1)
	r.Start("a")
	r.Done("a", 1)
	r.End()
	r.SetWidth(80)
	var out bytes.Buffer
	if r.Writer(&out) != &out {
		t.Error("nil Reporter wrapped the writer")
	}
	if d, tot, a := r.Counts(); d+tot+a != 0 {
		t.Error("nil Reporter has counts")
	}
}

// A run inside the container logs plain lines; the host's terminal
// Reporter rebuilds its status line from them.
func TestObserveInnerRunLines(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var logs bytes.Buffer
			var h slog.Handler = slog.NewTextHandler(&logs, nil)
			if format == "json" {
				h = slog.NewJSONHandler(&logs, nil)
			}
			inner := New(io.Discard, false, slog.New(h))
			inner.AddTotal(3)
			inner.Start(`my "quoted" channel`)
			inner.Done(`my "quoted" channel`, 4)
			inner.Start("b")
			inner.Done("b", 2)

			var screen bytes.Buffer
			host := New(&screen, true, nil)
			for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				if !host.Observe(line) {
					t.Errorf("Observe(%q) = false", line)
				}
			}
			if done, total, appended := host.Counts(); done != 2 || total != 3 || appended != 6 {
				t.Errorf("counts %d/%d %d, want 2/3 6", done, total, appended)
			}
			if !strings.HasSuffix(screen.String(), clr+"[2/3] 6 new messages") {
				t.Errorf("screen %q", screen.String())
			}
		})
	}
}

func TestObserveIgnoresOtherLines(t *testing.T) {
	var screen bytes.Buffer
	host := New(&screen, true, nil)
	for _, line := range []string{
		"",
		"plain output of docker compose",
		`time=x level=INFO msg="channel done soon" n=1 of=2`,
		`time=x level=INFO msg="starting scrape" n=1 of=2`,
		`time=x level=INFO msg="channel done" channel=a`,
		`{"msg":"starting","n":1,"of":2}`,
		`{"msg":"channel done"`,
	} {
		if host.Observe(line) {
			t.Errorf("Observe(%q) = true", line)
		}
	}
	if screen.Len() != 0 {
		t.Errorf("screen changed: %q", screen.String())
	}
	var nilR *Reporter
	if nilR.Observe(`level=INFO msg="channel done" n=1 of=1`) {
		t.Error("nil Reporter observed a line")
	}
}
