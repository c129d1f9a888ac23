// Command dcehost keeps append-only archives of Discord servers and DMs up
// to date with DiscordChatExporter.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/dcehost/dcehost/internal/cli/factory"
	"github.com/dcehost/dcehost/internal/cli/root"
	"github.com/dcehost/dcehost/internal/exitcode"
	"github.com/dcehost/dcehost/internal/failure"
)

// version is stamped by the Makefile (-ldflags -X main.version=...).
var version = "dev"

func main() {
	f := factory.New(version)
	err := root.Execute(f, os.Args[1:])
	var silent *failure.SilentError
	if err != nil && !errors.As(err, &silent) {
		fmt.Fprintf(f.Redactor.Writer(f.IO.ErrOut), "dcehost: %v\n", err)
	}
	os.Exit(exitcode.Of(err))
}
