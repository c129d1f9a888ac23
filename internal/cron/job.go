package cron

import (
	"fmt"
	"path/filepath"
	"strings"
	"unicode"

	"al.essio.dev/pkg/shellescape"
)

// EnvVar is an assignment put in front of the job's command. It applies
// to that one command only (sh's "NAME=value command" form), never to the
// crontab's other jobs the way a NAME=value line in a crontab would.
type EnvVar struct {
	Name, Value string
}

// Job is what the scheduled line runs: this dcehost binary, with absolute
// paths for everything it reads and writes.
type Job struct {
	Binary  string // absolute path of dcehost
	EnvFile string // absolute
	Config  string // absolute
	LogFile string // absolute
	Targets []string
	// Runner is the scrape's --runner; "" (or "compose", the scrape's
	// default) adds no flag.
	Runner string
	Env    []EnvVar
}

// UnsafeValueError reports a path or name that cannot be put on a crontab
// line safely.
type UnsafeValueError struct {
	What, Value, Reason string
}

func (e *UnsafeValueError) Error() string {
	return fmt.Sprintf("%s %q cannot go on a crontab line: %s", e.What, e.Value, e.Reason)
}

// checkValue refuses what cron or the shell would read differently from
// the value: '%' (cron turns it into a newline and feeds the rest to the
// job's stdin), backslash (cron implementations disagree on it next to
// '%'), and control characters such as newline.
func checkValue(what, v string) error {
	if v == "" {
		return &UnsafeValueError{What: what, Value: v, Reason: "it is empty"}
	}
	for _, r := range v {
		switch {
		case r == '%':
			return &UnsafeValueError{What: what, Value: v, Reason: "cron turns '%' into a newline; rename or move it"}
		case r == '\\':
			return &UnsafeValueError{What: what, Value: v, Reason: "backslashes are read differently by different crons; rename or move it"}
		case unicode.IsControl(r):
			return &UnsafeValueError{What: what, Value: v, Reason: "it contains a control character"}
		}
	}
	return nil
}

// Argv checks the job and returns its environment assignments and its
// argv (binary first).
func (j Job) Argv() ([]EnvVar, []string, error) {
	for _, e := range j.Env {
		if !isEnvName(e.Name) {
			return nil, nil, &UnsafeValueError{What: "variable name", Value: e.Name, Reason: "want letters, digits and '_'"}
		}
		if err := checkValue(e.Name, e.Value); err != nil {
			return nil, nil, err
		}
	}
	paths := []struct{ what, v string }{
		{"dcehost binary", j.Binary}, {"env file", j.EnvFile}, {"config file", j.Config}, {"log file", j.LogFile},
	}
	for _, p := range paths {
		if err := checkValue(p.what, p.v); err != nil {
			return nil, nil, err
		}
		if !filepath.IsAbs(p.v) {
			return nil, nil, &UnsafeValueError{What: p.what, Value: p.v, Reason: "cron needs an absolute path"}
		}
	}
	argv := []string{j.Binary, "scrape", "--env-file", j.EnvFile, "--config", j.Config, "--log-file", j.LogFile}
	if j.Runner != "" && j.Runner != "compose" {
		if err := checkValue("runner", j.Runner); err != nil {
			return nil, nil, err
		}
		argv = append(argv, "--runner", j.Runner)
	}
	for _, t := range j.Targets {
		if err := checkValue("target", t); err != nil {
			return nil, nil, err
		}
		argv = append(argv, "--target", t)
	}
	return j.Env, argv, nil
}

// Command renders the job's command for a crontab line: env assignments,
// then the binary and its flags, every value shell-quoted. No redirection,
// no lock wrapper, no secret: dcehost writes its own log file, takes its
// own lock and reads the token from the env file's sources when it runs.
func (j Job) Command() (string, error) {
	env, argv, err := j.Argv()
	if err != nil {
		return "", err
	}
	var words []string
	for _, e := range env {
		words = append(words, e.Name+"="+shellescape.Quote(e.Value))
	}
	for _, a := range argv {
		words = append(words, shellescape.Quote(a))
	}
	return strings.Join(words, " "), nil
}

func isEnvName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
