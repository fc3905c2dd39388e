package cli

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/shlex"
)

// TestDocsCommandsParse checks that every `sirocco ...` command line shown in
// docs/ names a real command with real flags, so the docs cannot drift from
// the CLI.
func TestDocsCommandsParse(t *testing.T) {
	files, err := filepath.Glob("../../docs/*/*.md")
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob("../../docs/*.md")
	files = append(files, more...)
	checked := 0
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		inCode := false
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if strings.HasPrefix(line, "```") {
				inCode = !inCode
				continue
			}
			if !inCode {
				continue
			}
			if _, rest, ok := strings.Cut(line, "| "); ok && strings.Contains(line, "sirocco ") {
				line = rest // echo "$PASSWORD" | sirocco login ...
			}
			line = strings.TrimPrefix(line, "bin/")
			if !strings.HasPrefix(line, "sirocco ") {
				continue
			}
			if i := strings.Index(line, " #"); i >= 0 {
				line = line[:i]
			}
			words, err := shlex.Split(line)
			if err != nil {
				t.Errorf("%s:%d: %v", f, n, err)
				continue
			}
			a := &app{}
			root := a.root()
			cmd, rest, err := root.Find(words[1:])
			if err != nil || cmd == root {
				t.Errorf("%s:%d: %q: no such command", f, n, line)
				continue
			}
			if err := cmd.ParseFlags(rest); err != nil {
				t.Errorf("%s:%d: %q: %v", f, n, line, err)
				continue
			}
			if cmd.Args != nil {
				if err := cmd.Args(cmd, cmd.Flags().Args()); err != nil {
					t.Errorf("%s:%d: %q: %v", f, n, line, err)
				}
			}
			checked++
		}
		fh.Close()
	}
	if checked < 20 {
		t.Fatalf("only %d command lines found in docs/", checked)
	}
}
