// Package initcmd implements `dcehost init [DIR]`: create a working
// directory (scrape.env, config/scrape-targets.json, docker-compose.yml,
// logs/) from the templates embedded in the binary.
package initcmd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/dcehost/dcehost"
	"github.com/dcehost/dcehost/internal/atomicfile"
	"github.com/dcehost/dcehost/internal/cli/factory"
	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/iostreams"
	"github.com/dcehost/dcehost/internal/settings"
	"github.com/dcehost/dcehost/internal/targets"
	"github.com/dcehost/dcehost/internal/token"
)

// Files init writes, relative to DIR.
const (
	EnvFile     = "scrape.env"
	ConfigFile  = "config/scrape-targets.json"
	ComposeFile = "docker-compose.yml"
	LogsDir     = "logs"
	// SummaryFile is the run summary location init sets in scrape.env, so
	// `dcehost summary` and `dcehost status` find the last run.
	SummaryFile = "logs/last-run-summary.json"
)

// Options are the parsed command line of `dcehost init`.
type Options struct {
	IO       *iostreams.IOStreams
	Redactor *token.Redactor
	// WorkDir resolves a relative DIR ("" = the current directory).
	WorkDir string
	// ReadPassword reads one line from the terminal without echo; nil when
	// standard input is not a terminal file.
	ReadPassword func() ([]byte, error)

	Dir         string // argument, default "."
	TokenFile   string // --token-file
	TokenFlag   bool   // --token was given (refused)
	ArchiveRoot string // --archive-root
	Force       bool   // --force
}

// NewCmdInit returns `dcehost init`.
func NewCmdInit(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Redactor: f.Redactor, WorkDir: f.WorkDir}
	if file, ok := f.IO.In.(*os.File); ok {
		opts.ReadPassword = func() ([]byte, error) { return term.ReadPassword(int(file.Fd())) }
	}
	var tokenValue string
	cmd := &cobra.Command{
		Use:   "init [DIR]",
		Short: "Create a working directory: scrape.env, targets config, compose file, logs/",
		Long: `Create a dcehost working directory in DIR (default: the current directory):

  scrape.env                   settings, mode 0600, with the Discord token
  config/scrape-targets.json   a targets skeleton (disabled targets to edit)
  docker-compose.yml           the DCE image with dcehost as its entrypoint
  logs/                        run logs and stored run summaries

The files are the templates carried by this binary (scrape.env.example,
config/scrape-targets.example.json and docker-compose.yml of its source).

The token is read from --token-file, or from standard input (typed without
echo on a terminal, or piped). It is never taken from the command line,
where other users and the shell history would see it. With no token, set
one later in scrape.env or with DISCORD_TOKEN_FILE.

Existing files are never overwritten without --force. With --force,
scrape.env is merged (every key and value it has is kept; missing keys are
added), docker-compose.yml is replaced (the old one kept as
docker-compose.yml.bak), and an existing config/scrape-targets.json is
always kept.`,
		Example: `  # a new directory, token from a file
  dcehost init ~/discord --token-file ~/.config/discord-token

  # token typed at the prompt (not echoed)
  dcehost init ~/discord

  # archives on another disk
  dcehost init ~/discord --archive-root /srv/archive/discord < token.txt`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Dir = "."
			if len(args) == 1 {
				opts.Dir = args[0]
			}
			opts.TokenFlag = cmd.Flags().Changed("token")
			if runF != nil {
				return runF(opts)
			}
			return runInit(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.TokenFile, "token-file", "", "read the Discord token from the first line of this file (default: standard input)")
	fl.StringVar(&opts.ArchiveRoot, "archive-root", "", "archive root written into the targets skeleton (default DIR/archive)")
	fl.BoolVar(&opts.Force, "force", false, "merge into an existing scrape.env and replace docker-compose.yml")
	// --token exists only to refuse it with a clear message.
	fl.StringVar(&tokenValue, "token", "", "refused: a token on the command line is visible to other users")
	_ = fl.MarkHidden("token")
	return cmd
}

// action is what happened to one file.
type action struct{ what, path, note string }

