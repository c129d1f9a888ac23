package cron

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseScheduleAccepted(t *testing.T) {
	tests := []struct {
		in, expr string
	}{
		{"0 4 1 * *", "0 4 1 * *"},
		{"  0   4\t1 * *  ", "0 4 1 * *"},
		{"*/15 * * * *", "*/15 * * * *"},
		{"0 2 * * 7", "0 2 * * 7"},
		{"0 2 * * 0-7", "0 2 * * 0-7"},
		{"0 2 * * mon-fri", "0 2 * * mon-fri"},
		{"0 2 * * SUN,Sat", "0 2 * * SUN,Sat"},
		{"0 2 1 jan-jun/2 *", "0 2 1 jan-jun/2 *"},
		{"5,35 1-23/2 1,15 * *", "5,35 1-23/2 1,15 * *"},
		{"0 0 29 2 *", "0 0 29 2 *"},
		{"@monthly", "@monthly"},
		{"@MIDNIGHT", "@midnight"},
		{"@reboot", "@reboot"},
		{"@annually", "@annually"},
		{" @hourly ", "@hourly"},
	}
	for _, tt := range tests {
		s, err := ParseSchedule(tt.in)
		if err != nil {
			t.Errorf("ParseSchedule(%q): %v", tt.in, err)
			continue
		}
		if s.Expr != tt.expr {
			t.Errorf("ParseSchedule(%q).Expr = %q, want %q", tt.in, s.Expr, tt.expr)
		}
	}
}

// Every refused schedule, with a word the error must contain.
func TestParseScheduleRefused(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"0 2 * * *; touch /tmp/evil", `';'`},
		{"0 2 * * * touch /tmp/evil", "7 fields"},
		{"0 2 * * * *", "6 fields"},
		{"0 2 * *", "4 fields"},
		{"0 2 * * *\n* * * * * /bin/evil", `'\n'`},
		{"0 2 * * *\r", `'\r'`},
		{"0 2 * * * # comment", `'#'`},
		{"0 2 * * 1%2", `'%'`},
		{"0 2 * * `id`", "'`'"},
		{"0 2 * * $(id)", `'$'`},
		{"0 2 * * ${IFS}", `'$'`},
		{"0 2 * * * && id", `'&'`},
		{"0 2 * * * | sh", `'|'`},
		{"0 2 * * * > /tmp/x", `'>'`},
		{"0 2 * * * < /etc/passwd", `'<'`},
		{"0 2 * * (1)", `'('`},
		{"0 2 * * \\1", `'\\'`},
		{"0 2 * * '1'", `'\''`},
		{`0 2 * * "1"`, `'"'`},
		{"0 2 * * {1,2}", `'{'`},
		{"0 2 * * !1", `'!'`},
		{"PATH=/tmp 0 2 * * *", `'='`},
		{"0 2 * * 1\x00", `'\x00'`},
		{"0 2 * * 1\v", `'\v'`},
		{"0 2 * * 1\u00a0", `'\u00a0'`},
		{"0 2 * * 1.5", `'.'`},
		{"0 2 * * ?", `'?'`},
		{"", "empty"},
		{"   ", "empty"},
		{"@every 5m", "unknown macro"},
		{"@every", "unknown macro"},
		{"@daily /bin/evil", "stands alone"},
		{"@daily @daily", "stands alone"},
		{"0 @daily", "stands alone"},
		{"@", "unknown macro"},
		{"60 2 * * *", "out of range"},
		{"0 24 * * *", "out of range"},
		{"0 2 0 * *", "out of range"},
		{"0 2 32 * *", "out of range"},
		{"0 2 * 13 *", "out of range"},
		{"0 2 * 0 *", "out of range"},
		{"0 2 * * 8", "out of range"},
		{"0 2 * * 100", "neither a number"},
		{"0 2 * * monday", "neither a number"},
		{"0 2 * feb-sun *", "neither a number"},
		{"0 2 * * jan", "neither a number"},
		{"0 x * * *", "not a number"},
		{"0 2 * * 5-1", "backwards"},
		{"0 2 * * 1,", "empty list item"},
		{"0 2 ,1 * *", "empty list item"},
		{"*/0 * * * *", "step"},
		{"*/ * * * *", "step"},
		{"*/61 * * * *", "step"},
		{"5/2 * * * *", "needs * or a range"},
		{"0 2 * * 1-", "neither a number"},
		{"0 2 * * -1", "neither a number"},
		{"0 2 * * 1-2-3", "neither a number"},
		{"0 2-3-4 * * *", "not a number"},
		{"0 2 1/2/3 * *", "step"},
		{"0 0 30 2 *", "never runs"},
		{"0 0 31 4,6,9,11 *", "never runs"},
	}
	for _, tt := range tests {
		s, err := ParseSchedule(tt.in)
		var se *ScheduleError
		if !errors.As(err, &se) {
			t.Errorf("ParseSchedule(%q) = %v, %v; want a *ScheduleError", tt.in, s, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseSchedule(%q) error %q does not say %q", tt.in, err, tt.want)
		}
	}
}

