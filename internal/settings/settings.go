// Package settings turns the env file, the process environment and command
// flags into one Settings value. Precedence: flag > process environment >
// env file > default; an empty value anywhere counts as unset.
package settings

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/dcehost/dcehost/internal/failure"
)

// Variable names (compat.md).
const (
	DiscordToken       = "DISCORD_TOKEN"
	DiscordTokenFile   = "DISCORD_TOKEN_FILE"
	ReauthCommand      = "DCE_REAUTH_COMMAND"
	EnvFileVar         = "DCE_ENV_FILE"
	ComposeFileVar     = "DCE_COMPOSE_FILE"
	ConfigFileVar      = "DCE_CONFIG_FILE"
	ComposeBinVar      = "DCE_COMPOSE_BIN"
	DockerBinVar       = "DCE_DOCKER_BIN"
	ComposeTTYVar      = "DCE_COMPOSE_TTY"
	ContainerMemoryVar = "DCE_CONTAINER_MEMORY"
	UIDVar             = "DCE_UID"
	GIDVar             = "DCE_GID"
	UsernsModeVar      = "DCE_USERNS_MODE"
	MinFreeMBVar       = "DCE_MIN_FREE_MB"
	LockFileVar        = "DCE_SCRAPE_LOCK_FILE"
	SummaryFileVar     = "DCE_RUN_SUMMARY_FILE"
	CLIBinVar          = "DCE_CLI_BIN"
	ArchiveRootVar     = "DCE_ARCHIVE_ROOT"
	TZVar              = "TZ"
)

// Defaults.
const (
	DefaultEnvFile     = "scrape.env"
	DefaultConfigFile  = "config/scrape-targets.json"
	DefaultComposeFile = "docker-compose.yml"
	DefaultMinFreeMB   = 1024
	DefaultDockerBin   = "docker"
)

// Source says where a value came from.
type Source string

const (
	FromFlag    Source = "flag"
	FromProcess Source = "environment"
	FromEnvFile Source = "env file"
	FromDefault Source = "default"
)

// LoadOptions are the inputs of Load.
type LoadOptions struct {
	// EnvFileFlag is the value of --env-file ("" when not given).
	EnvFileFlag string
	// Environ is the process environment (os.Environ()).
	Environ []string
	// Flags maps variable names to flag values that override them, for
	// example {"DCE_CONFIG_FILE": "--config value"}. Empty values are ignored.
	Flags map[string]string
	// WorkDir resolves relative paths given by flags or the process
	// environment. Defaults to the current directory.
	WorkDir string
}

// Settings is the merged configuration of one dcehost invocation.
type Settings struct {
	// EnvFile is the absolute path of the env file in use; EnvFileLoaded
	// says whether it existed and was read.
	EnvFile       string
	EnvFileLoaded bool

	ConfigFile      string   // absolute
	ComposeFile     string   // absolute
	ComposeBin      []string // argv prefix from DCE_COMPOSE_BIN; nil means autodetect
	DockerBin       string
	ComposeNoTTY    bool   // DCE_COMPOSE_TTY=0
	ContainerMemory string // "" when unset; "0" means no limit
	UID, GID        string
	UsernsMode      string
	MinFreeMB       int64
	LockFile        string // "" means <archive_root>/.dce-scrape.lock
	SummaryFile     string // absolute or ""
	CLIBin          string
	ArchiveRoot     string // DCE_ARCHIVE_ROOT, absolute or ""
	TZ              string
	ReauthCommand   string

	file    *EnvFile
	process map[string]string
	flags   map[string]string
	workDir string
}

// Load builds Settings. Every error is a *failure.UsageError naming the
// input (flag, variable and file:line) at fault.
func Load(opts LoadOptions) (*Settings, error) {
	s := &Settings{process: map[string]string{}, flags: map[string]string{}, workDir: opts.WorkDir}
	if s.workDir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("settings: working directory: %w", err)
		}
		s.workDir = wd
	}
	for _, kv := range opts.Environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && v != "" {
			s.process[k] = v
		}
	}
	for k, v := range opts.Flags {
		if v != "" {
			s.flags[k] = v
		}
	}
	if err := s.loadEnvFile(opts.EnvFileFlag); err != nil {
		return nil, err
	}
	if err := s.resolve(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Settings) loadEnvFile(flag string) error {
	path, explicit := flag, true
	what := "--env-file"
	if path == "" {
		if v, ok := s.process[EnvFileVar]; ok {
			path, what = v, EnvFileVar
		} else {
			path, explicit = DefaultEnvFile, false
		}
	}
	s.EnvFile = s.abs(path, s.workDir)
	f, err := ParseEnvFile(s.EnvFile)
	switch {
	case err == nil:
		s.file, s.EnvFileLoaded = f, true
		return nil
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return failure.Usagef("%s %s: the env file does not exist (copy scrape.env.example or run without it)", what, s.EnvFile)
	case failure.IsUsage(err):
		return err
	default:
		return failure.Usagef("%s: %w", what, err)
	}
}

