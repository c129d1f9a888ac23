package github

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Runner runs a program with argv (never through a shell) and returns its
// standard output. Tests inject a fake.
type Runner func(ctx context.Context, name string, args ...string) ([]byte, error)

// ExecRunner is the Runner of the real process: exec.CommandContext, the
// child inherits the environment, its standard error is kept for the
// error message.
func ExecRunner(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, firstLine(msg))
		}
		return out, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return out, nil
}

// Variables and files the token lookup reads.
const (
	EnvGHToken     = "GH_TOKEN"
	EnvGitHubToken = "GITHUB_TOKEN"
	EnvBashrc      = "GH_APPROVE_BASHRC"
	EnvAPIURL      = "GITHUB_API_URL"
	EnvRepo        = "GH_REPO"
)

// ghTokenTimeout bounds `gh auth token`, which only reads gh's own config.
const ghTokenTimeout = 15 * time.Second

// Token is a GitHub token and where it came from. Value must never be
// printed; Source names the origin and is safe to show.
type Token struct {
	Value  string
	Source string
}

// TokenOptions are the inputs of FindToken, all injected.
type TokenOptions struct {
	// Getenv reads the process environment.
	Getenv func(string) string
	// LookPath finds a program on PATH (exec.LookPath).
	LookPath func(string) (string, error)
	// Run runs `gh auth token`.
	Run Runner
	// Bashrc is the --bashrc flag ("" = GH_APPROVE_BASHRC, else ~/.bashrc).
	Bashrc string
	// Home is the user's home directory, for the default ~/.bashrc.
	Home string
	// Register is called with a token the moment it is read, before anything
	// else can log it (the process redactor's Add).
	Register func(secret string)
	// Note receives what the lookup skipped and why (verbose logging). It
	// never receives a token value.
	Note func(msg string)
}

// FindToken looks for a GitHub token in the order of the GitHub CLI:
// GH_TOKEN, GITHUB_TOKEN, `gh auth token` when gh is installed, then an
// `export GITHUB_TOKEN=...` line read as text from ~/.bashrc (or --bashrc /
// GH_APPROVE_BASHRC). The file is never executed or sourced.
//
// No token anywhere is a *AuthError (exit 4). An explicitly named bashrc
// that cannot be read is a usage error from the caller's point of view and
// is returned as *BashrcError.
func FindToken(ctx context.Context, opts TokenOptions) (*Token, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	register := func(s string) {
		if opts.Register != nil {
			opts.Register(s)
		}
	}
	note := func(format string, args ...any) {
		if opts.Note != nil {
			opts.Note(fmt.Sprintf(format, args...))
		}
	}

	for _, name := range []string{EnvGHToken, EnvGitHubToken} {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			register(v)
			return &Token{Value: v, Source: name + " (environment)"}, nil
		}
	}

	if opts.LookPath != nil && opts.Run != nil {
		if path, err := opts.LookPath("gh"); err != nil {
			note("gh is not installed: skipping `gh auth token`")
		} else {
			tctx, cancel := context.WithTimeout(ctx, ghTokenTimeout)
			out, err := opts.Run(tctx, path, "auth", "token")
			cancel()
			v := strings.TrimSpace(firstLine(string(out)))
			if v != "" {
				register(v)
			}
			switch {
			case err != nil:
				note("`gh auth token` gave no token: %v", err)
			case v == "":
				note("`gh auth token` printed nothing")
			default:
				return &Token{Value: v, Source: "gh auth token"}, nil
			}
		}
	}

	path, explicit := opts.Bashrc, true
	if path == "" {
		path = getenv(EnvBashrc)
	}
	if path == "" {
		explicit = false
		if opts.Home != "" {
			path = filepath.Join(opts.Home, ".bashrc")
		}
	}
	if path != "" {
		found, err := TokenFromBashrc(path)
		if found != nil {
			register(found.Value)
		}
		switch {
		case err != nil && errors.Is(err, fs.ErrNotExist) && !explicit:
			note("%s does not exist", path)
		case err != nil:
			return nil, &BashrcError{Path: path, Err: err}
		case found == nil:
			note("%s has no GITHUB_TOKEN=... line", path)
		default:
			return found, nil
		}
	}

	return nil, &AuthError{Message: "no GitHub token found: set GH_TOKEN or GITHUB_TOKEN, log in with `gh auth login`, " +
		"or keep an `export GITHUB_TOKEN=...` line in ~/.bashrc (--bashrc / " + EnvBashrc + " to name another file)"}
}