func TestIntervalSchedule(t *testing.T) {
	tests := []struct {
		interval, at, want string
	}{
		{"", "", "0 4 1 * *"},
		{"monthly", "", "0 4 1 * *"},
		{"weekly", "4:00", "0 4 * * 0"},
		{"daily", "2:00", "0 2 * * *"},
		{"Daily", "23:59", "59 23 * * *"},
		{"monthly", "07:05", "5 7 1 * *"},
		{"monthly", "0:00", "0 0 1 * *"},
	}
	for _, tt := range tests {
		s, err := IntervalSchedule(tt.interval, tt.at)
		if err != nil {
			t.Errorf("IntervalSchedule(%q, %q): %v", tt.interval, tt.at, err)
			continue
		}
		if s.Expr != tt.want {
			t.Errorf("IntervalSchedule(%q, %q) = %q, want %q", tt.interval, tt.at, s.Expr, tt.want)
		}
	}
	for _, bad := range [][2]string{
		{"hourly", ""}, {"yearly", "4:00"}, {"monthly", "24:00"}, {"monthly", "4"}, {"monthly", "4:0"},
		{"monthly", "04:60"}, {"monthly", "4:00; id"}, {"monthly", "004:00"}, {"monthly", " 4:00"}, {"monthly", "4:00\n"},
	} {
		var ie *IntervalError
		if _, err := IntervalSchedule(bad[0], bad[1]); !errors.As(err, &ie) {
			t.Errorf("IntervalSchedule(%q, %q) = %v, want *IntervalError", bad[0], bad[1], err)
		}
	}
}

