package server

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/api/agentapi"
	"github.com/sirocco-cloud/sirocco/internal/auth"
	"github.com/sirocco-cloud/sirocco/internal/image"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// needQemuImg skips (or in CI fails) a test that needs the real qemu-img.
func needQemuImg(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"qemu-img", "prlimit"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is required in CI: %v", tool, err)
			}
			t.Skipf("%s is not installed: %v", tool, err)
		}
	}
}

// qcow2File makes a small real qcow2 with qemu-img and returns its bytes;
// backing, if set, is written into its header as a backing file.
func qcow2File(t *testing.T, backing string) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.qcow2")
	args := []string{"create", "-q", "-f", "qcow2"}
	if backing != "" {
		base := filepath.Join(t.TempDir(), "base.qcow2")
		if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", base, "2M").CombinedOutput(); err != nil {
			t.Fatalf("qemu-img: %v\n%s", err, out)
		}
		args = append(args, "-b", base, "-F", "qcow2")
	}
	args = append(args, p, "2M")
	if out, err := exec.Command("qemu-img", args...).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img %v: %v\n%s", args, err, out)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// bzImage is the smallest file with a Linux bzImage boot header.
func bzImage() []byte {
	b := make([]byte, 0x1000)
	binary.LittleEndian.PutUint16(b[0x1fe:], 0xaa55)
	copy(b[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(b[0x206:], 0x020f)
	b[0x211] = 0x01
	return b
}

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// upload PUTs a file's bytes as a raw body.
func (e *env) upload(path, token string, data []byte) *resp {
	e.t.Helper()
	return e.do("PUT", path, token, data, "Content-Type", "application/octet-stream")
}

// catalogFiles lists every file under the catalog's directory.
func catalogFiles(t *testing.T, e *env) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(e.srv.cfg.Images.Dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, strings.TrimPrefix(p, e.srv.cfg.Images.Dir+"/"))
		}
		return nil
	})
	return out
}

func TestPublicImageUpload(t *testing.T) {
	needQemuImg(t)
	forEachEngine(t, func(t *testing.T, e *env) {
		admin := e.providerAdmin()
		_, tenant := e.tenant("acme", store.Residency{})

		wantProblem(t, e.do("POST", "/api/v1/images", tenant, api.ImageCreate{Name: "debian-12"}), http.StatusForbidden, api.CodeForbidden)
		var created api.ImageCreated
		res := e.do("POST", "/api/v1/images", admin, api.ImageCreate{Name: "debian-12", OS: "debian-12"}).must(t, http.StatusCreated)
		res.decode(t, &created)
		im := created.Image
		if im.State != api.ImagePending || im.Org != "" || im.Kind != api.ImageKindDisk || created.Operation != nil || len(im.Files) != 0 {
			t.Fatalf("created %+v", created)
		}
		if loc := res.Header.Get("Location"); loc != "/api/v1/images/"+im.ID {
			t.Errorf("Location %q", loc)
		}
		wantProblem(t, e.do("POST", "/api/v1/images", admin, api.ImageCreate{Name: "debian-12"}), http.StatusConflict, api.CodeAlreadyExists)

		disk := qcow2File(t, "")
		wantProblem(t, e.upload("/api/v1/images/debian-12/files/disk", tenant, disk), http.StatusForbidden, api.CodeForbidden)
		wantProblem(t, e.upload("/api/v1/images/debian-12/files/kernel", admin, bzImage()), http.StatusUnprocessableEntity, api.CodeValidation)
		var got api.Image
		e.upload("/api/v1/images/debian-12/files/disk?sha256="+hexSHA(disk), admin, disk).must(t, http.StatusOK).decode(t, &got)
		if got.State != api.ImageAvailable || len(got.Files) != 1 {
			t.Fatalf("after upload %+v", got)
		}
		f := got.Files[0]
		stored, err := os.ReadFile(e.srv.cfg.Images.Path(im.ID, "disk"))
		if err != nil {
			t.Fatal(err)
		}
		if f.Name != "disk" || f.SHA256 != hexSHA(stored) || f.Size != int64(len(stored)) || f.VirtualSize != 2<<20 {
			t.Errorf("file %+v; stored %d bytes with sha256 %s", f, len(stored), hexSHA(stored))
		}
		if got.MinDiskGiB != 1 {
			t.Errorf("min disk %d GiB, want 1 (the disk's 2 MiB rounded up)", got.MinDiskGiB)
		}
		wantProblem(t, e.upload("/api/v1/images/debian-12/files/disk", admin, disk), http.StatusConflict, api.CodeConflict)

		// Every signed-in user sees the public catalog.
		var list api.List[api.Image]
		e.do("GET", "/api/v1/images", tenant, nil).must(t, http.StatusOK).decode(t, &list)
		if len(list.Items) != 1 || list.Items[0].ID != im.ID || list.Items[0].State != api.ImageAvailable {
			t.Fatalf("tenant's view of the public catalog %+v", list.Items)
		}
		e.do("GET", "/api/v1/images/debian-12", tenant, nil).must(t, http.StatusOK)
		e.do("GET", "/api/v1/images", "", nil).must(t, http.StatusUnauthorized)
		wantProblem(t, e.do("PATCH", "/api/v1/images/debian-12", tenant, map[string]any{"description": "x"}), http.StatusForbidden, api.CodeForbidden)
		wantProblem(t, e.do("DELETE", "/api/v1/images/debian-12", tenant, nil), http.StatusForbidden, api.CodeForbidden)
		e.do("PATCH", "/api/v1/images/debian-12", admin, map[string]any{"description": "Debian 12"}).must(t, http.StatusOK)

		e.do("DELETE", "/api/v1/images/debian-12", admin, nil).must(t, http.StatusNoContent)
		e.do("GET", "/api/v1/images/debian-12", admin, nil).must(t, http.StatusNotFound)
		if files := catalogFiles(t, e); len(files) != 0 {
			t.Errorf("delete left %v in the catalog", files)
		}
	})
}

