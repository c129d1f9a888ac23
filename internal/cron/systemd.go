package cron

import (
	"fmt"
	"regexp"
	"strings"
)

// SystemdError reports a schedule or value a systemd timer cannot carry.
type SystemdError struct {
	Reason string
}

func (e *SystemdError) Error() string { return "systemd timer: " + e.Reason }

var weekdayAbbr = []string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

// OnCalendar returns systemd OnCalendar= values that fire exactly when
// the schedule does (a timer fires when any of its values matches). Cron's
// rule for the two day fields is kept: when both are restricted and
// neither begins with *, either may match, which takes two values.
// @reboot has no calendar time and is refused.
func (s *Schedule) OnCalendar() ([]string, error) {
	if s.Reboot || s.spec == nil {
		return nil, &SystemdError{Reason: "@reboot has no calendar time; use cron for it"}
	}
	sp := s.spec
	clock := calList(sp.Hour, 0, 23) + ":" + calList(sp.Minute, 0, 59) + ":00"
	month := calList(sp.Month, 1, 12)
	dom := calList(sp.Dom&^starBit, 1, 31)
	dow := weekdays(sp.Dow &^ starBit)
	spec := func(dow, dom string) string {
		v := "*-" + month + "-" + dom + " " + clock
		if dow != "" {
			v = dow + " " + v
		}
		return v
	}
	if sp.Dom&starBit != 0 || sp.Dow&starBit != 0 || dom == "*" || dow == "" {
		return []string{spec(dow, dom)}, nil
	}
	return []string{spec("", dom), spec(dow, "*")}, nil
}

// calList renders a bit set as a systemd calendar list: "*" when every
// value from lo to hi is set, else two-digit values joined by commas.
func calList(bits uint64, lo, hi int) string {
	var vals []string
	all := true
	for v := lo; v <= hi; v++ {
		if bits&(1<<v) != 0 {
			vals = append(vals, fmt.Sprintf("%02d", v))
		} else {
			all = false
		}
	}
	if all {
		return "*"
	}
	return strings.Join(vals, ",")
}

// weekdays renders day-of-week bits as "Mon,Fri"; "" when every day.
func weekdays(bits uint64) string {
	var days []string
	for d := 0; d < 7; d++ {
		if bits&(1<<d) != 0 {
			days = append(days, weekdayAbbr[d])
		}
	}
	if len(days) == 7 {
		return ""
	}
	return strings.Join(days, ",")
}

// Units are a systemd user service and timer for a job.
type Units struct {
	Service, Timer string
}

// UnitMarker begins every unit file dcehost writes; a file without it is
// never overwritten or removed.
const UnitMarker = "# managed by dcehost: change with 'dcehost cron install --systemd', delete with 'dcehost cron remove --systemd'"

// ScheduleComment prefixes the line of a timer file that records the cron
// schedule it was made from (for cron show --systemd).
const ScheduleComment = "# schedule: "

var unitSafeRe = regexp.MustCompile(`^[A-Za-z0-9_@+=:,./-]+$`)

// unitWord quotes one word for a unit file's command line or Environment=
// (systemd.syntax(7) quoting; $ doubled so it is not expanded).
func unitWord(s string) string {
	s = strings.ReplaceAll(s, "$", "$$")
	if unitSafeRe.MatchString(s) {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// RenderUnits returns the service (Type=oneshot, running the job's argv
// with its assignments as Environment=) and the timer (OnCalendar= from the
// schedule, Persistent=true so a run missed while the machine was off
// happens at the next start) for job name.
func RenderUnits(name string, sched *Schedule, job Job) (Units, error) {
	cal, err := sched.OnCalendar()
	if err != nil {
		return Units{}, err
	}
	env, argv, err := job.Argv()
	if err != nil {
		return Units{}, err
	}
	var svc strings.Builder
	fmt.Fprintf(&svc, "%s\n[Unit]\nDescription=dcehost scrape (%s)\n\n[Service]\nType=oneshot\n", UnitMarker, name)
	for _, e := range env {
		fmt.Fprintf(&svc, "Environment=%s\n", unitWord(e.Name+"="+e.Value))
	}
	words := make([]string, len(argv))
	for i, a := range argv {
		words[i] = unitWord(a)
	}
	fmt.Fprintf(&svc, "ExecStart=%s\n", strings.Join(words, " "))

	var tmr strings.Builder
	fmt.Fprintf(&tmr, "%s\n%s%s\n[Unit]\nDescription=dcehost scrape (%s): %s\n\n[Timer]\n", UnitMarker, ScheduleComment, sched.Expr, name, sched.Describe())
	for _, c := range cal {
		fmt.Fprintf(&tmr, "OnCalendar=%s\n", c)
	}
	fmt.Fprintf(&tmr, "Persistent=true\nUnit=%s.service\n\n[Install]\nWantedBy=timers.target\n", name)
	return Units{Service: svc.String(), Timer: tmr.String()}, nil
}

// TimerSchedule reads back the schedule recorded in a timer file dcehost
// wrote; nil when there is none.
func TimerSchedule(timer string) (*Schedule, error) {
	for _, line := range strings.Split(timer, "\n") {
		if expr, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), ScheduleComment); ok {
			return ParseSchedule(expr)
		}
	}
	return nil, nil
}