func TestNext(t *testing.T) {
	loc := time.FixedZone("X", 2*3600)
	now := time.Date(2026, 12, 3, 18, 41, 30, 0, loc) // a Thursday
	tests := []struct {
		expr string
		want []string
	}{
		{"0 4 1 * *", []string{"2027-01-01 04:00", "2027-02-01 04:00", "2027-03-01 04:00"}},
		{"0 4 * * 0", []string{"2026-12-06 04:00", "2026-12-13 04:00", "2026-12-20 04:00"}},
		{"0 4 * * 7", []string{"2026-12-06 04:00", "2026-12-13 04:00", "2026-12-20 04:00"}},
		{"0 4 * * sat-7", []string{"2026-12-05 04:00", "2026-12-06 04:00", "2026-12-12 04:00"}},
		{"45 18 * * *", []string{"2026-12-03 18:45", "2026-12-04 18:45", "2026-12-05 18:45"}},
		{"*/20 * * * *", []string{"2026-12-03 19:00", "2026-12-03 19:20", "2026-12-03 19:40"}},
		// Both day fields restricted: either matches (Dec 5 is a Saturday).
		{"0 0 5 * 1", []string{"2026-12-05 00:00", "2026-12-07 00:00", "2026-12-14 00:00"}},
		// Day-of-month begins with *: both must match (Mondays on odd days).
		{"0 0 */2 * 1", []string{"2026-12-07 00:00", "2026-12-21 00:00", "2027-01-11 00:00"}},
		{"0 0 29 2 *", []string{"2028-02-29 00:00", "2032-02-29 00:00", "2036-02-29 00:00"}},
		{"@monthly", []string{"2027-01-01 00:00", "2027-02-01 00:00", "2027-03-01 00:00"}},
		{"@weekly", []string{"2026-12-06 00:00", "2026-12-13 00:00", "2026-12-20 00:00"}},
		{"@reboot", nil},
	}
	for _, tt := range tests {
		s, err := ParseSchedule(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, n := range s.Next(now, 3) {
			if n.Location() != loc {
				t.Errorf("%s: time in %v, want the clock's location", tt.expr, n.Location())
			}
			got = append(got, n.Format("2006-01-02 15:04"))
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%s: Next = %v, want %v", tt.expr, got, tt.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	tests := map[string]string{
		"0 4 1 * *":         "on day 1 of every month at 04:00",
		"0 4 * * 0":         "every Sunday at 04:00",
		"0 4 * * 7":         "every Sunday at 04:00",
		"30 2 * * *":        "every day at 02:30",
		"30 2 * * mon-fri":  "every Monday to Friday at 02:30",
		"0 4 1,15 * *":      "on day 1 and 15 of every month at 04:00",
		"0 4 1 jan,jul *":   "on day 1 of January and July at 04:00",
		"0 4 * 6 *":         "every day in June at 04:00",
		"0 4 13 * 5":        "on day 13 of the month or on Friday at 04:00",
		"0 4 */2 * 1":       "on day every 2 days of the month and on Monday at 04:00",
		"*/15 * * * *":      "every day, every 15 minutes of every hour",
		"0 */6 * * *":       "every day, minute 0 of every 6 hours",
		"0 1-5 * * *":       "every day, minute 0 of hour 1 to 5",
		"@reboot":           "once at every boot of the machine",
		"@monthly":          "on day 1 of every month at 00:00",
		"@daily":            "every day at 00:00",
		"0 4 * * sun,wed,5": "every Sunday, Wednesday and Friday at 04:00",
	}
	for expr, want := range tests {
		s, err := ParseSchedule(expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Describe(); got != want {
			t.Errorf("Describe(%q) = %q, want %q", expr, got, want)
		}
	}
}

// FuzzParseSchedule: the parser never panics, and whatever it accepts
// renders to a job line whose schedule part holds no character that
// could start a command, and reads back as the same schedule.
func FuzzParseSchedule(f *testing.F) {
	for _, seed := range []string{
		"0 4 1 * *", "*/15 * * * *", "0 2 * * 0-7", "@monthly", "@reboot", "0 2 * * mon-fri",
		"0 2 * * *; touch /tmp/evil", "0 2 * * * extra", "@every 5m", "5/2 * * * *", "0 0 30 2 *",
		"0 2 * * *\n* * * * * evil", "1-7/2 0 1 jan-dec/3 SUN,7",
	} {
		f.Add(seed)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSchedule(in)
		if err != nil {
			var se *ScheduleError
			if !errors.As(err, &se) {
				t.Fatalf("ParseSchedule(%q) error %T %v, want *ScheduleError", in, err, err)
			}
			return
		}
		for _, r := range s.Expr {
			if !isFieldRune(r) && r != ' ' && r != '@' {
				t.Fatalf("ParseSchedule(%q).Expr = %q holds %q", in, s.Expr, r)
			}
		}
		fields := strings.Fields(s.Expr)
		if n := len(fields); !(n == 5 || n == 1 && strings.HasPrefix(s.Expr, "@")) {
			t.Fatalf("ParseSchedule(%q).Expr = %q has %d fields", in, s.Expr, n)
		}
		block := RenderBlock(DefaultJobName, s, "/bin/dcehost scrape")
		found, err := Find([]byte(block), DefaultJobName)
		if err != nil || found == nil || found.ScheduleErr != nil {
			t.Fatalf("rendered block of %q does not read back: %v %v", in, found, err)
		}
		if found.Schedule.Expr != s.Expr || found.Command != "/bin/dcehost scrape" {
			t.Fatalf("rendered block of %q reads back as %q / %q", in, found.Schedule.Expr, found.Command)
		}
		if !s.Reboot && len(s.Next(now, 1)) != 1 {
			t.Fatalf("accepted %q has no next run", in)
		}
	})
}
