package cron

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// ToolSettings are the settings that choose the container tooling a
// scrape runs through.
type ToolSettings struct {
	// ComposeBin is DCE_COMPOSE_BIN split into words; nil means detect.
	ComposeBin []string
	// DockerBin is DCE_DOCKER_BIN ("docker" when unset).
	DockerBin string
}

// composeFallbacks are tried, in order, when docker itself is not found
// and DCE_COMPOSE_BIN is unset (the scrape's own detection order after
// "docker compose").
var composeFallbacks = []string{"docker-compose", "podman-compose"}

// ToolError reports container tooling that was not found at install time.
type ToolError struct {
	What string
	Err  error
}

func (e *ToolError) Error() string {
	return fmt.Sprintf("%s: %v", e.What, e.Err)
}

func (e *ToolError) Unwrap() error { return e.Err }

// ResolveTools finds, with lookPath (exec.LookPath) in the installing
// user's PATH, the compose tooling the scheduled scrape will use and
// returns the assignments that pin it by absolute path on the job line.
// Cron runs jobs with a minimal PATH (/usr/bin:/bin), so a docker in
// /usr/local/bin or ~/bin would not be found there.
//
// A value that is already absolute needs no assignment (nothing is added
// that would override the env file). When DCE_COMPOSE_BIN is unset, docker
// is pinned with DCE_DOCKER_BIN; when docker is absent, the first of
// docker-compose and podman-compose found is pinned with DCE_COMPOSE_BIN.
func ResolveTools(ts ToolSettings, lookPath func(string) (string, error)) ([]EnvVar, error) {
	find := func(name string) (string, error) {
		p, err := lookPath(name)
		if err != nil {
			return "", err
		}
		return filepath.Abs(p)
	}
	if len(ts.ComposeBin) > 0 {
		p, err := find(ts.ComposeBin[0])
		if err != nil {
			return nil, &ToolError{What: "DCE_COMPOSE_BIN " + strings.Join(ts.ComposeBin, " "), Err: err}
		}
		if p == ts.ComposeBin[0] {
			return nil, nil
		}
		return []EnvVar{{Name: "DCE_COMPOSE_BIN", Value: strings.Join(append([]string{p}, ts.ComposeBin[1:]...), " ")}}, nil
	}
	docker := ts.DockerBin
	if docker == "" {
		docker = "docker"
	}
	p, err := find(docker)
	if err == nil {
		if p == docker {
			return nil, nil
		}
		return []EnvVar{{Name: "DCE_DOCKER_BIN", Value: p}}, nil
	}
	if docker != "docker" {
		return nil, &ToolError{What: "DCE_DOCKER_BIN " + docker, Err: err}
	}
	errs := []error{fmt.Errorf("docker: %w", err)}
	for _, name := range composeFallbacks {
		p, err := find(name)
		if err == nil {
			return []EnvVar{{Name: "DCE_COMPOSE_BIN", Value: p}}, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	return nil, &ToolError{
		What: "no docker, docker-compose or podman-compose in PATH (set DCE_DOCKER_BIN or DCE_COMPOSE_BIN to an absolute path)",
		Err:  errors.Join(errs...),
	}
}
