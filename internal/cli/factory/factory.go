// Package factory carries what every command needs from the outside world
// (streams, environment, clock, logger, settings), so commands can be run
// in tests with fakes, in the style of the GitHub CLI's cmdutil.Factory.
package factory

import (
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/dcehost/dcehost/internal/iostreams"
	"github.com/dcehost/dcehost/internal/logging"
	"github.com/dcehost/dcehost/internal/settings"
	"github.com/dcehost/dcehost/internal/token"
)

// Factory is built once in main (or a test) and shared by all commands.
type Factory struct {
	IO       *iostreams.IOStreams
	Redactor *token.Redactor
	Version  string

	// Environ returns the process environment.
	Environ func() []string
	// Now returns the current time.
	Now func() time.Time
	// Executable returns the absolute path of the running dcehost binary.
	Executable func() (string, error)
	// WorkDir is the directory relative paths are resolved against ("" = cwd).
	WorkDir string

	// Global flags, filled in by the root command before any command runs.
	EnvFile   string
	LogFormat logging.Format
	Verbose   bool

	logOnce sync.Once
	logger  *slog.Logger
}

// New returns a Factory wired to the real process.
func New(version string) *Factory {
	return &Factory{
		IO:         iostreams.System(),
		Redactor:   &token.Redactor{},
		Version:    version,
		Environ:    os.Environ,
		Now:        time.Now,
		Executable: os.Executable,
		LogFormat:  logging.Text,
	}
}

// Logger returns the process logger: standard error, redacted, in the
// --log-format chosen.
func (f *Factory) Logger() *slog.Logger {
	f.logOnce.Do(func() {
		f.logger = logging.New(f.IO.ErrOut, f.LogFormat, f.Verbose, f.Redactor)
	})
	return f.logger
}

// Settings loads the settings with the global --env-file and the given
// flag overrides (variable name -> flag value).
func (f *Factory) Settings(flags map[string]string) (*settings.Settings, error) {
	return settings.Load(settings.LoadOptions{
		EnvFileFlag: f.EnvFile,
		Environ:     f.Environ(),
		Flags:       flags,
		WorkDir:     f.WorkDir,
	})
}

// Getenv returns a process environment variable ("" when unset).
func (f *Factory) Getenv(key string) string {
	for _, kv := range f.Environ() {
		if len(kv) > len(key) && kv[len(key)] == '=' && kv[:len(key)] == key {
			return kv[len(key)+1:]
		}
	}
	return ""
}
