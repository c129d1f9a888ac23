package cron

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// DefaultJobName is the job name of the managed block; the old shell
// installer used the same, so its block is taken over.
const DefaultJobName = "discord-scrape"

var jobNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CheckJobName refuses a job name that could not stand alone on a marker
// line: it must be letters, digits, '.', '_' or '-' (at most 64).
func CheckJobName(name string) error {
	if !jobNameRe.MatchString(name) {
		return &JobNameError{Name: name}
	}
	return nil
}

// JobNameError reports a bad --job-name.
type JobNameError struct{ Name string }

func (e *JobNameError) Error() string {
	return fmt.Sprintf("job name %q: want letters, digits, '.', '_' or '-' (starting with a letter or digit, at most 64)", e.Name)
}

// DamagedBlockError reports markers of the job that do not form exactly
// one BEGIN ... END pair. Nothing is guessed: the operator fixes the
// crontab (crontab -e) and runs the command again.
type DamagedBlockError struct {
	Name   string
	Reason string
}

func (e *DamagedBlockError) Error() string {
	return fmt.Sprintf("the crontab's block %q is damaged: %s; fix or delete those lines with 'crontab -e' (every line between \"# BEGIN %s\" and \"# END %s\" belongs to the block), then run again",
		e.Name, e.Reason, e.Name, e.Name)
}

// ManagedComment is the line under the BEGIN marker of a block dcehost
// wrote.
const ManagedComment = "# managed by dcehost: change with 'dcehost cron install', delete with 'dcehost cron remove'"

// RenderBlock returns the block for job name running command on sched,
// ending with a newline.
func RenderBlock(name string, sched *Schedule, command string) string {
	return "# BEGIN " + name + "\n" + ManagedComment + "\n" + sched.Expr + " " + command + "\n# END " + name + "\n"
}

type line struct {
	start, end int // byte offsets of the line including its terminator
	text       string
}

