// Package dce runs the DiscordChatExporter CLI, parses its listings and
// classifies its failures from the exit status and DCE's exact messages
// (never from substrings such as "401" or "Killed").
package dce

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/settings"
)

// DefaultBin is the CLI's name on PATH when DCE_CLI_BIN is not set.
const DefaultBin = "DiscordChatExporter.Cli"

// TokenEnv is the variable DCE reads the token from.
const TokenEnv = "DISCORD_TOKEN"

// FindBin returns the CLI to run: DCE_CLI_BIN, else DiscordChatExporter.Cli
// on PATH. Not finding it is a usage error naming both.
func FindBin(s *settings.Settings) (string, error) {
	if s != nil && s.CLIBin != "" {
		fi, err := os.Stat(s.CLIBin)
		if err != nil {
			return "", failure.Usagef("%s: DCE CLI: %v", s.Describe(settings.CLIBinVar), err)
		}
		if fi.IsDir() || fi.Mode()&0o111 == 0 {
			return "", failure.Usagef("%s=%s: not an executable file", s.Describe(settings.CLIBinVar), s.CLIBin)
		}
		return s.CLIBin, nil
	}
	p, err := exec.LookPath(DefaultBin)
	if err != nil {
		return "", failure.Usagef("DCE CLI %s not found on PATH; set %s to its location", DefaultBin, settings.CLIBinVar)
	}
	return p, nil
}

// Client runs the DCE CLI. The token is given to the child only through
// its environment (DISCORD_TOKEN), never on the command line.
type Client struct {
	Bin   string
	Token string
	// Env is the child's base environment (nil: this process's). Any
	// DISCORD_TOKEN in it is replaced by Token.
	Env []string
	// Log receives one debug line per invocation (argv without secrets).
	Log *slog.Logger
}

func (c *Client) env() []string {
	base := c.Env
	if base == nil {
		base = os.Environ()
	}
	out := make([]string, 0, len(base)+1)
	for _, kv := range base {
		if strings.HasPrefix(kv, TokenEnv+"=") {
			continue
		}
		out = append(out, kv)
	}
	if c.Token != "" {
		out = append(out, TokenEnv+"="+c.Token)
	}
	return out
}

// run executes the CLI with args and returns its output; a failure is
// classified (see Classify).
func (c *Client) run(ctx context.Context, args ...string) (stdout, stderr []byte, err error) {
	if c.Bin == "" {
		return nil, nil, errors.New("dce: no CLI configured")
	}
	cmd := exec.CommandContext(ctx, c.Bin, args...)
	cmd.Env = c.env()
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errb
	cmd.WaitDelay = 5 * time.Second
	if c.Log != nil {
		c.Log.Debug("run DCE CLI", "argv", append([]string{c.Bin}, args...))
	}
	runErr := cmd.Run()
	if runErr == nil {
		return out.Bytes(), errb.Bytes(), nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return out.Bytes(), errb.Bytes(), fmt.Errorf("DCE CLI %s: %w", args[0], ctxErr)
	}
	var exitErr *exec.ExitError
	if !errors.As(runErr, &exitErr) {
		return out.Bytes(), errb.Bytes(), fmt.Errorf("start DCE CLI %s: %w", c.Bin, runErr)
	}
	code, sig := -1, 0
	if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok {
		if ws.Signaled() {
			sig = int(ws.Signal())
		} else {
			code = ws.ExitStatus()
		}
	} else {
		code = exitErr.ExitCode()
	}
	return out.Bytes(), errb.Bytes(), Classify(code, sig, out.Bytes(), errb.Bytes())
}

// Message patterns, each matched against a whole line. The optional prefix
// is what DCE puts before a message: an exception type for an unhandled
// error ("...DiscordChatExporterException: "), or "<channel>: " in the
// per-channel failure list.
var (
	authRe      = regexp.MustCompile(`^(?:[A-Za-z_][A-Za-z0-9_.]*Exception: )?Authentication token is invalid\.$`)
	forbiddenRe = regexp.MustCompile(`^(?:.*: )?Request to '[^']*' failed: forbidden\.$`)
	notFoundRe  = regexp.MustCompile(`^(?:.*: )?Request to '[^']*' failed: not found\.$`)
	forumRe     = regexp.MustCompile(`^(?:.*: )?Channel '.*' of guild '.*' is a forum and cannot be exported directly\.(?: .*)?$`)
	emptyRe     = regexp.MustCompile(`^(?:.*: )?Channel '.*' of guild '.*' does not contain any messages within the specified period\.$`)
	stackRe     = regexp.MustCompile(`^\s+at `)
)