// Lookup returns the value of a variable by precedence, with its source.
func (s *Settings) Lookup(key string) (string, Source, bool) {
	if v, ok := s.flags[key]; ok {
		return v, FromFlag, true
	}
	if v, ok := s.process[key]; ok {
		return v, FromProcess, true
	}
	if v, ok := s.file.Lookup(key); ok {
		return v, FromEnvFile, true
	}
	return "", FromDefault, false
}

// Get returns the value of key or "".
func (s *Settings) Get(key string) string {
	v, _, _ := s.Lookup(key)
	return v
}

// Describe names where key's value came from, for error messages:
// "DCE_MIN_FREE_MB (scrape.env:4)", "DCE_MIN_FREE_MB (environment)".
func (s *Settings) Describe(key string) string {
	_, src, ok := s.Lookup(key)
	switch {
	case !ok:
		return key + " (default)"
	case src == FromEnvFile:
		return fmt.Sprintf("%s (%s:%d)", key, s.EnvFile, s.file.Line(key))
	case src == FromFlag:
		return key + " (flag)"
	}
	return fmt.Sprintf("%s (%s)", key, src)
}

// EnvFileDir is the directory of the env file, the base of relative paths
// written in it and of the default file locations.
func (s *Settings) EnvFileDir() string { return filepath.Dir(s.EnvFile) }

// Path returns the absolute form of a path variable: values from the env
// file are relative to its directory, flag and process values to the
// working directory, def (when not "") to the env file's directory.
func (s *Settings) Path(key, def string) string {
	v, src, ok := s.Lookup(key)
	switch {
	case !ok && def == "":
		return ""
	case !ok:
		return s.abs(def, s.EnvFileDir())
	case src == FromEnvFile:
		return s.abs(v, s.EnvFileDir())
	}
	return s.abs(v, s.workDir)
}

func (s *Settings) abs(p, base string) string {
	if strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, p[2:])
		}
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(base, p)
}

var (
	memoryRe = regexp.MustCompile(`^(?i)(0|[0-9]+(\.[0-9]+)?([bkmg]b?)?)$`)
	idRe     = regexp.MustCompile(`^[0-9]+$`)
)

// ValidMemory reports whether v is a container memory size as compose
// accepts it: a number with an optional b, k, m or g unit ("8g", "512m"),
// or 0 for no limit. DCE_CONTAINER_MEMORY and a target's container_memory
// share this syntax.
func ValidMemory(v string) bool { return memoryRe.MatchString(v) }

func (s *Settings) resolve() error {
	s.ConfigFile = s.Path(ConfigFileVar, DefaultConfigFile)
	s.ComposeFile = s.Path(ComposeFileVar, DefaultComposeFile)
	s.SummaryFile = s.Path(SummaryFileVar, "")
	s.LockFile = s.Path(LockFileVar, "")
	s.ArchiveRoot = s.Path(ArchiveRootVar, "")
	if v := s.Get(ComposeBinVar); v != "" {
		s.ComposeBin = strings.Fields(v)
	}
	s.DockerBin = DefaultDockerBin
	if v := s.Get(DockerBinVar); v != "" {
		s.DockerBin = v
	}
	switch v := strings.ToLower(s.Get(ComposeTTYVar)); v {
	case "", "1", "true", "yes", "auto":
	case "0", "false", "no":
		s.ComposeNoTTY = true
	default:
		return s.bad(ComposeTTYVar, "want 0 (never allocate a TTY) or 1 (automatic)")
	}
	if v := s.Get(ContainerMemoryVar); v != "" {
		if !ValidMemory(v) {
			return s.bad(ContainerMemoryVar, `want a size such as 8g or 512m, or 0 for no limit`)
		}
		s.ContainerMemory = v
	}
	s.MinFreeMB = DefaultMinFreeMB
	if v := s.Get(MinFreeMBVar); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return s.bad(MinFreeMBVar, "want a whole number of megabytes, 0 to disable the check")
		}
		s.MinFreeMB = n
	}
	for _, key := range []string{UIDVar, GIDVar} {
		if v := s.Get(key); v != "" && !idRe.MatchString(v) {
			return s.bad(key, "want a numeric id")
		}
	}
	s.UID, s.GID = s.Get(UIDVar), s.Get(GIDVar)
	if v := s.Get(UsernsModeVar); strings.ContainsAny(v, " \t\n") {
		return s.bad(UsernsModeVar, "want a single word such as keep-id")
	}
	s.UsernsMode = s.Get(UsernsModeVar)
	s.CLIBin = s.Get(CLIBinVar)
	s.TZ = s.Get(TZVar)
	s.ReauthCommand = s.Get(ReauthCommand)
	return nil
}

func (s *Settings) bad(key, want string) error {
	return failure.Usagef("%s=%q: %s", s.Describe(key), s.Get(key), want)
}
