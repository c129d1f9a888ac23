// Package metrics writes the outcome of a run as a Prometheus text file
// (DCE_METRICS_FILE), for node_exporter's textfile collector: HELP and TYPE
// lines, dcehost_* gauges, label values escaped, the file replaced
// atomically so the collector never reads half of it.
package metrics

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dcehost/dcehost/internal/atomicfile"
	"github.com/dcehost/dcehost/internal/summary"
)

// FileVar is the variable naming the metrics file.
const FileVar = "DCE_METRICS_FILE"

// Run is the outcome of one run.
type Run struct {
	// Command is the kind of run ("scrape", "salvage", ...); a label.
	Command  string
	Started  time.Time
	Finished time.Time
	ExitCode int
	// MessagesAppended is the run's total of new messages.
	MessagesAppended int64
	// Channels counts the run's channels by action (CREATED, MERGED,
	// UNCHANGED, SKIPPED, SKIPPED_OOM, FAILED, ...). Nil when the run
	// produced no summary.
	Channels map[string]int
	// Targets are the per-target figures.
	Targets []Target
}

// Target is one target's share of a run.
type Target struct {
	Name             string
	MessagesAppended int64
	Channels         map[string]int // by action
}

// Metric names.
const (
	nameLastRun       = "dcehost_last_run_timestamp_seconds"
	nameLastStart     = "dcehost_last_run_start_timestamp_seconds"
	nameDuration      = "dcehost_last_run_duration_seconds"
	nameExitCode      = "dcehost_last_run_exit_code"
	nameSuccess       = "dcehost_last_run_success"
	nameLastSuccess   = "dcehost_last_success_timestamp_seconds"
	nameMessages      = "dcehost_last_run_messages_appended"
	nameChannels      = "dcehost_last_run_channels"
	nameTargetMsgs    = "dcehost_last_run_target_messages_appended"
	nameTargetChannel = "dcehost_last_run_target_channels"
)

// Render returns the text file for run. lastSuccess is the time of the
// last successful run before this one (zero when unknown); it is carried
// over when this run failed, so an alert on "no success for N days" works.
func Render(run Run, lastSuccess time.Time) []byte {
	var b bytes.Buffer
	cmd := run.Command
	if cmd == "" {
		cmd = "scrape"
	}
	base := []label{{"command", cmd}}
	gauge := func(name, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", name, escapeHelp(help), name)
	}
	sample := func(name string, labels []label, v float64) {
		b.WriteString(name)
		writeLabels(&b, labels)
		b.WriteByte(' ')
		b.WriteString(formatValue(v))
		b.WriteByte('\n')
	}

	gauge(nameLastStart, "Unix time the last dcehost run started.")
	sample(nameLastStart, base, unix(run.Started))
	gauge(nameLastRun, "Unix time the last dcehost run finished.")
	sample(nameLastRun, base, unix(run.Finished))
	gauge(nameDuration, "Wall-clock duration of the last dcehost run in seconds.")
	d := run.Finished.Sub(run.Started).Seconds()
	if d < 0 || run.Started.IsZero() {
		d = 0
	}
	sample(nameDuration, base, d)
	gauge(nameExitCode, "Exit code of the last dcehost run (0 success, 7 some channels failed, see the exit-code table).")
	sample(nameExitCode, base, float64(run.ExitCode))
	gauge(nameSuccess, "1 when the last dcehost run exited 0, else 0.")
	ok := 0.0
	if run.ExitCode == 0 {
		ok = 1
		lastSuccess = run.Finished
	}
	sample(nameSuccess, base, ok)
	if !lastSuccess.IsZero() {
		gauge(nameLastSuccess, "Unix time of the last dcehost run that exited 0.")
		sample(nameLastSuccess, base, unix(lastSuccess))
	}
	gauge(nameMessages, "Messages appended to archives by the last dcehost run.")
	sample(nameMessages, base, float64(run.MessagesAppended))

	if run.Channels != nil {
		gauge(nameChannels, "Channels of the last dcehost run by action.")
		for _, action := range actions(run.Channels) {
			sample(nameChannels, append(base[:1:1], label{"action", strings.ToLower(action)}), float64(run.Channels[action]))
		}
	}
	if len(run.Targets) > 0 {
		targets := append([]Target(nil), run.Targets...)
		sort.SliceStable(targets, func(i, j int) bool { return targets[i].Name < targets[j].Name })
		gauge(nameTargetMsgs, "Messages appended by the last dcehost run, per target.")
		for _, t := range targets {
			sample(nameTargetMsgs, append(base[:1:1], label{"target", t.Name}), float64(t.MessagesAppended))
		}
		gauge(nameTargetChannel, "Channels of the last dcehost run per target and action.")
		for _, t := range targets {
			for _, action := range actions(t.Channels) {
				sample(nameTargetChannel, append(base[:1:1], label{"target", t.Name}, label{"action", strings.ToLower(action)}), float64(t.Channels[action]))
			}
		}
	}
	return b.Bytes()
}

