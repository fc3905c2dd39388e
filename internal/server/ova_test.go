package server

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/image"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// testOVA is a file of a test OVA, in archive order.
type testOVAFile struct {
	name string
	data []byte
}

// ovaVMDK makes a real VMDK with qemu-img: streamOptimized, as vSphere
// exports, or, with a parent, one that refers to another file.
func ovaVMDK(t testing.TB, parent bool) []byte {
	t.Helper()
	dir := t.TempDir()
	run := func(args ...string) {
		if out, err := exec.Command("qemu-img", args...).CombinedOutput(); err != nil {
			t.Fatalf("qemu-img %v: %v\n%s", args, err, out)
		}
	}
	raw, vmdk := filepath.Join(dir, "disk.raw"), filepath.Join(dir, "disk.vmdk")
	if parent {
		run("create", "-q", "-f", "vmdk", raw, "16M")
		run("create", "-q", "-f", "vmdk", "-b", raw, "-F", "vmdk", vmdk)
	} else {
		run("create", "-q", "-f", "raw", raw, "16M")
		run("convert", "-q", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", raw, vmdk)
	}
	b, err := os.ReadFile(vmdk)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ovaDescriptor is an OVF descriptor shaped like vSphere's, of a VM with 2
// vCPUs, 2048 MB and one 16 MiB disk per name.
func ovaDescriptor(disks ...string) []byte {
	var refs, section string
	for i, d := range disks {
		refs += fmt.Sprintf(`<File ovf:href="%s" ovf:id="file%d"/>`, d, i+1)
		section += fmt.Sprintf(`<Disk ovf:capacity="16" ovf:capacityAllocationUnits="byte * 2^20" ovf:diskId="vmdisk%d" ovf:fileRef="file%d" `+
			`ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>`, i+1, i+1)
	}
	return fmt.Appendf(nil, `<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf">
  <References>%s</References>
  <DiskSection><Info>Virtual disk information</Info>%s</DiskSection>
  <VirtualSystem ovf:id="web01">
    <Info>A virtual machine</Info>
    <Name>web01</Name>
    <OperatingSystemSection ovf:id="96" vmw:osType="debian10_64Guest"><Info>Guest OS</Info><Description>Debian GNU/Linux 10 (64-bit)</Description></OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <Item><rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits><rasd:ElementName>2 virtual CPU(s)</rasd:ElementName><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>
      <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:ElementName>2048MB of memory</rasd:ElementName><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>2048</rasd:VirtualQuantity></Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
`, refs, section)
}

// ovaArchive tars files in order, with a SHA256 manifest of the files in
// listed (nil: none) after the descriptor, as ovftool writes it.
func ovaArchive(t testing.TB, listed []testOVAFile, files ...testOVAFile) []byte {
	t.Helper()
	if listed != nil {
		var mf bytes.Buffer
		for _, f := range listed {
			fmt.Fprintf(&mf, "SHA256(%s)= %x\n", f.name, sha256.Sum256(f.data))
		}
		files = append(files[:1:1], append([]testOVAFile{{"web01.mf", mf.Bytes()}}, files[1:]...)...)
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// webOVA is a good OVA of one VM with 2 vCPUs, 2048 MB and a 16 MiB disk.
func webOVA(t testing.TB) []byte {
	t.Helper()
	ovf := testOVAFile{"web01.ovf", ovaDescriptor("web01-disk1.vmdk")}
	disk := testOVAFile{"web01-disk1.vmdk", ovaVMDK(t, false)}
	return ovaArchive(t, []testOVAFile{ovf, disk}, ovf, disk)
}

// postOVA sends an OVA as the raw body.
func (e *env) postOVA(path, token string, ova []byte) *resp {
	e.t.Helper()
	return e.do("POST", path, token, ova, "Content-Type", "application/x-tar")
}

// withOVARoutes registers the OVA routes on a server whose routes do not
// (yet) include them.
func withOVARoutes(e *env) *env {
	if e.srv.api.OpenAPI().Paths["/api/v1/images/ova"] == nil {
		e.srv.ovaRoutes()
	}
	return e
}

func TestImportOVA(t *testing.T) {
	needQemuImg(t)
	good := webOVA(t)
	forEachEngine(t, func(t *testing.T, e *env) {
		withOVARoutes(e)
		admin := e.providerAdmin()
		for _, z := range []api.SizeCreate{{Name: "s1.small", VCPU: 1, MemoryMiB: 1024, DiskGiB: 10}, {Name: "s1.medium", VCPU: 2, MemoryMiB: 2048, DiskGiB: 20}} {
			e.do("POST", "/api/v1/sizes", admin, z).must(t, http.StatusCreated)
		}
		o, tenant := e.tenant("acme", store.Residency{})

		var got api.OVAImported
		res := e.postOVA("/api/v1/orgs/acme/images/ova?name=web01", tenant, good).must(t, http.StatusCreated)
		res.decode(t, &got)
		im := got.Image
		if im.Name != "web01" || im.Org != o.ID || im.State != api.ImageAvailable || im.Kind != api.ImageKindDisk ||
			len(im.Files) != 1 || im.Files[0].VirtualSize != 16<<20 || im.OS != "Debian GNU/Linux 10 (64-bit)" || im.MinDiskGiB != 1 {
			t.Errorf("image %+v", im)
		}
		if want := (api.OVAHardware{CPUs: 2, MemoryMiB: 2048, DiskGiB: 1, OS: "Debian GNU/Linux 10 (64-bit)"}); got.Hardware != want {
			t.Errorf("hardware %+v, want %+v", got.Hardware, want)
		}
		if got.SuggestedSize != "s1.medium" {
			t.Errorf("suggested size %q, want s1.medium", got.SuggestedSize)
		}
		if loc := res.Header.Get("Location"); loc != "/api/v1/orgs/"+o.ID+"/images/"+im.ID {
			t.Errorf("Location %q", loc)
		}
		var read api.Image
		e.do("GET", "/api/v1/orgs/acme/images/web01", tenant, nil).must(t, http.StatusOK).decode(t, &read)
		if read.State != api.ImageAvailable || read.Files[0].SHA256 != im.Files[0].SHA256 {
			t.Errorf("read back %+v", read)
		}
		stored := catalogFiles(t, e)
		if len(stored) != 1 || stored[0] != im.ID+"/disk" {
			t.Fatalf("catalog holds %v, want only %s/disk", stored, im.ID)
		}

		// The name is taken: refused before the body is read, and the
		// image stays.
		wantProblem(t, e.postOVA("/api/v1/orgs/acme/images/ova?name=web01", tenant, good), http.StatusConflict, api.CodeAlreadyExists)
		wantProblem(t, e.postOVA("/api/v1/orgs/acme/images/ova", tenant, good), http.StatusUnprocessableEntity, api.CodeValidation)
		wantProblem(t, e.postOVA("/api/v1/images/ova?name=web01", tenant, good), http.StatusForbidden, api.CodeForbidden)
		e.do("GET", "/api/v1/orgs/acme/images/web01", tenant, nil).must(t, http.StatusOK)

		// The provider imports into the public catalog.
		var pub api.OVAImported
		e.postOVA("/api/v1/images/ova?name=web01&os=debian-10&description=Web+server", admin, good).must(t, http.StatusCreated).decode(t, &pub)
		if pub.Image.Org != "" || pub.Image.OS != "debian-10" || pub.Image.Description != "Web server" || pub.Image.State != api.ImageAvailable {
			t.Errorf("public image %+v", pub.Image)
		}
		e.do("GET", "/api/v1/images/web01", tenant, nil).must(t, http.StatusOK)
	})
}

func TestImportOVARefused(t *testing.T) {
	needQemuImg(t)
	ovf := testOVAFile{"web01.ovf", ovaDescriptor("web01-disk1.vmdk")}
	disk := testOVAFile{"web01-disk1.vmdk", ovaVMDK(t, false)}
	tampered := testOVAFile{disk.name, bytes.Clone(disk.data)}
	tampered.data[len(tampered.data)/2] ^= 0xff
	disk2 := testOVAFile{"web01-disk2.vmdk", disk.data}
	ovf2 := testOVAFile{"web01.ovf", ovaDescriptor(disk.name, disk2.name)}
	child := testOVAFile{disk.name, ovaVMDK(t, true)}

	tests := []struct {
		name   string
		ova    []byte
		code   string
		detail string
	}{
		{"wrong digest", ovaArchive(t, []testOVAFile{ovf, disk}, ovf, tampered), image.CodeChecksumMismatch, "the manifest says"},
		{"two disks", ovaArchive(t, []testOVAFile{ovf2, disk, disk2}, ovf2, disk, disk2), image.CodeInvalidOVA, "2 disks"},
		{"backing file", ovaArchive(t, []testOVAFile{ovf, child}, ovf, child), image.CodeBackingFile, "web01-disk1.vmdk"},
		{"parent directory", ovaArchive(t, nil, ovf, testOVAFile{"../" + disk.name, disk.data}), image.CodeInvalidOVA, "is a path"},
		{"not an OVA", []byte(`{"name": "web01"}`), image.CodeInvalidOVA, "not a tar archive"},
	}
	forEachEngine(t, func(t *testing.T, e *env) {
		withOVARoutes(e)
		_, tenant := e.tenant("acme", store.Residency{})
		for _, tt := range tests {
			p := wantProblem(t, e.postOVA("/api/v1/orgs/acme/images/ova?name=web01", tenant, tt.ova), http.StatusUnprocessableEntity, tt.code)
			if !strings.Contains(p.Detail, tt.detail) || strings.Contains(p.Detail, e.srv.cfg.Images.Dir) {
				t.Errorf("%s: refused with %q, want it to say %q and name no control-plane path", tt.name, p.Detail, tt.detail)
			}
			e.do("GET", "/api/v1/orgs/acme/images/web01", tenant, nil).must(t, http.StatusNotFound)
			if files := catalogFiles(t, e); len(files) != 0 {
				t.Errorf("%s: the refusal left %v in the catalog", tt.name, files)
			}
		}
		var list api.List[api.Image]
		e.do("GET", "/api/v1/orgs/acme/images", tenant, nil).must(t, http.StatusOK).decode(t, &list)
		if len(list.Items) != 0 {
			t.Errorf("refused imports left images %+v", list.Items)
		}
	})
}

func TestOVADocumented(t *testing.T) {
	e := withOVARoutes(newEnv(t, filepath.Join(t.TempDir(), "s.db"), Config{}))
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string         `json:"operationId"`
			RequestBody map[string]any `json:"requestBody"`
		} `json:"paths"`
	}
	e.do("GET", "/api/v1/openapi.json", "", nil).must(t, http.StatusOK).decode(t, &doc)
	for path, id := range map[string]string{"/api/v1/images/ova": "import-public-ova", "/api/v1/orgs/{org}/images/ova": "import-ova"} {
		op := doc.Paths[path]["post"]
		if op.OperationID != id || !strings.Contains(fmt.Sprint(op.RequestBody), "application/x-tar") {
			t.Errorf("POST %s documented as %+v", path, op)
		}
	}
}
