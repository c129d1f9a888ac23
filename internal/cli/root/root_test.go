package root

import (
	"strings"
	"testing"

	"github.com/dcehost/dcehost/internal/cli/factory"
	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/iostreams"
)

func testFactory() (*factory.Factory, func() string) {
	f := factory.New("1.2.3")
	io, _, out, _ := iostreams.Test()
	f.IO = io
	f.Environ = func() []string { return nil }
	return f, out.String
}

func TestUsageErrors(t *testing.T) {
	tests := [][]string{
		{"no-such-command"},
		{"--no-such-flag"},
		{"version", "extra-arg"},
		{"--log-format", "yaml", "version"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			f, _ := testFactory()
			err := Execute(f, args)
			if !failure.IsUsage(err) {
				t.Fatalf("Execute(%q) = %v, want a usage error", args, err)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		f, out := testFactory()
		if err := Execute(f, args); err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		if !strings.Contains(out(), "1.2.3") {
			t.Fatalf("%q printed %q", args, out())
		}
	}
}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		f, out := testFactory()
		if err := Execute(f, []string{"completion", shell}); err != nil {
			t.Fatalf("completion %s: %v", shell, err)
		}
		if !strings.Contains(out(), "dcehost") {
			t.Fatalf("completion %s printed no script", shell)
		}
	}
}
