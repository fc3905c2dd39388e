package store

import (
	"os/exec"
	"strings"
	"testing"
)

// TestSQLiteLibcPinned guards a known fragility of the pure-Go SQLite:
// modernc.org/libc must be exactly the version modernc.org/sqlite was built
// against, or the engine misbehaves at run time. Bumping one without the
// other fails here.
func TestSQLiteLibcPinned(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Path}} {{.Version}}", "modernc.org/sqlite", "modernc.org/libc").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	have := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, version, _ := strings.Cut(line, " ")
		have[path] = version
	}
	graph, err := exec.Command("go", "mod", "graph").Output()
	if err != nil {
		t.Fatalf("go mod graph: %v", err)
	}
	prefix := "modernc.org/sqlite@" + have["modernc.org/sqlite"] + " modernc.org/libc@"
	for _, line := range strings.Split(string(graph), "\n") {
		if want, ok := strings.CutPrefix(line, prefix); ok {
			if have["modernc.org/libc"] != want {
				t.Fatalf("modernc.org/libc is %s but modernc.org/sqlite %s needs exactly %s: pin it in go.mod",
					have["modernc.org/libc"], have["modernc.org/sqlite"], want)
			}
			return
		}
	}
	t.Fatalf("modernc.org/sqlite %s does not require modernc.org/libc in the module graph", have["modernc.org/sqlite"])
}