func runInit(opts *Options) error {
	if opts.TokenFlag {
		return failure.Usagef("--token: a token on the command line is visible in the process list and the shell history; use --token-file PATH or standard input")
	}
	dir := opts.Dir
	if !filepath.IsAbs(dir) {
		base := opts.WorkDir
		if base == "" {
			wd, err := os.Getwd()
			if err != nil {
				return fmt.Errorf("init: working directory: %w", err)
			}
			base = wd
		}
		dir = filepath.Join(base, dir)
	}
	dir = filepath.Clean(dir)
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return failure.Usagef("init %s: not a directory", dir)
	}
	root := opts.ArchiveRoot
	if root == "" {
		root = filepath.Join(dir, "archive")
	} else if !filepath.IsAbs(root) {
		root = filepath.Join(dir, root)
	}
	root = filepath.Clean(root)

	envPath := filepath.Join(dir, EnvFile)
	configPath := filepath.Join(dir, filepath.FromSlash(ConfigFile))
	composePath := filepath.Join(dir, ComposeFile)
	var existing []string
	for _, p := range []string{envPath, configPath, composePath} {
		if _, err := os.Lstat(p); err == nil {
			existing = append(existing, p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("init: %w", err)
		}
	}
	if len(existing) > 0 && !opts.Force {
		return failure.Usagef("init %s: %s already exist(s); nothing was written (--force merges scrape.env, keeping every value it has, and replaces docker-compose.yml)",
			dir, strings.Join(existing, ", "))
	}

	tok, err := readToken(opts)
	if err != nil {
		return err
	}

	// Everything is prepared (and the skeleton validated) before the first
	// write, so bad input changes nothing.
	config := bytes.ReplaceAll(dcehost.TargetsExample, []byte(dcehost.ExampleArchiveRoot), jsonPathBytes(root))
	if _, err := targets.Parse(configPath, config); err != nil {
		return failure.Usagef("--archive-root %s: the targets skeleton would be invalid: %w", root, err)
	}
	env, envNotes, err := renderEnv(envPath, tok)
	if err != nil {
		return err
	}

	var done []action
	for _, d := range []string{dir, filepath.Dir(configPath)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("init: %w", err)
		}
	}
	switch {
	case env == nil:
		done = append(done, action{"kept", envPath, "already has every key"})
	default:
		what := "created"
		if exists(envPath) {
			what = "merged"
		}
		if err := writeFile(envPath, env, 0o600); err != nil {
			return err
		}
		done = append(done, action{what, envPath, "mode 0600"})
	}
	keptConfig := exists(configPath)
	if keptConfig {
		done = append(done, action{"kept", configPath, "your targets are never replaced"})
	} else {
		if err := writeFile(configPath, config, 0o644); err != nil {
			return err
		}
		done = append(done, action{"created", configPath, "edit it: guild ids, then enabled: true"})
	}
	old, err := os.ReadFile(composePath)
	switch {
	case err == nil && bytes.Equal(old, dcehost.ComposeFile):
		done = append(done, action{"kept", composePath, "already current"})
	case err == nil:
		if err := writeFile(composePath+".bak", old, 0o644); err != nil {
			return err
		}
		if err := writeFile(composePath, dcehost.ComposeFile, 0o644); err != nil {
			return err
		}
		done = append(done, action{"replaced", composePath, "old one in docker-compose.yml.bak"})
	case errors.Is(err, fs.ErrNotExist):
		if err := writeFile(composePath, dcehost.ComposeFile, 0o644); err != nil {
			return err
		}
		done = append(done, action{"created", composePath, ""})
	default:
		return fmt.Errorf("init: %w", err)
	}
	dirs := []struct {
		path string
		mode fs.FileMode
	}{{filepath.Join(dir, LogsDir), 0o700}}
	if !keptConfig {
		// The archive root of the skeleton just written; a kept config
		// names its own.
		dirs = append(dirs, struct {
			path string
			mode fs.FileMode
		}{root, 0o755})
	}
	for _, d := range dirs {
		if exists(d.path) {
			continue
		}
		if err := os.MkdirAll(d.path, d.mode); err != nil {
			return fmt.Errorf("init: %w", err)
		}
		done = append(done, action{"created", d.path + string(filepath.Separator), ""})
	}

	out := opts.IO.Out
	for _, a := range done {
		line := fmt.Sprintf("%-8s %s", a.what, a.path)
		if a.note != "" {
			line += "  (" + a.note + ")"
		}
		fmt.Fprintln(out, line)
	}
	for _, n := range envNotes {
		fmt.Fprintln(out, "note:    "+n)
	}
	fmt.Fprintf(out, `
Next:
  1. edit %s (guild ids, output dirs, enabled: true)
  2. dcehost doctor --env-file %s
  3. dcehost preflight --env-file %s
  4. dcehost cron install --env-file %s --log-file %s
`, configPath, envPath, envPath, envPath, filepath.Join(dir, LogsDir, "scrape.log"))
	return nil
}

