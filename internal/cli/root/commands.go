package root

import (
	"github.com/dcehost/dcehost/internal/cli/version"
)

// Top-level commands, in the order `dcehost --help` lists them.
func init() {
	commands = append(commands,
		version.NewCmdVersion,
	)
}