// Classify turns a failed run into a typed error. code is the exit status
// (-1 when killed), sig the signal that killed the process (0 when it
// exited). Precedence: killed, authentication, skip, "no messages", other.
func Classify(code, sig int, stdout, stderr []byte) error {
	if sig > 0 {
		return &KilledError{Signal: sig, Code: 128 + sig}
	}
	if code > 128 && code <= 128+64 {
		return &KilledError{Signal: code - 128, Code: code}
	}
	all := messageLines(stderr, stdout)
	for _, l := range all {
		if authRe.MatchString(l) {
			return &AuthError{Message: strings.TrimSpace(l[strings.Index(l, "Authentication"):])}
		}
	}
	for _, l := range all {
		switch {
		case forbiddenRe.MatchString(l):
			return &SkipError{Reason: ReasonForbidden, Message: l}
		case notFoundRe.MatchString(l):
			return &SkipError{Reason: ReasonNotFound, Message: l}
		case forumRe.MatchString(l):
			return &SkipError{Reason: ReasonForum, Message: l}
		}
	}
	for _, l := range all {
		if emptyRe.MatchString(l) {
			return ErrNoMessages
		}
	}
	return &ExitError{Code: code, Message: summarize(stderr, stdout)}
}

func messageLines(outs ...[]byte) []string {
	var ls []string
	for _, o := range outs {
		for _, l := range strings.Split(string(o), "\n") {
			l = strings.TrimRight(l, "\r \t")
			if l != "" {
				ls = append(ls, l)
			}
		}
	}
	return ls
}

// summarize keeps DCE's own message lines from stderr (stdout when stderr
// is empty): no stack frames, no progress, at most 512 bytes.
func summarize(stderr, stdout []byte) string {
	src := stderr
	if len(bytes.TrimSpace(src)) == 0 {
		src = stdout
	}
	var keep []string
	for _, l := range messageLines(src) {
		if stackRe.MatchString(l) || l == "Failed to export the following channel(s):" {
			continue
		}
		keep = append(keep, l)
	}
	msg := strings.Join(keep, "; ")
	if len(msg) > 512 {
		msg = msg[:509] + "..."
	}
	return msg
}

// Guilds lists the guilds the token sees (the DM pseudo-guild first).
func (c *Client) Guilds(ctx context.Context) ([]Guild, error) {
	out, _, err := c.run(ctx, "guilds")
	if err != nil {
		return nil, fmt.Errorf("list guilds: %w", err)
	}
	return ParseGuilds(out)
}

// Channels lists a guild's channels; threads is none, active or all.
func (c *Client) Channels(ctx context.Context, guildID, threads string, voice bool) ([]Channel, error) {
	if threads == "" {
		threads = "none"
	}
	out, _, err := c.run(ctx, "channels", "--guild", guildID,
		"--include-vc", fmt.Sprint(voice), "--include-threads", threads)
	if err != nil {
		return nil, fmt.Errorf("list channels of guild %s: %w", guildID, err)
	}
	return ParseChannels(out)
}

// DMs lists the direct-message channels.
func (c *Client) DMs(ctx context.Context) ([]Channel, error) {
	out, _, err := c.run(ctx, "dm")
	if err != nil {
		return nil, fmt.Errorf("list direct messages: %w", err)
	}
	return ParseDMs(out)
}

// Export writes channel channelID as a JSON document to outPath, only
// messages after the snowflake or date after ("" = from the beginning).
// Errors are *AuthError, *SkipError, *KilledError, ErrNoMessages or
// *ExitError (wrapped with the channel id). A nil error means the CLI
// succeeded and outPath exists; the caller still validates its content.
func (c *Client) Export(ctx context.Context, channelID, outPath, after string) error {
	args := []string{"export", "--channel", channelID, "--format", "Json", "--output", outPath}
	if after != "" {
		args = append(args, "--after", after)
	}
	stdout, stderr, err := c.run(ctx, args...)
	if err != nil {
		return fmt.Errorf("export channel %s: %w", channelID, err)
	}
	if _, statErr := os.Stat(outPath); statErr != nil {
		if errors.Is(statErr, fs.ErrNotExist) {
			// Exit 0 without a file: believe the messages, not the status.
			return fmt.Errorf("export channel %s: %w", channelID, Classify(0, 0, stdout, stderr))
		}
		return fmt.Errorf("export channel %s: %w", channelID, statErr)
	}
	return nil
}
