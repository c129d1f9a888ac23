package metrics

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcehost/dcehost/internal/summary"
)

// parseExposition parses data by the Prometheus text exposition format
// rules and fails on anything the format (or node_exporter's textfile
// collector) rejects: a sample before its TYPE, a family split in two, a
// repeated HELP/TYPE or series, a bad name, label or value, a missing final
// line feed. It returns series ("name{a=\"x\",b=\"y\"}" with labels sorted
// and values unescaped) -> value, and the family -> type map.
func parseExposition(data string) (map[string]float64, map[string]string, error) {
	nameRe := regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelRe := regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	if !strings.HasSuffix(data, "\n") {
		return nil, nil, fmt.Errorf("exposition does not end with a line feed")
	}
	series := map[string]float64{}
	types := map[string]string{}
	helps := map[string]bool{}
	done := map[string]bool{} // families whose samples are over
	current := ""
	for n, line := range strings.Split(strings.TrimSuffix(data, "\n"), "\n") {
		n++
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			f := strings.SplitN(line, " ", 4)
			if len(f) < 3 || (f[1] != "HELP" && f[1] != "TYPE") {
				continue // a plain comment
			}
			name := f[2]
			if !nameRe.MatchString(name) {
				return nil, nil, fmt.Errorf("line %d: bad metric name %q", n, name)
			}
			if done[name] || current == name {
				return nil, nil, fmt.Errorf("line %d: %s for family %s after its samples", n, f[1], name)
			}
			if f[1] == "HELP" {
				if helps[name] {
					return nil, nil, fmt.Errorf("line %d: second HELP for %s", n, name)
				}
				helps[name] = true
				if len(f) == 4 && regexp.MustCompile(`\\[^\\n]`).MatchString(f[3]) {
					return nil, nil, fmt.Errorf("line %d: bad escape in HELP %q", n, f[3])
				}
			} else {
				if types[name] != "" {
					return nil, nil, fmt.Errorf("line %d: second TYPE for %s", n, name)
				}
				if len(f) != 4 || !map[string]bool{"counter": true, "gauge": true, "histogram": true, "summary": true, "untyped": true}[f[3]] {
					return nil, nil, fmt.Errorf("line %d: bad TYPE line %q", n, line)
				}
				types[name] = f[3]
			}
			continue
		}
		// A sample: name [{labels}] value [timestamp]
		i := strings.IndexAny(line, "{ ")
		if i <= 0 {
			return nil, nil, fmt.Errorf("line %d: bad sample %q", n, line)
		}
		name := line[:i]
		if !nameRe.MatchString(name) {
			return nil, nil, fmt.Errorf("line %d: bad metric name %q", n, name)
		}
		if types[name] == "" {
			return nil, nil, fmt.Errorf("line %d: sample of %s before its TYPE line", n, name)
		}
		if name != current {
			if current != "" {
				done[current] = true
			}
			if done[name] {
				return nil, nil, fmt.Errorf("line %d: samples of %s are not contiguous", n, name)
			}
			current = name
		}
		rest := line[i:]
		var labels []string
		seen := map[string]bool{}
		if rest[0] == '{' {
			rest = rest[1:]
			for {
				if strings.HasPrefix(rest, "}") {
					rest = rest[1:]
					break
				}
				eq := strings.Index(rest, `="`)
				if eq <= 0 {
					return nil, nil, fmt.Errorf("line %d: bad label in %q", n, line)
				}
				lname := rest[:eq]
				if !labelRe.MatchString(lname) || strings.HasPrefix(lname, "__") || seen[lname] {
					return nil, nil, fmt.Errorf("line %d: bad or repeated label name %q", n, lname)
				}
				seen[lname] = true
				rest = rest[eq+2:]
				var val strings.Builder
				closed := false
				for j := 0; j < len(rest); j++ {
					c := rest[j]
					if c == '\\' {
						if j+1 >= len(rest) {
							return nil, nil, fmt.Errorf("line %d: dangling backslash", n)
						}
						switch rest[j+1] {
						case '\\':
							val.WriteByte('\\')
						case '"':
							val.WriteByte('"')
						case 'n':
							val.WriteByte('\n')
						default:
							return nil, nil, fmt.Errorf("line %d: bad escape \\%c in label value", n, rest[j+1])
						}
						j++
						continue
					}
					if c == '"' {
						rest = rest[j+1:]
						closed = true
						break
					}
					val.WriteByte(c)
				}
				if !closed {
					return nil, nil, fmt.Errorf("line %d: unterminated label value", n)
				}
				labels = append(labels, fmt.Sprintf("%s=%q", lname, val.String()))
				if strings.HasPrefix(rest, ",") {
					rest = rest[1:]
				}
			}
		}
		if !strings.HasPrefix(rest, " ") {
			return nil, nil, fmt.Errorf("line %d: want a space before the value in %q", n, line)
		}
		fields := strings.Fields(rest)
		if len(fields) < 1 || len(fields) > 2 {
			return nil, nil, fmt.Errorf("line %d: want a value and an optional timestamp in %q", n, line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, nil, fmt.Errorf("line %d: bad value %q", n, fields[0])
		}
		if len(fields) == 2 {
			if _, err := strconv.ParseInt(fields[1], 10, 64); err != nil {
				return nil, nil, fmt.Errorf("line %d: bad timestamp %q", n, fields[1])
			}
		}
		sort.Strings(labels)
		key := name + "{" + strings.Join(labels, ",") + "}"
		if _, dup := series[key]; dup {
			return nil, nil, fmt.Errorf("line %d: repeated series %s", n, key)
		}
		series[key] = v
	}
	return series, types, nil
}

