// Package deps pins the chosen dependencies while the packages that use them
// are written in parallel; it is deleted once every one is imported for real.
package deps

import (
	_ "al.essio.dev/pkg/shellescape"
	_ "github.com/compose-spec/compose-go/v2/loader"
	_ "github.com/gofrs/flock"
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/google/go-github/v62/github"
	_ "github.com/google/renameio/v2"
	_ "github.com/joho/godotenv"
	_ "github.com/pmezard/go-difflib/difflib"
	_ "github.com/robfig/cron/v3"
	_ "github.com/rogpeppe/go-internal/testscript"
	_ "github.com/spf13/cobra"
	_ "golang.org/x/sys/unix"
	_ "golang.org/x/term"
)