// Write renders run into path atomically: a temporary file in the same
// directory, fsync, rename over path, fsync of the directory. The file is
// world-readable (0644) so the collector can read it. The last success
// time is carried over from the file being replaced.
func Write(path string, run Run) error {
	prev, err := LastSuccess(path)
	if err != nil {
		// A damaged previous file only loses the carried-over time.
		prev = time.Time{}
	}
	data := Render(run, prev)
	// Exactly 0644 whatever the replaced file had: the collector reads it.
	if err := atomicfile.WriteFileMode(path, data, 0o644); err != nil {
		return fmt.Errorf("metrics file: %w", err)
	}
	return nil
}

// LastSuccess reads the last-success time from an existing metrics file
// (zero time, no error when the file does not exist or has none).
func LastSuccess(path string) (time.Time, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("metrics file %s: %w", path, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, nameLastSuccess+"{") && !strings.HasPrefix(line, nameLastSuccess+" ") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil || v <= 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return time.Time{}, fmt.Errorf("metrics file %s: bad %s value %q", path, nameLastSuccess, line[i+1:])
		}
		sec, frac := math.Modf(v)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	return time.Time{}, nil
}

type label struct{ name, value string }

func writeLabels(b *bytes.Buffer, labels []label) {
	if len(labels) == 0 {
		return
	}
	b.WriteByte('{')
	for i, l := range labels {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.name)
		b.WriteString(`="`)
		b.WriteString(escapeLabel(l.value))
		b.WriteByte('"')
	}
	b.WriteByte('}')
}

// escapeLabel escapes a label value: backslash, double quote and line feed
// (the text format's rules).
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// escapeHelp escapes HELP text: backslash and line feed.
func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

func formatValue(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func unix(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMilli()) / 1000
}

// actions returns the map's keys sorted, so the file is the same for the
// same run. (Label values are the actions lower-cased: action="merged".)
func actions(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// FromSummary fills run's message and channel figures from a run summary
// (nil leaves them empty: a run that ended before writing one). Failed
// channels count under the action "FAILED"; a failure of a whole target
// (no channel id) counts there too.
func FromSummary(run Run, sum *summary.Summary) Run {
	if sum == nil {
		return run
	}
	run.MessagesAppended = int64(sum.Totals.MessagesAppended)
	run.Channels = map[string]int{}
	byTarget := map[string]*Target{}
	var order []string
	target := func(name string) *Target {
		t, ok := byTarget[name]
		if !ok {
			t = &Target{Name: name, Channels: map[string]int{}}
			byTarget[name] = t
			order = append(order, name)
		}
		return t
	}
	for _, c := range sum.Channels {
		action := string(c.Action)
		run.Channels[action]++
		t := target(c.Target)
		t.Channels[action]++
		if c.Delta > 0 {
			t.MessagesAppended += int64(c.Delta)
		}
	}
	for _, f := range sum.Failed {
		run.Channels[failedAction]++
		target(f.Target).Channels[failedAction]++
	}
	run.Targets = run.Targets[:0:0]
	for _, name := range order {
		run.Targets = append(run.Targets, *byTarget[name])
	}
	return run
}

// failedAction is the action label of failed channels.
const failedAction = "FAILED"
