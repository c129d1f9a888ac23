// Package cron renders, merges and removes dcehost's managed block in a
// crontab, validates schedules the way Debian's cron reads them, computes
// their next run times, and reads and writes a crontab through the crontab
// command. Everything except the crontab I/O is pure.
package cron

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	robfig "github.com/robfig/cron/v3"
)

// ScheduleError reports a schedule that was refused, with the reason.
type ScheduleError struct {
	Expr   string
	Reason string
}

func (e *ScheduleError) Error() string {
	return fmt.Sprintf("schedule %q: %s", e.Expr, e.Reason)
}

// Schedule is a validated crontab schedule.
type Schedule struct {
	// Expr is the schedule as written into the crontab: five fields joined
	// by single spaces, or one @ macro.
	Expr string
	// Reboot is true for @reboot, which has no run times.
	Reboot bool

	fields [5]string // the five fields (a macro's equivalent)
	spec   *robfig.SpecSchedule
}

// macros are the @ forms Debian's cron understands, with their five-field
// equivalents ("" for @reboot). robfig's @every is not one of them.
var macros = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
	"@reboot":   "",
}

// smuggling names characters that would end the schedule and start a
// command (or change how cron or the shell reads the line).
var smuggling = map[rune]string{
	';':  "a command separator",
	'\n': "a line break",
	'\r': "a carriage return",
	'#':  "a comment",
	'%':  "cron's newline character",
	'`':  "command substitution",
	'$':  "shell expansion",
	'&':  "a command separator",
	'|':  "a pipe",
	'>':  "a redirection",
	'<':  "a redirection",
	'(':  "a subshell",
	')':  "a subshell",
	'\\': "an escape",
	'\'': "a quote",
	'"':  "a quote",
	'{':  "a brace group",
	'}':  "a brace group",
	'!':  "a shell history or negation",
	'=':  "an environment assignment",
}

type field struct {
	name     string
	unit     string
	min, max int
	names    map[string]int
}

var fieldDefs = [5]field{
	{"minute", "minute", 0, 59, nil},
	{"hour", "hour", 0, 23, nil},
	{"day-of-month", "day", 1, 31, nil},
	{"month", "month", 1, 12, map[string]int{
		"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
	}},
	// 7 is Sunday as well as 0.
	{"day-of-week", "day", 0, 7, map[string]int{
		"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6,
	}},
}

const starBit = 1 << 63

// ParseSchedule validates a crontab schedule: five fields (minute hour
// day-of-month month day-of-week; numbers, ranges, lists, steps, month and
// day names, day-of-week 0-7) or one of @yearly @annually @monthly @weekly
// @daily @midnight @hourly @reboot. Anything else, and in particular any
// character that could end the schedule and start a command, is refused
// with a *ScheduleError.
func ParseSchedule(expr string) (*Schedule, error) {
	bad := func(format string, args ...any) error {
		return &ScheduleError{Expr: expr, Reason: fmt.Sprintf(format, args...)}
	}
	for _, r := range expr {
		if what, ok := smuggling[r]; ok {
			return nil, bad("%q is not allowed in a schedule (%s could smuggle a command into the crontab)", r, what)
		}
		if r != ' ' && r != '\t' && !isFieldRune(r) && r != '@' {
			return nil, bad("%q is not allowed in a schedule (want numbers, names, and * , - / between five fields, or an @ macro)", r)
		}
	}
	fields := strings.Fields(expr)
	if len(fields) == 0 {
		return nil, bad("empty; want five fields (minute hour day-of-month month day-of-week) or an @ macro such as @monthly")
	}
	if strings.HasPrefix(fields[0], "@") || strings.Contains(expr, "@") {
		m := strings.ToLower(fields[0])
		equiv, ok := macros[m]
		if !ok && strings.HasPrefix(m, "@") {
			return nil, bad("unknown macro %s; want one of @yearly @annually @monthly @weekly @daily @midnight @hourly @reboot", fields[0])
		}
		if !ok || len(fields) != 1 {
			return nil, bad("an @ macro stands alone; %d words given (anything after it would become part of the command)", len(fields))
		}
		if equiv == "" {
			return &Schedule{Expr: m, Reboot: true}, nil
		}
		s, err := parseFields(expr, strings.Fields(equiv))
		if err != nil {
			return nil, err
		}
		s.Expr = m
		return s, nil
	}
	if len(fields) != 5 {
		return nil, bad("%d fields; a schedule has exactly five (minute hour day-of-month month day-of-week), anything after them would become part of the command", len(fields))
	}
	s, err := parseFields(expr, fields)
	if err != nil {
		return nil, err
	}
	s.Expr = strings.Join(fields, " ")
	return s, nil
}

func isFieldRune(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' ||
		r == '*' || r == ',' || r == '-' || r == '/'
}