// splitLines splits data into lines, each keeping its terminator.
func splitLines(data []byte) []line {
	var lines []line
	for start := 0; start < len(data); {
		end := bytes.IndexByte(data[start:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += start + 1
		}
		lines = append(lines, line{start: start, end: end, text: string(data[start:end])})
		start = end
	}
	return lines
}

// markerKind says whether a line is the BEGIN or END marker of name: the
// whole line, ignoring surrounding blanks and a CR.
func markerKind(text, name string) string {
	t := strings.Trim(text, " \t\r\n")
	switch t {
	case "# BEGIN " + name:
		return "BEGIN"
	case "# END " + name:
		return "END"
	}
	return ""
}

// span is the byte range of a found block, from the start of its BEGIN
// line to the end of its END line (terminator included).
type span struct {
	start, end         int
	beginLine, endLine int // 1-based
}

// findBlock locates the block of name in data. ok is false when there is
// none; a *DamagedBlockError when the markers are not one clean pair.
func findBlock(data []byte, name string) (span, bool, error) {
	var begins, ends []int // indexes into lines
	lines := splitLines(data)
	for i, l := range lines {
		switch markerKind(l.text, name) {
		case "BEGIN":
			begins = append(begins, i)
		case "END":
			ends = append(ends, i)
		}
	}
	damaged := func(format string, args ...any) (span, bool, error) {
		return span{}, false, &DamagedBlockError{Name: name, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case len(begins) == 0 && len(ends) == 0:
		return span{}, false, nil
	case len(begins) > 1:
		return damaged("%q appears %d times (lines %s)", "# BEGIN "+name, len(begins), lineList(begins))
	case len(ends) > 1:
		return damaged("%q appears %d times (lines %s)", "# END "+name, len(ends), lineList(ends))
	case len(ends) == 0:
		return damaged("%q on line %d has no %q after it", "# BEGIN "+name, begins[0]+1, "# END "+name)
	case len(begins) == 0:
		return damaged("%q on line %d has no %q before it", "# END "+name, ends[0]+1, "# BEGIN "+name)
	case ends[0] < begins[0]:
		return damaged("%q on line %d comes before %q on line %d", "# END "+name, ends[0]+1, "# BEGIN "+name, begins[0]+1)
	}
	return span{
		start: lines[begins[0]].start, end: lines[ends[0]].end,
		beginLine: begins[0] + 1, endLine: ends[0] + 1,
	}, true, nil
}

func lineList(idx []int) string {
	s := make([]string, len(idx))
	for i, n := range idx {
		s[i] = fmt.Sprint(n + 1)
	}
	return strings.Join(s, ", ")
}

// withNewline returns data ending with a newline (empty stays empty).
func withNewline(data []byte) []byte {
	if len(data) == 0 || data[len(data)-1] == '\n' {
		return data
	}
	return append(data[:len(data):len(data)], '\n')
}

// Install returns current with the block of name set to block (as
// rendered by RenderBlock): an existing block is replaced where it stands,
// otherwise the block is appended. Every line outside the block is kept
// byte for byte; the result ends with a newline. changed is false when the
// result equals current.
func Install(current []byte, name, block string) (out []byte, changed bool, err error) {
	sp, found, err := findBlock(current, name)
	if err != nil {
		return nil, false, err
	}
	if !found {
		out = append(withNewline(current), block...)
	} else {
		out = make([]byte, 0, len(current)+len(block))
		out = append(out, current[:sp.start]...)
		out = append(out, block...)
		out = append(out, current[sp.end:]...)
		out = withNewline(out)
	}
	return out, !bytes.Equal(out, current), nil
}

// Remove returns current without the block of name. changed is false (and
// out is current) when there is no such block.
func Remove(current []byte, name string) (out []byte, changed bool, err error) {
	sp, found, err := findBlock(current, name)
	if err != nil {
		return nil, false, err
	}
	if !found {
		return current, false, nil
	}
	out = make([]byte, 0, len(current))
	out = append(out, current[:sp.start]...)
	out = append(out, current[sp.end:]...)
	out = withNewline(out)
	return out, !bytes.Equal(out, current), nil
}

// Installed is a block found in a crontab.
type Installed struct {
	Text      string // the block, markers included, as it stands
	FirstLine int    // 1-based line of its BEGIN marker
	// JobLine is the first line in the block that is not blank, a comment
	// or an environment assignment; "" when there is none.
	JobLine string
	// Schedule is the job line's schedule, or nil with ScheduleErr set
	// when it cannot be read.
	Schedule    *Schedule
	ScheduleErr error
	// Command is what follows the schedule on the job line.
	Command string
}

var envLineRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*\s*=`)

// Find returns the installed block of name, or nil when there is none.
func Find(current []byte, name string) (*Installed, error) {
	sp, found, err := findBlock(current, name)
	if err != nil || !found {
		return nil, err
	}
	in := &Installed{Text: string(current[sp.start:sp.end]), FirstLine: sp.beginLine}
	for _, l := range splitLines(current[sp.start:sp.end]) {
		t := strings.Trim(l.text, " \t\r\n")
		if t == "" || strings.HasPrefix(t, "#") || envLineRe.MatchString(t) {
			continue
		}
		in.JobLine = t
		break
	}
	if in.JobLine == "" {
		in.ScheduleErr = fmt.Errorf("the block has no job line")
		return in, nil
	}
	words := strings.Fields(in.JobLine)
	n := 5
	if strings.HasPrefix(words[0], "@") {
		n = 1
	}
	if len(words) <= n {
		in.ScheduleErr = fmt.Errorf("job line %q has no command after its schedule", in.JobLine)
		return in, nil
	}
	in.Schedule, in.ScheduleErr = ParseSchedule(strings.Join(words[:n], " "))
	// The command as written, after the schedule's fields.
	rest := in.JobLine
	for i := 0; i < n; i++ {
		rest = strings.TrimLeft(rest, " \t")
		rest = rest[len(words[i]):]
	}
	in.Command = strings.TrimLeft(rest, " \t")
	return in, nil
}
