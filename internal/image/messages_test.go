package image

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// TestRejectedMessages pins the human messages of every reason code: clients
// show them to users.
func TestRejectedMessages(t *testing.T) {
	codes := []string{
		CodeUnsupportedFormat, CodeBackingFile, CodeExternalDataFile, CodeEncrypted, CodeCorrupt,
		CodeTooLarge, CodeNotAnImage, CodeFormatMismatch, CodeChecksumMismatch, "something_new",
	}
	var b strings.Builder
	for _, c := range codes {
		b.WriteString((&Rejected{Code: c}).Error() + "\n")
		b.WriteString((&Rejected{Code: c, Detail: "detail"}).Error() + "\n")
	}
	golden := filepath.Join("testdata", "messages.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("messages differ from %s (run go test -update if intended):\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
}