// parseFields checks each field with Debian cron's grammar, has robfig
// parse the same schedule (day-of-week 7 written as 0) and fixes the
// "star" flags to cron's rule: a field that begins with * counts as
// unrestricted when deciding whether day-of-month and day-of-week must both
// match or either may.
func parseFields(expr string, fields []string) (*Schedule, error) {
	s := &Schedule{}
	copy(s.fields[:], fields)
	var bits [5]uint64
	for i, f := range fields {
		b, err := parseField(fieldDefs[i], f)
		if err != nil {
			return nil, &ScheduleError{Expr: expr, Reason: err.Error()}
		}
		bits[i] = b
	}
	// Day-of-week 7 is Sunday.
	if bits[4]&(1<<7) != 0 {
		bits[4] = bits[4]&^(1<<7) | 1
	}
	robfigFields := append([]string(nil), fields...)
	robfigFields[4] = bitList(bits[4])
	parsed, err := robfig.ParseStandard(strings.Join(robfigFields, " "))
	if err != nil {
		return nil, &ScheduleError{Expr: expr, Reason: err.Error()}
	}
	spec, ok := parsed.(*robfig.SpecSchedule)
	if !ok {
		return nil, &ScheduleError{Expr: expr, Reason: "not a plain five-field schedule"}
	}
	for i, got := range []uint64{spec.Minute, spec.Hour, spec.Dom, spec.Month, spec.Dow} {
		if got&^starBit != bits[i] {
			return nil, &ScheduleError{Expr: expr, Reason: fmt.Sprintf("%s field %q is read differently by cron and the schedule library", fieldDefs[i].name, fields[i])}
		}
	}
	spec.Dom = setStar(spec.Dom, strings.HasPrefix(fields[2], "*"))
	spec.Dow = setStar(spec.Dow, strings.HasPrefix(fields[4], "*"))
	s.spec = spec
	if len(s.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), 1)) == 0 {
		return nil, &ScheduleError{Expr: expr, Reason: "never runs (no such date)"}
	}
	return s, nil
}

func setStar(b uint64, star bool) uint64 {
	if star {
		return b | starBit
	}
	return b &^ starBit
}

func bitList(b uint64) string {
	var parts []string
	for i := 0; i < 63; i++ {
		if b&(1<<i) != 0 {
			parts = append(parts, strconv.Itoa(i))
		}
	}
	return strings.Join(parts, ",")
}

// parseField reads one field: a comma list of items, each * or N or N-M,
// the * and range forms optionally followed by /STEP (as Debian's cron: a
// single number takes no step).
func parseField(def field, text string) (uint64, error) {
	var bits uint64
	for _, item := range strings.Split(text, ",") {
		if item == "" {
			return 0, fmt.Errorf("%s field %q: empty list item", def.name, text)
		}
		rng, stepText, hasStep := strings.Cut(item, "/")
		lo, hi := def.min, def.max
		switch {
		case rng == "*":
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err error
			if lo, err = fieldValue(def, a); err != nil {
				return 0, fmt.Errorf("%s field %q: %w", def.name, text, err)
			}
			if hi, err = fieldValue(def, b); err != nil {
				return 0, fmt.Errorf("%s field %q: %w", def.name, text, err)
			}
			if lo > hi {
				return 0, fmt.Errorf("%s field %q: range %s runs backwards", def.name, text, rng)
			}
		default:
			v, err := fieldValue(def, rng)
			if err != nil {
				return 0, fmt.Errorf("%s field %q: %w", def.name, text, err)
			}
			if hasStep {
				return 0, fmt.Errorf("%s field %q: a step needs * or a range before it (cron refuses %s)", def.name, text, item)
			}
			lo, hi = v, v
		}
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 || n > def.max {
				return 0, fmt.Errorf("%s field %q: step %q: want a number from 1 to %d", def.name, text, stepText, def.max)
			}
			step = n
		}
		for v := lo; v <= hi; v += step {
			bits |= 1 << v
		}
	}
	return bits, nil
}

var numberRe = regexp.MustCompile(`^[0-9]{1,2}$`)

func fieldValue(def field, s string) (int, error) {
	if numberRe.MatchString(s) {
		n, _ := strconv.Atoi(s)
		if n < def.min || n > def.max {
			return 0, fmt.Errorf("%s is out of range %d-%d", s, def.min, def.max)
		}
		return n, nil
	}
	if v, ok := def.names[strings.ToLower(s)]; ok {
		return v, nil
	}
	if def.names != nil {
		return 0, fmt.Errorf("%q is neither a number %d-%d nor a three-letter name", s, def.min, def.max)
	}
	return 0, fmt.Errorf("%q is not a number %d-%d", s, def.min, def.max)
}

// Next returns the next n run times strictly after t, in t's location.
// @reboot has none.
func (s *Schedule) Next(t time.Time, n int) []time.Time {
	if s.Reboot || s.spec == nil {
		return nil
	}
	spec := *s.spec
	spec.Second = 1 // second 0 only
	spec.Location = t.Location()
	var out []time.Time
	for len(out) < n {
		t = spec.Next(t)
		if t.IsZero() {
			break
		}
		out = append(out, t)
	}
	return out
}