func TestImageUploadRefused(t *testing.T) {
	needQemuImg(t)
	forEachEngine(t, func(t *testing.T, e *env) {
		_, tenant := e.tenant("acme", store.Residency{})
		kernel := bzImage()
		e.do("POST", "/api/v1/orgs/acme/images", tenant, api.ImageCreate{Name: "web", Kind: api.ImageKindKernel,
			Cmdline: "console=ttyS0", KernelSHA256: hexSHA(kernel)}).must(t, http.StatusCreated)
		e.do("POST", "/api/v1/orgs/acme/images", tenant, api.ImageCreate{Name: "disk"}).must(t, http.StatusCreated)

		// A disk pointing at a host file is refused, and nothing is kept.
		p := wantProblem(t, e.upload("/api/v1/orgs/acme/images/disk/files/disk", tenant, qcow2File(t, "backing")),
			http.StatusUnprocessableEntity, image.CodeBackingFile)
		if strings.Contains(p.Detail, e.srv.cfg.Images.Dir) {
			t.Errorf("the refusal names a control-plane path: %s", p.Detail)
		}
		wantProblem(t, e.upload("/api/v1/orgs/acme/images/disk/files/disk", tenant, []byte("not a disk")),
			http.StatusUnprocessableEntity, image.CodeNotAnImage)
		disk := qcow2File(t, "")
		wantProblem(t, e.upload("/api/v1/orgs/acme/images/disk/files/disk?sha256="+strings.Repeat("0", 64), tenant, disk),
			http.StatusUnprocessableEntity, image.CodeChecksumMismatch)
		wantProblem(t, e.upload("/api/v1/orgs/acme/images/disk/files/disk?sha256=xyz", tenant, disk),
			http.StatusUnprocessableEntity, api.CodeValidation)
		// The checksum given at creation binds the upload.
		wantProblem(t, e.upload("/api/v1/orgs/acme/images/web/files/kernel", tenant, append(kernel, 0)),
			http.StatusUnprocessableEntity, image.CodeChecksumMismatch)
		if files := catalogFiles(t, e); len(files) != 0 {
			t.Fatalf("refused uploads left %v in the catalog", files)
		}
		var im api.Image
		e.do("GET", "/api/v1/orgs/acme/images/disk", tenant, nil).must(t, http.StatusOK).decode(t, &im)
		if im.State != api.ImagePending || len(im.Files) != 0 {
			t.Errorf("after refused uploads the image is %+v", im)
		}

		// A kernel image is available once it has its kernel; the initrd is optional.
		e.upload("/api/v1/orgs/acme/images/web/files/kernel", tenant, kernel).must(t, http.StatusOK).decode(t, &im)
		if im.State != api.ImageAvailable || len(im.Files) != 1 || im.Files[0].SHA256 != hexSHA(kernel) {
			t.Errorf("kernel image after upload %+v", im)
		}
	})
}

