package cli_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/cli"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// qcow2 makes a real qcow2 disk image of size (qemu-img syntax) in dir.
func qcow2(t *testing.T, dir, size string) string {
	t.Helper()
	p := filepath.Join(dir, "disk.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", p, size).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img create: %v\n%s", err, out)
	}
	return p
}

func TestImageUploadImportAndDelete(t *testing.T) {
	e := newEnv(t, false)
	isolate(t)
	imageWorkflow(t, e.URL, e.ProviderAdmin(), func(b store.RoleBinding) { e.User("dev@acme.test", b) })
}

// imageWorkflow is what a tenant and the provider do with images, on the
// server at url; addTenant makes dev@acme.test with the binding.
func imageWorkflow(t *testing.T, url, admin string, addTenant func(store.RoleBinding)) {
	as := []string{"--server", url, "--token", admin}
	ok(t, append(as, "org", "create", "acme", "--jurisdiction", "AU")...)
	org := decode[api.Organisation](t, ok(t, append(as, "org", "get", "acme", "-o", "json")...))
	addTenant(store.RoleBinding{OrgID: org.ID, Role: api.RoleOrgAdmin})
	login(t, url, "dev@acme.test")

	dir := t.TempDir()
	disk := qcow2(t, dir, "64M")
	st, err := os.Stat(disk)
	if err != nil {
		t.Fatal(err)
	}

	r := sirocco(t, "", "image", "upload", "app", "--file", disk, "--os", "debian-12", "-o", "json")
	if r.code != 0 {
		t.Fatalf("upload: exit %d, %s", r.code, r.stderr)
	}
	img := decode[api.Image](t, r)
	if img.Name != "app" || img.State != api.ImageAvailable || img.OS != "debian-12" || img.Org == "" ||
		len(img.Files) != 1 || img.Files[0].Name != api.ImageFileDisk || img.Files[0].VirtualSize != 64<<20 {
		t.Fatalf("uploaded %+v", img)
	}
	if !strings.Contains(r.stderr, "Uploaded app disk: "+strconv.FormatInt(st.Size(), 10)+" bytes") {
		t.Fatalf("upload progress: %q", r.stderr)
	}
	if l := decode[api.List[api.Image]](t, ok(t, "image", "list", "-o", "json")); len(l.Items) != 1 || l.Items[0].ID != img.ID {
		t.Fatalf("private images %+v", l.Items)
	}
	if l := decode[api.List[api.Image]](t, ok(t, "image", "list", "--public", "-o", "json")); len(l.Items) != 0 {
		t.Fatalf("public images %+v", l.Items)
	}

	// A second image of that name is refused, and the first one stays.
	r = sirocco(t, "", "image", "upload", "app", "--file", disk)
	if r.code != cli.ExitConflict || !strings.Contains(r.stderr, "(already_exists)") {
		t.Fatalf("upload again: exit %d, %s", r.code, r.stderr)
	}
	ok(t, "image", "get", "app")

	// A file that does not match its checksum is refused, and the image
	// made for it removed, so the command can simply be run again.
	r = sirocco(t, "", "image", "upload", "bad", "--file", disk, "--sha256", strings.Repeat("0", 64))
	if r.code == 0 || !strings.Contains(r.stderr, "checksum") {
		t.Fatalf("wrong checksum: exit %d, %s", r.code, r.stderr)
	}
	if r := sirocco(t, "", "image", "get", "bad"); r.code != cli.ExitNotFound {
		t.Fatalf("half-made image kept: exit %d, %s", r.code, r.stderr)
	}

	// Imports: a tenant may not make the server fetch from loopback; the
	// provider may, into the public catalog, and the command waits for it.
	files := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer files.Close()
	r = sirocco(t, "", "image", "import", "local", "--url", files.URL+"/disk.qcow2")
	if r.code == 0 || !strings.Contains(r.stderr, "("+api.CodeURLForbidden+")") {
		t.Fatalf("tenant import from loopback: exit %d, %s", r.code, r.stderr)
	}
	pub := decode[api.Image](t, ok(t, append(as, "image", "import", "base", "--url", files.URL+"/disk.qcow2", "--public", "-o", "json")...))
	if pub.State != api.ImageAvailable || pub.Org != "" || len(pub.Files) != 1 {
		t.Fatalf("imported %+v", pub)
	}
	if got := decode[api.Image](t, ok(t, "image", "get", "base", "--public", "-o", "json")); got.ID != pub.ID {
		t.Fatalf("tenant reads public image %+v", got)
	}

	r = ok(t, "image", "delete", "app")
	if !strings.Contains(r.stdout, "Image app deleted.") {
		t.Fatalf("delete: %q", r.stdout)
	}
	if r := sirocco(t, "", "image", "delete", "base", "--public"); r.code != cli.ExitError || !strings.Contains(r.stderr, "(forbidden)") {
		t.Fatalf("tenant deletes public image: exit %d, %s", r.code, r.stderr)
	}
}