// Interval names accepted by IntervalSchedule.
const (
	Monthly = "monthly"
	Weekly  = "weekly"
	Daily   = "daily"
)

var atRe = regexp.MustCompile(`^([01]?[0-9]|2[0-3]):([0-5][0-9])$`)

// IntervalSchedule turns --interval and --at into a schedule: monthly on
// the 1st, weekly on Sunday, or daily, at H:MM or HH:MM (default 04:00).
// A bad interval or time is an *IntervalError.
func IntervalSchedule(interval, at string) (*Schedule, error) {
	if at == "" {
		at = "04:00"
	}
	m := atRe.FindStringSubmatch(at)
	if m == nil {
		return nil, &IntervalError{Flag: "--at", Value: at, Want: "a time of day H:MM or HH:MM, 00:00 to 23:59"}
	}
	hour, _ := strconv.Atoi(m[1])
	minute, _ := strconv.Atoi(m[2])
	var days string
	switch strings.ToLower(interval) {
	case "", Monthly:
		days = "1 * *"
	case Weekly:
		days = "* * 0"
	case Daily:
		days = "* * *"
	default:
		return nil, &IntervalError{Flag: "--interval", Value: interval, Want: "monthly, weekly or daily"}
	}
	return ParseSchedule(fmt.Sprintf("%d %d %s", minute, hour, days))
}

// IntervalError reports a bad --interval or --at value.
type IntervalError struct {
	Flag, Value, Want string
}

func (e *IntervalError) Error() string {
	return fmt.Sprintf("%s %q: want %s", e.Flag, e.Value, e.Want)
}

var (
	dayNames   = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	monthNames = []string{"", "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
)

// Describe says in words when the schedule runs, in the machine's local
// time.
func (s *Schedule) Describe() string {
	switch s.Expr {
	case "@reboot":
		return "once at every boot of the machine"
	case "@hourly":
		return "every day, minute 0 of every hour"
	case "@daily", "@midnight":
		return "every day at 00:00"
	case "@weekly":
		return "every Sunday at 00:00"
	case "@monthly":
		return "on day 1 of every month at 00:00"
	case "@yearly", "@annually":
		return "on day 1 of January at 00:00"
	}
	f := s.fields
	var days string
	months := ""
	if f[3] != "*" {
		months = " in " + words(f[3], fieldDefs[3], monthNames)
	}
	switch {
	case f[2] == "*" && f[4] == "*":
		days = "every day" + months
	case f[4] == "*":
		if f[3] == "*" {
			days = "on day " + words(f[2], fieldDefs[2], nil) + " of every month"
		} else {
			days = "on day " + words(f[2], fieldDefs[2], nil) + " of " + words(f[3], fieldDefs[3], monthNames)
		}
	case f[2] == "*":
		days = "every " + words(f[4], fieldDefs[4], dayNames) + months
	default:
		// Cron's rule: when either day field begins with *, both must
		// match; otherwise either may.
		join := "or"
		if strings.HasPrefix(f[2], "*") || strings.HasPrefix(f[4], "*") {
			join = "and"
		}
		days = "on day " + words(f[2], fieldDefs[2], nil) + " of the month " + join + " on " + words(f[4], fieldDefs[4], dayNames) + months
	}
	if numberRe.MatchString(f[0]) && numberRe.MatchString(f[1]) {
		m, _ := strconv.Atoi(f[0])
		h, _ := strconv.Atoi(f[1])
		return fmt.Sprintf("%s at %02d:%02d", days, h, m)
	}
	minutes := "minute " + words(f[0], fieldDefs[0], nil)
	if strings.HasPrefix(f[0], "*") {
		minutes = words(f[0], fieldDefs[0], nil)
	}
	hours := "of hour " + words(f[1], fieldDefs[1], nil)
	if strings.HasPrefix(f[1], "*") {
		hours = "of " + words(f[1], fieldDefs[1], nil)
	}
	return days + ", " + minutes + " " + hours
}

// words renders a field's list for people: single values as names where
// the field has them, ranges as "A to B", * as "every <unit>", */N as
// "every N <units>".
func words(text string, def field, names []string) string {
	var parts []string
	for _, item := range strings.Split(text, ",") {
		rng, step, hasStep := strings.Cut(item, "/")
		var p string
		switch {
		case rng == "*" && hasStep:
			p = "every " + step + " " + def.unit + "s"
		case rng == "*":
			p = "every " + def.unit
		case strings.Contains(rng, "-"):
			a, z, _ := strings.Cut(rng, "-")
			p = name(a, def, names) + " to " + name(z, def, names)
			if hasStep {
				p += " (every " + step + ")"
			}
		default:
			p = name(rng, def, names)
		}
		parts = append(parts, p)
	}
	if len(parts) > 1 {
		return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
	}
	return parts[0]
}

func name(v string, def field, names []string) string {
	n, err := fieldValue(def, v)
	if err != nil || names == nil || n >= len(names) {
		return v
	}
	return names[n]
}
