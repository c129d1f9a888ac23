package github

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Repo names a repository on GitHub.
type Repo struct {
	Owner string
	Name  string
}

func (r Repo) String() string { return r.Owner + "/" + r.Name }

// namePart is what GitHub allows in an owner or repository name.
var namePart = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// ParseRepo parses OWNER/NAME, or HOST/OWNER/NAME as GH_REPO allows (the
// host is dropped: the API base URL comes from GITHUB_API_URL).
func ParseRepo(s string) (Repo, error) {
	parts := strings.Split(strings.TrimSpace(s), "/")
	if len(parts) == 3 {
		parts = parts[1:]
	}
	if len(parts) != 2 {
		return Repo{}, fmt.Errorf("%q: want OWNER/NAME", s)
	}
	r := Repo{Owner: parts[0], Name: strings.TrimSuffix(parts[1], ".git")}
	for _, p := range []string{r.Owner, r.Name} {
		if !namePart.MatchString(p) || p == "." || p == ".." {
			return Repo{}, fmt.Errorf("%q: want OWNER/NAME (letters, digits, '-', '_', '.')", s)
		}
	}
	return r, nil
}

// ParseRemoteURL extracts OWNER/NAME from a git remote URL in any of the
// forms git accepts for GitHub: https://github.com/o/r(.git),
// ssh://git@github.com[:port]/o/r(.git), git@github.com:o/r(.git).
func ParseRemoteURL(raw string) (Repo, error) {
	raw = strings.TrimSpace(raw)
	shown := raw
	var path string
	switch {
	case strings.Contains(raw, "://"):
		u, err := url.Parse(raw)
		if err != nil {
			// The URL may carry credentials: never quote it unparsed.
			return Repo{}, fmt.Errorf("remote URL: not a valid URL")
		}
		u.User = nil // https://user:token@host/... must not reach a message
		shown = u.String()
		path = u.Path
	case strings.Contains(raw, ":"):
		// scp-like syntax: [user@]host:owner/name
		_, after, _ := strings.Cut(raw, ":")
		path = after
	default:
		return Repo{}, fmt.Errorf("remote URL %q: not a GitHub URL", shown)
	}
	path = strings.Trim(path, "/")
	r, err := ParseRepo(path)
	if err != nil || strings.Count(path, "/") != 1 {
		return Repo{}, fmt.Errorf("remote URL %q: no OWNER/NAME path", shown)
	}
	return r, nil
}

// RepoOptions are the inputs of ResolveRepo.
type RepoOptions struct {
	Flag    string              // --repo
	Getenv  func(string) string // GH_REPO
	Run     Runner              // git remote get-url origin
	WorkDir string              // the git working directory ("" = cwd)
}

// ResolveRepo picks the repository: --repo, then GH_REPO, then the origin
// remote of the git repository in WorkDir. It returns where the value came
// from for messages. Errors name the input they came from.
func ResolveRepo(ctx context.Context, opts RepoOptions) (Repo, string, error) {
	if opts.Flag != "" {
		r, err := ParseRepo(opts.Flag)
		if err != nil {
			return Repo{}, "", fmt.Errorf("--repo %w", err)
		}
		return r, "--repo", nil
	}
	if opts.Getenv != nil {
		if v := opts.Getenv(EnvRepo); v != "" {
			r, err := ParseRepo(v)
			if err != nil {
				return Repo{}, "", fmt.Errorf("%s %w", EnvRepo, err)
			}
			return r, EnvRepo, nil
		}
	}
	if opts.Run == nil {
		return Repo{}, "", fmt.Errorf("no repository: pass --repo OWNER/NAME or set %s", EnvRepo)
	}
	args := []string{"remote", "get-url", "origin"}
	if opts.WorkDir != "" {
		args = append([]string{"-C", opts.WorkDir}, args...)
	}
	out, err := opts.Run(ctx, "git", args...)
	if err != nil {
		return Repo{}, "", fmt.Errorf("no repository: pass --repo OWNER/NAME or set %s (reading the origin remote failed: %v)", EnvRepo, err)
	}
	r, err := ParseRemoteURL(firstLine(string(out)))
	if err != nil {
		return Repo{}, "", fmt.Errorf("no repository: pass --repo OWNER/NAME or set %s (git origin: %v)", EnvRepo, err)
	}
	return r, "git remote origin", nil
}