// imageServer serves files for URL imports.
func imageServer(t *testing.T, files map[string][]byte) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestImageImport(t *testing.T) {
	needQemuImg(t)
	forEachEngine(t, func(t *testing.T, e *env) {
		admin := e.providerAdmin()
		_, tenant := e.tenant("acme", store.Residency{})
		disk := qcow2File(t, "")
		srv := imageServer(t, map[string][]byte{"/disk.qcow2": disk, "/vmlinuz": bzImage(), "/notes.txt": []byte("not a disk\n")})

		// A provider admin may import from the provider's own network.
		var created api.ImageCreated
		res := e.do("POST", "/api/v1/images", admin, api.ImageCreate{Name: "debian-12", DiskURL: srv.URL + "/disk.qcow2",
			DiskSHA256: hexSHA(disk)}).must(t, http.StatusAccepted)
		res.decode(t, &created)
		if created.Operation == nil || created.Image.State != api.ImagePending || created.Image.Source != srv.URL+"/disk.qcow2" {
			t.Fatalf("created %+v", created)
		}
		if loc := res.Header.Get("Location"); loc != "/api/v1/operations/"+created.Operation.ID {
			t.Errorf("Location %q", loc)
		}
		if op := waitOp(t, e, admin, created.Operation.ID); op.State != api.OpSucceeded {
			t.Fatalf("import %+v (error %+v)", op, op.Error)
		}
		var im api.Image
		e.do("GET", "/api/v1/images/debian-12", tenant, nil).must(t, http.StatusOK).decode(t, &im)
		if im.State != api.ImageAvailable || len(im.Files) != 1 || im.Files[0].VirtualSize != 2<<20 {
			t.Fatalf("imported %+v", im)
		}
		if err := image.Verify(context.Background(), e.srv.cfg.Images.Path(im.ID, "disk"), im.Files[0].SHA256); err != nil {
			t.Errorf("stored disk: %v", err)
		}

		// A tenant may not make the control plane fetch from its network.
		fail := func(token, path string, c api.ImageCreate, code string) {
			t.Helper()
			var created api.ImageCreated
			e.do("POST", path, token, c).must(t, http.StatusAccepted).decode(t, &created)
			op := waitOp(t, e, token, created.Operation.ID)
			if op.State != api.OpFailed || op.Error == nil || op.Error.Code != code {
				t.Fatalf("import of %s: %+v (error %+v), want failure %s", c.Name, op, op.Error, code)
			}
			var im api.Image
			e.do("GET", path+"/"+c.Name, token, nil).must(t, http.StatusOK).decode(t, &im)
			if im.State != api.ImageFailed || im.Message == "" || len(im.Files) != 0 {
				t.Errorf("image after failed import %+v", im)
			}
		}
		fail(tenant, "/api/v1/orgs/acme/images", api.ImageCreate{Name: "mine", DiskURL: srv.URL + "/disk.qcow2"}, api.CodeURLForbidden)
		fail(tenant, "/api/v1/orgs/acme/images", api.ImageCreate{Name: "meta", DiskURL: "http://169.254.169.254/latest/meta-data/"}, api.CodeURLForbidden)
		fail(admin, "/api/v1/images", api.ImageCreate{Name: "wrong-sum", DiskURL: srv.URL + "/disk.qcow2", DiskSHA256: strings.Repeat("ab", 32)},
			image.CodeChecksumMismatch)
		fail(admin, "/api/v1/images", api.ImageCreate{Name: "text", DiskURL: srv.URL + "/notes.txt"}, image.CodeNotAnImage)
		fail(admin, "/api/v1/images", api.ImageCreate{Name: "missing", DiskURL: srv.URL + "/nope"}, api.CodeValidation)

		// Only the successful import holds files.
		if files := catalogFiles(t, e); len(files) != 1 || files[0] != im.ID+"/disk" {
			t.Errorf("catalog holds %v", files)
		}

		for _, c := range []api.ImageCreate{
			{Name: "bad-scheme", DiskURL: "file:///etc/passwd"},
			{Name: "no-disk", Kind: api.ImageKindKernel, InitrdURL: srv.URL + "/x"},
			{Name: "disk-with-kernel", KernelURL: srv.URL + "/vmlinuz"},
			{Name: "disk-with-cmdline", Cmdline: "console=ttyS0"},
		} {
			wantProblem(t, e.do("POST", "/api/v1/orgs/acme/images", tenant, c), http.StatusUnprocessableEntity, api.CodeValidation)
		}
	})
}