func mustParse(t *testing.T, data string) (map[string]float64, map[string]string) {
	t.Helper()
	series, types, err := parseExposition(data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	return series, types
}

// The checker itself must reject what the format forbids.
func TestCheckerRejects(t *testing.T) {
	bad := map[string]string{
		"no type":       "dcehost_x 1\n",
		"split family":  "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x=\"1\"} 2\n",
		"dup series":    "# TYPE a gauge\na{x=\"1\"} 1\na{x=\"1\"} 2\n",
		"bad escape":    "# TYPE a gauge\na{x=\"\\t\"} 1\n",
		"bad value":     "# TYPE a gauge\na one\n",
		"no final LF":   "# TYPE a gauge\na 1",
		"bad name":      "# TYPE 1a gauge\n1a 1\n",
		"reserved lbl":  "# TYPE a gauge\na{__x=\"1\"} 1\n",
		"unterminated":  "# TYPE a gauge\na{x=\"1} 1\n",
		"two types":     "# TYPE a gauge\n# TYPE a gauge\na 1\n",
		"bad type word": "# TYPE a gaugey\na 1\n",
		"help late":     "# TYPE a gauge\na 1\n# HELP a late\n",
	}
	for name, data := range bad {
		t.Run(name, func(t *testing.T) {
			if _, _, err := parseExposition(data); err == nil {
				t.Errorf("checker accepted %q", data)
			}
		})
	}
}

func sampleRun() Run {
	start := time.Date(2026, 6, 4, 4, 0, 0, 0, time.UTC)
	return Run{
		Command:          "scrape",
		Started:          start,
		Finished:         start.Add(90*time.Second + 500*time.Millisecond),
		ExitCode:         7,
		MessagesAppended: 42,
		Channels:         map[string]int{"MERGED": 1, "UNCHANGED": 3, "SKIPPED": 1, "FAILED": 1},
		Targets: []Target{
			{Name: `weird "name"\with` + "\nnewline", MessagesAppended: 0, Channels: map[string]int{"FAILED": 1}},
			{Name: "myserver", MessagesAppended: 42, Channels: map[string]int{"MERGED": 1, "UNCHANGED": 3, "SKIPPED": 1}},
		},
	}
}

func TestRenderParsesAndCarriesValues(t *testing.T) {
	prevSuccess := time.Date(2026, 5, 4, 4, 2, 0, 0, time.UTC)
	series, types := mustParse(t, string(Render(sampleRun(), prevSuccess)))
	want := map[string]float64{
		`dcehost_last_run_start_timestamp_seconds{command="scrape"}`:                                                1780545600,
		`dcehost_last_run_timestamp_seconds{command="scrape"}`:                                                      1780545690.5,
		`dcehost_last_run_duration_seconds{command="scrape"}`:                                                       90.5,
		`dcehost_last_run_exit_code{command="scrape"}`:                                                              7,
		`dcehost_last_run_success{command="scrape"}`:                                                                0,
		`dcehost_last_success_timestamp_seconds{command="scrape"}`:                                                  float64(prevSuccess.Unix()),
		`dcehost_last_run_messages_appended{command="scrape"}`:                                                      42,
		`dcehost_last_run_channels{action="failed",command="scrape"}`:                                               1,
		`dcehost_last_run_channels{action="merged",command="scrape"}`:                                               1,
		`dcehost_last_run_channels{action="skipped",command="scrape"}`:                                              1,
		`dcehost_last_run_channels{action="unchanged",command="scrape"}`:                                            3,
		`dcehost_last_run_target_messages_appended{command="scrape",target="myserver"}`:                             42,
		`dcehost_last_run_target_messages_appended{command="scrape",target="weird \"name\"\\with\nnewline"}`:        0,
		`dcehost_last_run_target_channels{action="failed",command="scrape",target="weird \"name\"\\with\nnewline"}`: 1,
		`dcehost_last_run_target_channels{action="merged",command="scrape",target="myserver"}`:                      1,
		`dcehost_last_run_target_channels{action="skipped",command="scrape",target="myserver"}`:                     1,
		`dcehost_last_run_target_channels{action="unchanged",command="scrape",target="myserver"}`:                   3,
	}
	for k, v := range want {
		got, ok := series[k]
		if !ok {
			t.Errorf("missing series %s", k)
			continue
		}
		if math.Abs(got-v) > 1e-9 {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	for k := range series {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected series %s", k)
		}
	}
	for name, typ := range types {
		if typ != "gauge" || !strings.HasPrefix(name, "dcehost_") {
			t.Errorf("family %s has type %s; want dcehost_* gauges", name, typ)
		}
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	a := Render(sampleRun(), time.Time{})
	for i := 0; i < 20; i++ {
		if b := Render(sampleRun(), time.Time{}); string(a) != string(b) {
			t.Fatalf("render %d differs:\n%s\n---\n%s", i, a, b)
		}
	}
}

func TestRunWithoutSummary(t *testing.T) {
	run := Run{Started: time.Unix(100, 0), Finished: time.Unix(50, 0), ExitCode: 3}
	series, _ := mustParse(t, string(Render(run, time.Time{})))
	if _, ok := series[`dcehost_last_success_timestamp_seconds{command="scrape"}`]; ok {
		t.Error("last success written although none is known")
	}
	if v := series[`dcehost_last_run_duration_seconds{command="scrape"}`]; v != 0 {
		t.Errorf("negative duration not clamped: %v", v)
	}
	for k := range series {
		if strings.Contains(k, "channels") || strings.Contains(k, "target") {
			t.Errorf("series %s written for a run without a summary", k)
		}
	}
}

func TestWriteAtomicAndCarriesLastSuccess(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dcehost.prom")
	// A private file left by hand is replaced by a readable one.
	if err := os.WriteFile(path, []byte("# old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := sampleRun()
	ok.ExitCode = 0
	if err := Write(path, ok); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644 (the collector must read it)", st.Mode().Perm())
	}
	got, err := LastSuccess(path)
	if err != nil || !got.Equal(ok.Finished) {
		t.Fatalf("LastSuccess = %v, %v; want %v", got, err, ok.Finished)
	}

	failed := sampleRun()
	failed.Started = ok.Finished.Add(24 * time.Hour)
	failed.Finished = failed.Started.Add(time.Minute)
	if err := Write(path, failed); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	series, _ := mustParse(t, string(data))
	if v := series[`dcehost_last_success_timestamp_seconds{command="scrape"}`]; v != unix(ok.Finished) {
		t.Errorf("last success after a failed run = %v, want %v carried over", v, unix(ok.Finished))
	}
	if v := series[`dcehost_last_run_exit_code{command="scrape"}`]; v != 7 {
		t.Errorf("exit code %v, want 7", v)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %q; want only the metrics file (no temp files left)", names)
	}
}

func TestWriteErrorNamesPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing-dir", "dcehost.prom")
	err := Write(path, sampleRun())
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Write into a missing directory = %v, want an error naming %s", err, path)
	}
}

func TestLastSuccessBadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.prom")
	if err := os.WriteFile(path, []byte(nameLastSuccess+"{command=\"scrape\"} yesterday\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LastSuccess(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("LastSuccess on a damaged file = %v, want an error naming it", err)
	}
	// Write still succeeds; only the carried-over time is lost.
	if err := Write(path, Run{ExitCode: 1, Started: time.Unix(1, 0), Finished: time.Unix(2, 0)}); err != nil {
		t.Fatal(err)
	}
}

func TestFromSummary(t *testing.T) {
	sum := summary.New()
	sum.Add(summary.Channel{Target: "a", ChannelID: "1", Action: summary.Merged, Delta: 5})
	sum.Add(summary.Channel{Target: "a", ChannelID: "2", Action: summary.Unchanged})
	sum.Add(summary.Channel{Target: "b", ChannelID: "3", Action: summary.Created, Delta: 7})
	sum.Add(summary.Channel{Target: "b", ChannelID: "4", Action: summary.SkippedOOM})
	sum.Fail(summary.Failure{Target: "c", Error: "output_dir unreadable"})
	start := time.Unix(1000, 0)
	run := FromSummary(Run{Command: "scrape", Started: start, Finished: start.Add(time.Minute), ExitCode: 7}, sum)
	series, _ := mustParse(t, string(Render(run, time.Time{})))
	want := map[string]float64{
		`dcehost_last_run_messages_appended{command="scrape"}`:                               12,
		`dcehost_last_run_channels{action="merged",command="scrape"}`:                        1,
		`dcehost_last_run_channels{action="unchanged",command="scrape"}`:                     1,
		`dcehost_last_run_channels{action="created",command="scrape"}`:                       1,
		`dcehost_last_run_channels{action="skipped_oom",command="scrape"}`:                   1,
		`dcehost_last_run_channels{action="failed",command="scrape"}`:                        1,
		`dcehost_last_run_target_messages_appended{command="scrape",target="a"}`:             5,
		`dcehost_last_run_target_messages_appended{command="scrape",target="b"}`:             7,
		`dcehost_last_run_target_messages_appended{command="scrape",target="c"}`:             0,
		`dcehost_last_run_target_channels{action="failed",command="scrape",target="c"}`:      1,
		`dcehost_last_run_target_channels{action="skipped_oom",command="scrape",target="b"}`: 1,
	}
	for k, v := range want {
		if got, ok := series[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	if got := FromSummary(Run{ExitCode: 3}, nil); got.Channels != nil || got.Targets != nil {
		t.Errorf("FromSummary(nil) = %+v, want no channel figures", got)
	}
}