// BashrcError: the bashrc file named with --bashrc or GH_APPROVE_BASHRC
// could not be read.
type BashrcError struct {
	Path string
	Err  error
}

func (e *BashrcError) Error() string { return fmt.Sprintf("bashrc %s: %v", e.Path, e.Err) }
func (e *BashrcError) Unwrap() error { return e.Err }

// TokenFromBashrc reads path as text and returns the value of its last
// `GITHUB_TOKEN=...` or `export GITHUB_TOKEN=...` line, the way bash would
// end up with it, without running anything: values that need the shell
// (`$VAR`, `$(...)`, backquotes) are not taken. (nil, nil) when no usable
// line is present.
func TokenFromBashrc(path string) (*Token, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	value, line := ParseBashrc(data)
	if value == "" {
		return nil, nil
	}
	return &Token{Value: value, Source: fmt.Sprintf("%s:%d (GITHUB_TOKEN line, read as text)", path, line)}, nil
}

// ParseBashrc returns the value of the last literal GITHUB_TOKEN assignment
// in a shell startup file and its line number; ("", 0) when there is none.
// Accepted forms: `GITHUB_TOKEN=v`, `export GITHUB_TOKEN=v`, with v bare,
// 'single-quoted' or "double-quoted", optionally followed by `;` or a
// `# comment`. A value that would need the shell to expand it is ignored.
func ParseBashrc(data []byte) (value string, lineNo int) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		if v, ok := parseAssignment(sc.Text()); ok {
			value, lineNo = v, n
		}
	}
	return value, lineNo
}

// parseAssignment recognises one `[export ]GITHUB_TOKEN=value` line.
func parseAssignment(line string) (string, bool) {
	s := strings.TrimLeft(strings.TrimSuffix(line, "\r"), " \t")
	if rest, ok := strings.CutPrefix(s, "export"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
		s = strings.TrimLeft(rest, " \t")
	}
	rest, ok := strings.CutPrefix(s, EnvGitHubToken+"=")
	if !ok {
		return "", false
	}
	v, tail, ok := shellWord(rest)
	if !ok || v == "" {
		return "", false
	}
	tail = strings.TrimLeft(tail, " \t")
	if tail != "" && tail[0] != '#' && tail[0] != ';' {
		// `GITHUB_TOKEN=x cmd` sets the variable for cmd only, and
		// `GITHUB_TOKEN=x other=y` is more than a plain assignment.
		return "", false
	}
	return v, true
}

// shellWord reads one literal shell word at the start of s and returns it
// with the rest of the line. ok is false when the word is not a literal
// (expansions, command substitution, an unterminated quote).
func shellWord(s string) (word, rest string, ok bool) {
	var b strings.Builder
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == ';':
			return b.String(), s[i:], true
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return "", "", false
			}
			b.WriteString(s[i+1 : i+1+end])
			i += end + 2
		case c == '"':
			i++
			closed := false
			for i < len(s) {
				d := s[i]
				if d == '"' {
					closed = true
					i++
					break
				}
				if d == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					b.WriteByte(s[i+1])
					i += 2
					continue
				}
				if d == '$' || d == '`' {
					return "", "", false
				}
				b.WriteByte(d)
				i++
			}
			if !closed {
				return "", "", false
			}
		case c == '\\':
			if i+1 >= len(s) {
				return "", "", false
			}
			b.WriteByte(s[i+1])
			i += 2
		case c == '$' || c == '`' || c == '(' || c == ')' || c == '<' || c == '>' || c == '|' || c == '&':
			return "", "", false
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), "", true
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