// readToken returns the token from --token-file or standard input ("" when
// standard input gives none).
func readToken(opts *Options) (string, error) {
	var (
		line  string
		where string
	)
	switch {
	case opts.TokenFile != "":
		where = "--token-file " + opts.TokenFile
		f, err := os.Open(opts.TokenFile)
		if err != nil {
			return "", failure.Usagef("%s: %w", where, err)
		}
		defer f.Close()
		line, err = firstLine(f)
		if err != nil {
			return "", failure.Usagef("%s: %w", where, err)
		}
		if line == "" {
			return "", failure.Usagef("%s: the file is empty (want the token on its first line)", where)
		}
	case opts.IO.IsStdinTTY() && opts.ReadPassword != nil:
		where = "the token typed"
		fmt.Fprint(opts.IO.ErrOut, "Discord token (not echoed; empty to set it later): ")
		b, err := opts.ReadPassword()
		fmt.Fprintln(opts.IO.ErrOut)
		if err != nil {
			return "", fmt.Errorf("read token from the terminal: %w", err)
		}
		line = strings.TrimSpace(string(b))
	default:
		where = "standard input"
		var err error
		line, err = firstLine(opts.IO.In)
		if err != nil {
			return "", failure.Usagef("token from standard input: %w", err)
		}
	}
	if line == "" {
		return "", nil
	}
	opts.Redactor.Add(line)
	if !tokenRe.MatchString(line) {
		return "", failure.Usagef("%s: this is not a Discord token (want one line of letters, digits, '.', '_' or '-')", where)
	}
	return line, nil
}

var tokenRe = regexp.MustCompile(`^[A-Za-z0-9._-]{20,}$`)

func firstLine(r io.Reader) (string, error) {
	br := bufio.NewReader(io.LimitReader(r, 64*1024))
	line, err := br.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimSpace(line), nil
}

// renderEnv returns the new scrape.env (nil when an existing one needs no
// change) and notes for the operator.
func renderEnv(path, tok string) ([]byte, []string, error) {
	want := []kv{{settings.SummaryFileVar, SummaryFile}}
	if tok != "" {
		want = append([]kv{{settings.DiscordToken, "'" + tok + "'"}}, want...)
	}
	old, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		out := dcehost.EnvExample
		for _, w := range want {
			out = setKey(out, w.key, w.value, true)
		}
		var notes []string
		if tok == "" {
			notes = append(notes, "no token given: set DISCORD_TOKEN or DISCORD_TOKEN_FILE in "+path)
		}
		return out, notes, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("init: %w", err)
	}
	ef, err := settings.ParseEnvFile(path)
	if err != nil {
		return nil, nil, failure.Usagef("%w (fix it before merging with --force)", err)
	}
	has := map[string]bool{}
	for _, k := range ef.Keys() {
		has[k] = true
	}
	out := append([]byte(nil), old...)
	changed := false
	var added []string
	var notes []string
	for _, w := range want {
		switch v, set := ef.Lookup(w.key); {
		case !has[w.key]:
			added = append(added, w.key+"="+w.value)
		case !set && w.key == settings.DiscordToken:
			// An empty DISCORD_TOKEN= counts as unset: fill it in place.
			out = setKey(out, w.key, w.value, false)
			changed = true
		case w.key == settings.DiscordToken && v != tok:
			notes = append(notes, "kept the DISCORD_TOKEN already in "+path+" (edit the file to replace it)")
		}
	}
	if tok != "" {
		if _, set := ef.Lookup(settings.DiscordTokenFile); set {
			notes = append(notes, "DISCORD_TOKEN_FILE in "+path+" wins over DISCORD_TOKEN")
		}
	}
	if len(added) > 0 {
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		out = append(out, "\n# added by dcehost init\n"...)
		for _, a := range added {
			out = append(out, a+"\n"...)
		}
		changed = true
	}
	if !changed {
		return nil, notes, nil
	}
	return out, notes, nil
}

type kv struct{ key, value string }

// setKey sets key in env file text. With template true, the first line
// assigning key, commented out or not, becomes KEY=value (the example's
// documented place). Otherwise the last uncommented assignment is replaced
// (the one that takes effect). Without such a line, one is appended.
func setKey(text []byte, key, value string, template bool) []byte {
	prefix := `(?m)^[ \t]*(?:export[ \t]+)?`
	if template {
		prefix = `(?m)^[ \t]*#?[ \t]*(?:export[ \t]+)?`
	}
	re := regexp.MustCompile(prefix + regexp.QuoteMeta(key) + `[ \t]*=.*$`)
	line := []byte(key + "=" + value)
	if all := re.FindAllIndex(text, -1); all != nil {
		loc := all[len(all)-1]
		if template {
			loc = all[0]
		}
		out := append([]byte(nil), text[:loc[0]]...)
		out = append(out, line...)
		return append(out, text[loc[1]:]...)
	}
	out := append([]byte(nil), text...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return append(append(out, line...), '\n')
}

// jsonPathBytes is p as the inside of a JSON string.
func jsonPathBytes(p string) []byte {
	var b strings.Builder
	for _, r := range p {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return []byte(b.String())
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// writeFile replaces path atomically with data and the exact mode perm:
// temporary file in the same directory, fsync, rename, directory fsync.
func writeFile(path string, data []byte, perm fs.FileMode) error {
	// Exactly perm, whatever the replaced file had: a merged scrape.env
	// holding a token must end up 0600.
	if err := atomicfile.WriteFileMode(path, data, perm); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	return nil
}
