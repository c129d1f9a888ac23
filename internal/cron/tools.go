package cron

import (
	"strings"
)

// ToolSettings are the settings that chose the container tooling.
type ToolSettings struct {
	// ComposeBin is DCE_COMPOSE_BIN split into words; nil when unset.
	ComposeBin []string
	// DockerBin is DCE_DOCKER_BIN ("docker" when unset).
	DockerBin string
}

// PinCompose returns the assignment that pins, by absolute path, the
// compose command found at install time (detected: an argv prefix with an
// absolute executable, as compose.Detect returns it), so the job does not
// depend on cron's minimal PATH (/usr/bin:/bin on Debian). Nothing is
// returned when the settings already name that absolute path: an
// assignment on the job line overrides the env file, so it is only added
// where it is needed.
//
// "docker compose" is pinned with DCE_DOCKER_BIN; any other compose command
// with DCE_COMPOSE_BIN (which the scrape splits on spaces, so a path with a
// space cannot be pinned that way).
func PinCompose(detected []string, ts ToolSettings) ([]EnvVar, error) {
	if len(detected) == 0 {
		return nil, nil
	}
	if len(ts.ComposeBin) == 0 && len(detected) == 2 && detected[1] == "compose" {
		if detected[0] == ts.DockerBin {
			return nil, nil
		}
		return []EnvVar{{Name: "DCE_DOCKER_BIN", Value: detected[0]}}, nil
	}
	value := strings.Join(detected, " ")
	if value == strings.Join(ts.ComposeBin, " ") {
		return nil, nil
	}
	if strings.ContainsAny(detected[0], " \t") {
		return nil, &UnsafeValueError{What: "DCE_COMPOSE_BIN", Value: detected[0],
			Reason: "the scrape splits DCE_COMPOSE_BIN on spaces; link the program into a directory without spaces and set DCE_COMPOSE_BIN to that"}
	}
	return []EnvVar{{Name: "DCE_COMPOSE_BIN", Value: value}}, nil
}

// PinCLI returns the assignment that pins the DCE CLI for --runner local:
// found is its absolute path, configured the DCE_CLI_BIN value ("" when
// unset).
func PinCLI(found, configured string) []EnvVar {
	if found == "" || found == configured {
		return nil
	}
	return []EnvVar{{Name: "DCE_CLI_BIN", Value: found}}
}