func TestPrivateImagesAreIsolated(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		_, acme := e.tenant("acme", store.Residency{})
		_, globex := e.tenant("globex", store.Residency{})
		var created api.ImageCreated
		e.do("POST", "/api/v1/orgs/acme/images", acme, api.ImageCreate{Name: "secret", Kind: api.ImageKindKernel}).must(t, http.StatusCreated).decode(t, &created)
		id := created.Image.ID
		if created.Image.Org == "" {
			t.Fatalf("private image without org: %+v", created.Image)
		}
		// A name in another organisation is free.
		e.do("POST", "/api/v1/orgs/globex/images", globex, api.ImageCreate{Name: "secret"}).must(t, http.StatusCreated)

		for _, path := range []string{"/api/v1/orgs/acme/images", "/api/v1/orgs/acme/images/secret", "/api/v1/orgs/acme/images/" + id} {
			wantProblem(t, e.do("GET", path, globex, nil), http.StatusNotFound, api.CodeNotFound)
		}
		for _, path := range []string{"/api/v1/orgs/globex/images/" + id, "/api/v1/images/" + id, "/api/v1/images/secret"} {
			wantProblem(t, e.do("GET", path, globex, nil), http.StatusNotFound, api.CodeNotFound)
		}
		wantProblem(t, e.do("PATCH", "/api/v1/orgs/acme/images/secret", globex, map[string]any{"description": "x"}), http.StatusNotFound, api.CodeNotFound)
		wantProblem(t, e.do("DELETE", "/api/v1/orgs/acme/images/secret", globex, nil), http.StatusNotFound, api.CodeNotFound)
		wantProblem(t, e.upload("/api/v1/orgs/acme/images/secret/files/kernel", globex, bzImage()), http.StatusNotFound, api.CodeNotFound)
		wantProblem(t, e.upload("/api/v1/orgs/globex/images/"+id+"/files/kernel", globex, bzImage()), http.StatusNotFound, api.CodeNotFound)

		var list api.List[api.Image]
		e.do("GET", "/api/v1/orgs/globex/images", globex, nil).must(t, http.StatusOK).decode(t, &list)
		if len(list.Items) != 1 || list.Items[0].ID == id {
			t.Errorf("globex lists %+v", list.Items)
		}
		list = api.List[api.Image]{}
		e.do("GET", "/api/v1/images", globex, nil).must(t, http.StatusOK).decode(t, &list)
		if len(list.Items) != 0 {
			t.Errorf("private images in the public catalog: %+v", list.Items)
		}
		var im api.Image
		e.do("GET", "/api/v1/orgs/acme/images/secret", acme, nil).must(t, http.StatusOK).decode(t, &im)
		if im.ID != id {
			t.Errorf("acme reads %+v", im)
		}
	})
}

// joinHost gives a host an agent credential directly in the store.
func joinHost(t *testing.T, e *env, hostID string) string {
	t.Helper()
	cred, hash := auth.NewSecret(prefixAgent)
	err := e.store.Tx(context.Background(), func(tx *store.Tx) error {
		return tx.SetAgentCredential(context.Background(), hostID, hash, agentapi.ProtocolVersion)
	})
	if err != nil {
		t.Fatalf("agent credential: %v", err)
	}
	return cred
}

