// Package token finds the Discord token, re-reads it before every attempt
// and keeps it out of every output (Redactor).
package token

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/settings"
)

// sourceKind says where a Source reads the token.
type sourceKind int

const (
	fromTokenFileVar sourceKind = iota // DISCORD_TOKEN_FILE
	fromValue                          // DISCORD_TOKEN from a flag or the process environment
	fromEnvFile                        // DISCORD_TOKEN in the env file
	fromDiscovered                     // a token file found in a well-known place
)

// maxLine bounds the first line read from a token file.
const maxLine = 64 << 10

// Source is where the Discord token comes from. Load reads it again on
// every call, so a token refreshed on disk is picked up by the retry after
// an authentication failure.
type Source struct {
	kind  sourceKind
	path  string // token file, or the env file for fromEnvFile
	value string // fromValue only
	where string // "environment" or "flag" for fromValue
}

// Find chooses the token source: DISCORD_TOKEN_FILE, else DISCORD_TOKEN
// (flag, process environment or env file), else the first existing file of
// .discord-token beside the env file, <home>/.config/discord-scrape/token,
// <home>/.config/discord-token. home may be "" (no home directory). No
// source at all is a *failure.UsageError saying how to provide one.
func Find(s *settings.Settings, home string) (*Source, error) {
	if _, _, ok := s.Lookup(settings.DiscordTokenFile); ok {
		return &Source{kind: fromTokenFileVar, path: s.Path(settings.DiscordTokenFile, "")}, nil
	}
	if v, src, ok := s.Lookup(settings.DiscordToken); ok {
		if src == settings.FromEnvFile {
			return &Source{kind: fromEnvFile, path: s.EnvFile}, nil
		}
		return &Source{kind: fromValue, value: v, where: string(src)}, nil
	}
	candidates := DiscoveryPaths(s.EnvFileDir(), home)
	for _, p := range candidates {
		if _, err := os.Stat(p); err == nil {
			return &Source{kind: fromDiscovered, path: p}, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, failure.Usagef("token file %s: %w", p, err)
		}
	}
	return nil, failure.Usagef("no Discord token: set %s (a file holding the token) or %s in %s or the environment, or write the token to one of %s",
		settings.DiscordTokenFile, settings.DiscordToken, s.EnvFile, strings.Join(candidates, ", "))
}

// DiscoveryPaths lists, in order, where a token file is looked for when
// no token variable is set. Paths under home are left out when home is "".
func DiscoveryPaths(envFileDir, home string) []string {
	paths := []string{filepath.Join(envFileDir, ".discord-token")}
	if home != "" {
		paths = append(paths,
			filepath.Join(home, ".config", "discord-scrape", "token"),
			filepath.Join(home, ".config", "discord-token"))
	}
	return paths
}

// String names the source without its value: "DISCORD_TOKEN_FILE=/path",
// "DISCORD_TOKEN (environment)", "DISCORD_TOKEN (/x/scrape.env)",
// "token file /home/me/.config/discord-token".
func (s *Source) String() string {
	switch s.kind {
	case fromTokenFileVar:
		return settings.DiscordTokenFile + "=" + s.path
	case fromValue:
		return fmt.Sprintf("%s (%s)", settings.DiscordToken, s.where)
	case fromEnvFile:
		return fmt.Sprintf("%s (%s)", settings.DiscordToken, s.path)
	}
	return "token file " + s.path
}

// RefreshHint tells the operator how to put a new token in place.
func (s *Source) RefreshHint() string {
	switch s.kind {
	case fromValue:
		return fmt.Sprintf("export a new %s, or put the token in a file named by %s so dcehost can re-read it", settings.DiscordToken, settings.DiscordTokenFile)
	case fromEnvFile:
		return fmt.Sprintf("replace the %s= line in %s with the new token", settings.DiscordToken, s.path)
	}
	return fmt.Sprintf("write the new token as the first line of %s (then chmod 600 %s)", s.path, s.path)
}

// Load returns the token, reading files again on every call. A token file
// readable by group or others is reported with a warning on log (which may
// be nil). A missing, unreadable or empty source is a *failure.UsageError.
// Neither errors nor log records contain the token.
func (s *Source) Load(log *slog.Logger) (string, error) {
	switch s.kind {
	case fromValue:
		return s.value, nil
	case fromEnvFile:
		return s.loadEnvFile()
	}
	return s.loadFile(log)
}

func (s *Source) loadEnvFile() (string, error) {
	f, err := settings.ParseEnvFile(s.path)
	if err != nil {
		if failure.IsUsage(err) {
			return "", err
		}
		return "", failure.Usagef("%s: %w", s, err)
	}
	tok, ok := f.Lookup(settings.DiscordToken)
	if !ok {
		return "", failure.Usagef("%s: the env file no longer sets %s; %s", s, settings.DiscordToken, s.RefreshHint())
	}
	return tok, nil
}

func (s *Source) loadFile(log *slog.Logger) (string, error) {
	file, err := os.Open(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", failure.Usagef("%s: the token file does not exist; %s", s, s.RefreshHint())
	case errors.Is(err, fs.ErrPermission):
		return "", failure.Usagef("%s: the token file is not readable by this user; fix its owner or mode (chmod 600 %s)", s, s.path)
	case err != nil:
		return "", failure.Usagef("%s: %w", s, err)
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return "", failure.Usagef("%s: %w", s, err)
	}
	if info.IsDir() {
		return "", failure.Usagef("%s: is a directory, not a token file; %s", s, s.RefreshHint())
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 && log != nil {
		log.Warn("token file is readable by group or others; run chmod 600 "+s.path,
			"file", s.path, "mode", fmt.Sprintf("%04o", perm))
	}
	line, err := bufio.NewReaderSize(io.LimitReader(file, maxLine), maxLine).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", failure.Usagef("%s: read the token file: %w", s, err)
	}
	tok := strings.TrimSpace(strings.TrimPrefix(line, "\ufeff"))
	if tok == "" {
		return "", failure.Usagef("%s: the first line of the token file is empty; %s", s, s.RefreshHint())
	}
	return tok, nil
}
