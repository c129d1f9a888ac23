// Package progress shows how far a scrape has got: channel i of N and the
// messages appended so far. On a terminal it keeps one status line up to
// date at the bottom of the output; elsewhere (cron, a log file) it logs
// one plain line per finished channel instead.
package progress

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/dcehost/dcehost/internal/iostreams"
)

// Reporter receives the progress of a run. It is safe for concurrent use
// (channels export in parallel). A nil *Reporter does nothing.
type Reporter struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	log      *slog.Logger
	width    int
	total    int
	done     int
	appended int
	active   []string // labels of channels being exported, in start order
	shown    bool     // a status line is on screen
}

// New returns a Reporter. With tty true it draws a status line on w (the
// terminal, standard error); otherwise it logs a line per finished channel
// to log (nil: nothing is logged).
func New(w io.Writer, tty bool, log *slog.Logger) *Reporter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reporter{w: w, tty: tty, log: log, width: 100}
}

// SetWidth sets the terminal width the status line is cut to (default 100).
func (r *Reporter) SetWidth(n int) {
	if r == nil || n < 20 {
		return
	}
	r.mu.Lock()
	r.width = n
	r.mu.Unlock()
}

// AddTotal adds n channels to the run's total (called once per target
// after its channels are resolved).
func (r *Reporter) AddTotal(n int) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.total += n
	r.draw()
}

// Start records that a channel's export started.
func (r *Reporter) Start(label string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.active = append(r.active, label)
	r.draw()
}

// Done records that a channel finished with appended new messages (0 for
// an unchanged, skipped or failed channel).
func (r *Reporter) Done(label string, appended int) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, a := range r.active {
		if a == label {
			r.active = append(r.active[:i], r.active[i+1:]...)
			break
		}
	}
	r.done++
	if appended > 0 {
		r.appended += appended
	}
	if !r.tty {
		r.log.Info(doneMsg, "channel", label, "n", r.done, "of", r.total,
			"appended", appended, "appended_total", r.appended)
		return
	}
	r.draw()
}

// End removes the status line (on a terminal) and logs the totals.
func (r *Reporter) End() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clear()
	if !r.tty {
		r.log.Info("channels done", "n", r.done, "of", r.total, "appended_total", r.appended)
	}
}

// Counts returns channels done, the total, and messages appended so far.
func (r *Reporter) Counts() (done, total, appended int) {
	if r == nil {
		return 0, 0, 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.done, r.total, r.appended
}

// Writer returns w wrapped so that each write (a log line) first clears the
// status line and then draws it again below the line: logs and progress
// share the terminal without garbling each other. Off a terminal it
// returns w unchanged.
func (r *Reporter) Writer(w io.Writer) io.Writer {
	if r == nil || !r.tty {
		return w
	}
	return &lineWriter{r: r, w: w}
}

type lineWriter struct {
	r *Reporter
	w io.Writer
}

func (lw *lineWriter) Write(p []byte) (int, error) {
	lw.r.mu.Lock()
	defer lw.r.mu.Unlock()
	lw.r.clear()
	n, err := lw.w.Write(p)
	lw.r.draw()
	return n, err
}

// status is the text of the status line.
func (r *Reporter) status() string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%d/%d] %d new message", r.done, r.total, r.appended)
	if r.appended != 1 {
		b.WriteString("s")
	}
	if len(r.active) > 0 {
		b.WriteString(" | exporting ")
		b.WriteString(r.active[0])
		if len(r.active) > 1 {
			fmt.Fprintf(&b, " (+%d more)", len(r.active)-1)
		}
	}
	return clip(b.String(), r.width-1)
}

// draw rewrites the status line (terminal only). Callers hold r.mu.
func (r *Reporter) draw() {
	if !r.tty {
		return
	}
	fmt.Fprintf(r.w, "\r\x1b[K%s", r.status())
	r.shown = true
}

// clear erases the status line (terminal only). Callers hold r.mu.
func (r *Reporter) clear() {
	if !r.tty || !r.shown {
		return
	}
	io.WriteString(r.w, "\r\x1b[K")
	r.shown = false
}

// clip cuts s to at most n runes, marking the cut with "…"; control
// characters become spaces so a channel name cannot move the cursor.
func clip(s string, n int) string {
	s = iostreams.OneLine(s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	runes := []rune(s)
	return string(runes[:n-1]) + "…"
}

// The message of the per-channel log record, and its keys. A run inside
// the container (compose runner) logs these lines; the host feeds them to
// Observe to keep its own status line.
const (
	doneMsg = "channel done"
)

var textRecordRe = regexp.MustCompile(`(?:^|\s)msg="channel done"(?:\s|$)`)
var textFieldRe = regexp.MustCompile(`(?:^|\s)(channel|n|of|appended_total)=("(?:[^"\\]|\\.)*"|\S+)`)

// Observe reads one log line of an inner run (text or JSON, as written by
// a Reporter off a terminal). When it is a "channel done" record the
// status line is updated from it and Observe returns true; any other line
// returns false and changes nothing.
func (r *Reporter) Observe(line string) bool {
	if r == nil {
		return false
	}
	var (
		label         string
		n, of, appTot int
		haveN, haveOf bool
		haveAppendTot bool
	)
	trimmed := strings.TrimSpace(line)
	switch {
	case strings.HasPrefix(trimmed, "{"):
		var rec struct {
			Msg           string `json:"msg"`
			Channel       string `json:"channel"`
			N             *int   `json:"n"`
			Of            *int   `json:"of"`
			AppendedTotal *int   `json:"appended_total"`
		}
		if err := json.Unmarshal([]byte(trimmed), &rec); err != nil || rec.Msg != doneMsg {
			return false
		}
		label = rec.Channel
		if rec.N != nil {
			n, haveN = *rec.N, true
		}
		if rec.Of != nil {
			of, haveOf = *rec.Of, true
		}
		if rec.AppendedTotal != nil {
			appTot, haveAppendTot = *rec.AppendedTotal, true
		}
	case textRecordRe.MatchString(trimmed):
		for _, m := range textFieldRe.FindAllStringSubmatch(trimmed, -1) {
			v := m[2]
			if strings.HasPrefix(v, `"`) {
				if u, err := strconv.Unquote(v); err == nil {
					v = u
				}
			}
			num, err := strconv.Atoi(v)
			switch m[1] {
			case "channel":
				label = v
			case "n":
				n, haveN = num, err == nil
			case "of":
				of, haveOf = num, err == nil
			case "appended_total":
				appTot, haveAppendTot = num, err == nil
			}
		}
	default:
		return false
	}
	if !haveN || !haveOf {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done, r.total = n, of
	if haveAppendTot {
		r.appended = appTot
	}
	for i, a := range r.active {
		if a == label {
			r.active = append(r.active[:i], r.active[i+1:]...)
			break
		}
	}
	r.draw()
	return true
}
