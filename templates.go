// Package dcehost holds the files of the repository that the binary
// carries: the templates `dcehost init` writes. They are embedded from the
// repository itself, so the files operators get cannot drift from the ones
// documented and tested here.
package dcehost

import _ "embed"

// EnvExample is scrape.env.example: every setting, commented.
//
//go:embed scrape.env.example
var EnvExample []byte

// ComposeFile is docker-compose.yml: the DCE image with dcehost mounted as
// its entrypoint.
//
//go:embed docker-compose.yml
var ComposeFile []byte

// TargetsExample is config/scrape-targets.example.json. Its paths start
// with ExampleArchiveRoot, which `dcehost init` replaces by the archive root
// of the new working directory.
//
//go:embed config/scrape-targets.example.json
var TargetsExample []byte

// ExampleArchiveRoot is the archive_root written in TargetsExample.
const ExampleArchiveRoot = "/home/me/Documents/discord"
