package dcehost_test

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dcehost/dcehost/internal/cli/factory"
	"github.com/dcehost/dcehost/internal/cli/root"
	"github.com/dcehost/dcehost/internal/iostreams"
)

var updateReference = flag.Bool("update-reference", false, "regenerate the command section of .docs/reference.md")

const (
	referencePath = ".docs/reference.md"
	beginMarker   = "<!-- BEGIN GENERATED: commands (go test -run TestReference -update-reference .) -->"
	endMarker     = "<!-- END GENERATED: commands -->"
)

// commandReference renders every command of the tree, as `--help` shows
// it: usage, description, examples, flags.
func commandReference(t *testing.T) string {
	t.Helper()
	f := factory.New("dev")
	io, _, _, _ := iostreams.Test()
	f.IO = io
	f.Environ = func() []string { return nil }
	cmd := root.NewCmdRoot(f)
	var b strings.Builder
	b.WriteString(beginMarker + "\n")
	fmt.Fprintf(&b, "\n## Global flags\n\nAccepted by every command.\n\n```\n%s```\n", cmd.PersistentFlags().FlagUsagesWrapped(0))
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		if c != cmd {
			writeCommand(&b, c)
		}
		subs := c.Commands()
		sort.SliceStable(subs, func(i, j int) bool { return subs[i].Name() < subs[j].Name() })
		for _, s := range subs {
			walk(s)
		}
	}
	walk(cmd)
	b.WriteString("\n" + endMarker + "\n")
	return b.String()
}

func writeCommand(b *strings.Builder, c *cobra.Command) {
	fmt.Fprintf(b, "\n### `%s`\n\n", c.CommandPath())
	fmt.Fprintf(b, "%s\n\n", c.Short)
	fmt.Fprintf(b, "```\n%s\n```\n", c.UseLine())
	if c.Long != "" {
		fmt.Fprintf(b, "\n%s\n", strings.TrimSpace(indentCodeless(c.Long)))
	}
	if c.Example != "" {
		fmt.Fprintf(b, "\nExamples:\n\n```sh\n%s\n```\n", strings.TrimRight(c.Example, "\n"))
	}
	var local []string
	c.LocalFlags().VisitAll(func(fl *pflag.Flag) {
		if !fl.Hidden && fl.Name != "help" {
			local = append(local, fl.Name)
		}
	})
	if len(local) > 0 {
		fs := pflag.NewFlagSet(c.Name(), pflag.ContinueOnError)
		c.LocalFlags().VisitAll(func(fl *pflag.Flag) {
			if !fl.Hidden && fl.Name != "help" {
				fs.AddFlag(fl)
			}
		})
		fmt.Fprintf(b, "\nFlags:\n\n```\n%s```\n", fs.FlagUsagesWrapped(0))
	}
}

// indentCodeless keeps a command's long help readable in Markdown: it is
// shown as a text block when it has indented (preformatted) lines.
func indentCodeless(s string) string {
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "  ") {
			return "```text\n" + strings.TrimSpace(s) + "\n```"
		}
	}
	return s
}

func TestReference(t *testing.T) {
	data, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	i, j := strings.Index(doc, beginMarker), strings.Index(doc, endMarker)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the generated-section markers", referencePath)
	}
	got := doc[i : j+len(endMarker)+1]
	want := commandReference(t)
	if got == want {
		return
	}
	if *updateReference {
		doc = doc[:i] + want + doc[j+len(endMarker)+1:]
		if err := os.WriteFile(referencePath, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s is stale: the command tree changed. Regenerate with\n  go test -run TestReference -update-reference .", referencePath)
}

// TestReferenceVariables: every variable the code reads is documented in
// the reference (the hand-written table outside the generated section).
func TestReferenceVariables(t *testing.T) {
	data, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	files := []string{
		"internal/settings/settings.go", "internal/healthcheck/healthcheck.go", "internal/metrics/metrics.go",
		"internal/cron/crontab.go", "internal/compose/compose.go", "internal/github/token.go",
	}
	nameRe := regexp.MustCompile(`^(DCE_[A-Z_]+|DCEHOST_[A-Z_]+|DISCORD_[A-Z_]+|GH_[A-Z_]+|GITHUB_[A-Z_]+|TZ)$`)
	var missing []string
	for _, file := range files {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			v, err := strconv.Unquote(lit.Value)
			if err != nil || !nameRe.MatchString(v) {
				return true
			}
			if !strings.Contains(doc, "`"+v+"`") {
				missing = append(missing, v+" ("+file+")")
			}
			return true
		})
	}
	if len(missing) > 0 {
		t.Errorf("%s does not document: %s", referencePath, strings.Join(missing, ", "))
	}
}