func TestImageInUseAndAgentFetch(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		admin := e.providerAdmin()
		e.do("POST", "/api/v1/regions", admin, api.RegionCreate{Name: "au-syd", Jurisdiction: "AU"}).must(t, http.StatusCreated)
		e.do("POST", "/api/v1/zones", admin, api.ZoneCreate{Name: "au-syd-1a", Region: "au-syd"}).must(t, http.StatusCreated)
		e.do("POST", "/api/v1/hosts", admin, api.HostCreate{Name: "hv1", Zone: "au-syd-1a"}).must(t, http.StatusCreated)
		e.do("POST", "/api/v1/sizes", admin, api.SizeCreate{Name: "s1.small", VCPU: 1, MemoryMiB: 1024, DiskGiB: 10}).must(t, http.StatusCreated)
		agent := joinHost(t, e, "hv1")
		acme, tenant := e.tenant("acme", store.Residency{Jurisdictions: []string{"AU"}})
		_, kiwi := e.tenant("kiwi", store.Residency{Jurisdictions: []string{"NZ"}})

		kernel := bzImage()
		add := func(token, path string) api.Image {
			t.Helper()
			var c api.ImageCreated
			e.do("POST", path, token, api.ImageCreate{Name: "k", Kind: api.ImageKindKernel}).must(t, http.StatusCreated).decode(t, &c)
			e.upload(path+"/k/files/kernel", token, kernel).must(t, http.StatusOK)
			return c.Image
		}
		public := add(admin, "/api/v1/images")
		mine := add(tenant, "/api/v1/orgs/acme/images")
		theirs := add(kiwi, "/api/v1/orgs/kiwi/images")

		// Agents fetch what they may cache: public images, and private ones
		// whose organisation allows the host's zone.
		for _, im := range []api.Image{public, mine} {
			res := e.do("GET", agentapi.PathImageFile+"/"+im.ID+"/kernel", agent, nil).must(t, http.StatusOK)
			if hexSHA(res.Body) != hexSHA(kernel) {
				t.Errorf("agent got %d bytes of image %s", len(res.Body), im.ID)
			}
		}
		wantProblem(t, e.do("GET", agentapi.PathImageFile+"/"+theirs.ID+"/kernel", agent, nil), http.StatusForbidden, api.CodeResidency)
		wantProblem(t, e.do("GET", agentapi.PathImageFile+"/"+mine.ID+"/initrd", agent, nil), http.StatusNotFound, api.CodeNotFound)
		wantProblem(t, e.do("GET", agentapi.PathImageFile+"/"+mine.ID+"/kernel", tenant, nil), http.StatusUnauthorized, api.CodeUnauthenticated)

		// An image with VMs cannot be deleted.
		var vdc api.VDC
		e.do("POST", "/api/v1/orgs/acme/vdcs", tenant, api.VDCCreate{Name: "main", Zone: "au-syd-1a"}).must(t, http.StatusCreated).decode(t, &vdc)
		vm := &store.VM{OrgID: acme.ID, VDCID: vdc.ID, Name: "web1", Hostname: "web1", ImageID: mine.ID, SizeID: "s1.small",
			VCPU: 1, MemoryMiB: 1024, DiskGiB: 10, HostID: "hv1", Power: "on"}
		if err := e.store.Tx(ctx, func(tx *store.Tx) error { return tx.CreateVM(ctx, vm) }); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, e.do("DELETE", "/api/v1/orgs/acme/images/k", tenant, nil), http.StatusConflict, api.CodeImageInUse)
		e.do("GET", agentapi.PathImageFile+"/"+mine.ID+"/kernel", agent, nil).must(t, http.StatusOK)
		if err := e.store.Tx(ctx, func(tx *store.Tx) error { return tx.DeleteVM(ctx, vm.ID) }); err != nil {
			t.Fatal(err)
		}
		e.do("DELETE", "/api/v1/orgs/acme/images/k", tenant, nil).must(t, http.StatusNoContent)
		if _, err := os.Stat(e.srv.cfg.Images.Path(mine.ID, "kernel")); !os.IsNotExist(err) {
			t.Errorf("the deleted image's kernel is still stored (%v)", err)
		}
		wantProblem(t, e.do("GET", agentapi.PathImageFile+"/"+mine.ID+"/kernel", agent, nil), http.StatusNotFound, api.CodeNotFound)
	})
}
