// Command fakedce is a test double for DiscordChatExporter.Cli that follows
// /work/shared/spec/dce.md: the same commands, listing formats, JSON layout,
// streaming behaviour, messages and exit statuses. Tests build it into a
// temporary directory as DiscordChatExporter.Cli.
//
// It is driven by a JSON state file named by FAKEDCE_STATE (see state.go)
// and appends one JSON line per invocation to FAKEDCE_LOG when set: the
// argv and whether DISCORD_TOKEN was set, never the token itself.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
)

// Exit statuses of the real CLI (CliFx): 0 success, 1 any error.
const (
	exitOK    = 0
	exitError = 1
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	tok, tokSet := os.LookupEnv("DISCORD_TOKEN")
	tokSet = tokSet && tok != ""
	logInvocation(args, tokSet)

	st, err := loadState(os.Getenv("FAKEDCE_STATE"))
	if err != nil {
		fmt.Fprintf(stderr, "fakedce: %v\n", err)
		return 99
	}
	if len(args) == 0 {
		fmt.Fprintln(stdout, "DiscordChatExporter.Cli (fake)")
		return exitOK
	}
	cmd, rest := args[0], args[1:]
	opts, err := parseOptions(rest)
	if err != nil {
		fmt.Fprintf(stderr, "ERROR\n%v\n", err)
		return exitError
	}
	if v, ok := opts.values["token"]; ok && len(v) > 0 {
		tok, tokSet = v[0], true
	}
	switch cmd {
	case "guilds", "channels", "dm", "export":
	default:
		fmt.Fprintf(stderr, "ERROR\nUnrecognized command or parameter: %s\n", cmd)
		return exitError
	}
	if !tokSet {
		fmt.Fprintln(stderr, "ERROR")
		fmt.Fprintln(stderr, "Missing required option(s):")
		fmt.Fprintln(stderr, "-t|--token")
		return exitError
	}
	if f := st.Fault; f != nil && (f.Command == "" || f.Command == cmd) && f.ExitCode != 0 {
		fmt.Fprint(stderr, f.Stderr)
		return f.ExitCode
	}
	if !st.tokenValid(tok) {
		unhandled(stderr, "Authentication token is invalid.")
		return exitError
	}
	switch cmd {
	case "guilds":
		return cmdGuilds(st, stdout)
	case "channels":
		return cmdChannels(st, opts, stdout, stderr)
	case "dm":
		return cmdDM(st, stdout)
	default:
		return cmdExport(st, opts, stdout, stderr)
	}
}

// unhandled prints an error the way CliFx prints an exception that is not a
// CommandException: type, message and a stack trace.
func unhandled(w io.Writer, msg string) {
	fmt.Fprintf(w, "DiscordChatExporter.Core.Exceptions.DiscordChatExporterException: %s\n", msg)
	fmt.Fprintln(w, "   at DiscordChatExporter.Core.Discord.DiscordClient.GetResponseAsync(String url, CancellationToken cancellationToken)")
	fmt.Fprintln(w, "   at DiscordChatExporter.Cli.Commands.Base.DiscordCommandBase.ExecuteAsync(IConsole console)")
	fmt.Fprintln(w, "   at CliFx.CliApplication.RunAsync(ApplicationSchema applicationSchema, CommandInput commandInput)")
}

type options struct {
	values map[string][]string
}

func (o options) get(name string) string {
	if v := o.values[name]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

func (o options) has(name string) bool { _, ok := o.values[name]; return ok }

var shortNames = map[string]string{"t": "token", "c": "channel", "g": "guild", "f": "format", "o": "output", "p": "partition"}

// parseOptions reads --name value pairs. Boolean options may stand alone.
func parseOptions(args []string) (options, error) {
	o := options{values: map[string][]string{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		var name string
		switch {
		case strings.HasPrefix(a, "--"):
			name = a[2:]
		case strings.HasPrefix(a, "-") && len(a) == 2:
			name = shortNames[a[1:]]
			if name == "" {
				return o, fmt.Errorf("Unrecognized command or parameter: %s", a)
			}
		default:
			return o, fmt.Errorf("Unrecognized command or parameter: %s", a)
		}
		switch name {
		case "include-vc", "utc", "parallel-markdown", "dfm":
			if i+1 < len(args) && (args[i+1] == "true" || args[i+1] == "false") {
				o.values[name] = append(o.values[name], args[i+1])
				i++
			} else {
				o.values[name] = append(o.values[name], "true")
			}
			continue
		}
		if i+1 >= len(args) {
			return o, fmt.Errorf("Option --%s expects a value", name)
		}
		o.values[name] = append(o.values[name], args[i+1])
		i++
	}
	return o, nil
}

type logEntry struct {
	Argv     []string `json:"argv"`
	TokenSet bool     `json:"token_set"`
}

func logInvocation(args []string, tokenSet bool) {
	path := os.Getenv("FAKEDCE_LOG")
	if path == "" {
		return
	}
	line, err := json.Marshal(logEntry{Argv: args, TokenSet: tokenSet})
	if err != nil {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	// One write per line with O_APPEND, so parallel invocations never interleave.
	_, _ = f.Write(append(line, '\n'))
}

// die kills the process with sig the way the kernel's OOM killer or a
// user would: nothing printed, the wait status says "signaled".
func die(sig syscall.Signal) {
	_ = syscall.Kill(os.Getpid(), sig)
	select {}
}
