package cli_test

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/certs"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// writeOVA writes an OVA like vSphere's to dir/name.ova: a VM with 2 vCPUs,
// 2048 MB and one 16 MiB streamOptimized disk per name in disks, with a
// SHA256 manifest.
func writeOVA(t *testing.T, dir, name string, disks ...string) string {
	t.Helper()
	raw, vmdk := filepath.Join(dir, "disk.raw"), filepath.Join(dir, "disk.vmdk")
	for _, args := range [][]string{
		{"create", "-q", "-f", "raw", raw, "16M"},
		{"convert", "-q", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", raw, vmdk},
	} {
		if out, err := exec.Command("qemu-img", args...).CombinedOutput(); err != nil {
			t.Fatalf("qemu-img %v: %v\n%s", args, err, out)
		}
	}
	disk, err := os.ReadFile(vmdk)
	if err != nil {
		t.Fatal(err)
	}
	var refs, section string
	for i, d := range disks {
		refs += fmt.Sprintf(`<File ovf:href="%s" ovf:id="file%d"/>`, d, i+1)
		section += fmt.Sprintf(`<Disk ovf:capacity="16" ovf:capacityAllocationUnits="byte * 2^20" ovf:diskId="vmdisk%d" ovf:fileRef="file%d"/>`, i+1, i+1)
	}
	ovf := fmt.Appendf(nil, `<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf">
  <References>%s</References>
  <DiskSection><Info>Virtual disk information</Info>%s</DiskSection>
  <VirtualSystem ovf:id="%s">
    <Info>A virtual machine</Info>
    <Name>%s</Name>
    <OperatingSystemSection ovf:id="96" vmw:osType="debian10_64Guest"><Info>Guest OS</Info><Description>Debian GNU/Linux 10 (64-bit)</Description></OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <Item><rasd:ElementName>2 virtual CPU(s)</rasd:ElementName><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>
      <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:ElementName>2048MB of memory</rasd:ElementName><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>2048</rasd:VirtualQuantity></Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
`, refs, section, name, name)
	type file struct {
		name string
		data []byte
	}
	files := []file{{name + ".ovf", ovf}}
	for _, d := range disks {
		files = append(files, file{d, disk})
	}
	var mf bytes.Buffer
	for _, f := range files {
		fmt.Fprintf(&mf, "SHA256(%s)= %x\n", f.name, sha256.Sum256(f.data))
	}
	files = append(files[:1:1], append([]file{{name + ".mf", mf.Bytes()}}, files[1:]...)...)
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
	p := filepath.Join(dir, name+".ova")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestImageImportOVA(t *testing.T) {
	if _, err := exec.LookPath("qemu-img"); err != nil && os.Getenv("CI") == "" {
		t.Skipf("qemu-img is not installed: %v", err)
	}
	e := newEnv(t, true)
	isolate(t)
	fp := certs.Fingerprint(e.HTTP.Certificate())
	as := []string{"--server", e.URL, "--token", e.ProviderAdmin(), "--fingerprint", fp}
	ok(t, append(as, "size", "create", "s1.small", "--vcpu", "1", "--memory-mib", "1024", "--disk-gib", "10")...)
	ok(t, append(as, "size", "create", "s1.medium", "--vcpu", "2", "--memory-mib", "2048", "--disk-gib", "20")...)
	ok(t, append(as, "org", "create", "acme", "--jurisdiction", "AU")...)
	org := decode[api.Organisation](t, ok(t, append(as, "org", "get", "acme", "-o", "json")...))
	e.User("dev@acme.test", store.RoleBinding{OrgID: org.ID, Role: api.RoleOrgAdmin})
	login(t, e.URL, "dev@acme.test", "--fingerprint", fp)

	dir := t.TempDir()
	ova := writeOVA(t, dir, "web01", "web01-disk1.vmdk")
	st, err := os.Stat(ova)
	if err != nil {
		t.Fatal(err)
	}
	r := ok(t, "image", "import-ova", "web01", "--file", ova)
	for _, want := range []string{"web01", "available", "Hardware in the OVA: 2 vCPU, 2048 MiB memory, 1 GiB disk (Debian GNU/Linux 10 (64-bit))", "Suggested size: s1.medium"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, fmt.Sprintf("Uploaded web01 OVA: %d bytes", st.Size())) {
		t.Errorf("upload progress: %q", r.stderr)
	}
	img := decode[api.Image](t, ok(t, "image", "get", "web01", "-o", "json"))
	if img.State != api.ImageAvailable || img.Org != org.ID || len(img.Files) != 1 || img.Files[0].VirtualSize != 16<<20 {
		t.Errorf("imported image %+v", img)
	}

	// JSON output carries the hardware; the public catalog needs the provider.
	got := decode[api.OVAImported](t, ok(t, append(as, "image", "import-ova", "base", "--file", ova, "--public", "--os", "debian-10", "-o", "json")...))
	if got.Image.Org != "" || got.Image.OS != "debian-10" || got.Hardware.CPUs != 2 || got.SuggestedSize != "s1.medium" {
		t.Errorf("public import %+v", got)
	}
	if r := sirocco(t, "", "image", "import-ova", "mine", "--file", ova, "--public"); r.code == 0 || !strings.Contains(r.stderr, "(forbidden)") {
		t.Errorf("tenant imports into the public catalog: exit %d, %s", r.code, r.stderr)
	}

	// An OVA with two disks is refused, and leaves no image.
	two := writeOVA(t, dir, "db01", "db01-disk1.vmdk", "db01-disk2.vmdk")
	r = sirocco(t, "", "image", "import-ova", "db01", "--file", two)
	if r.code == 0 || !strings.Contains(r.stderr, "("+api.CodeInvalidOVA+")") || !strings.Contains(r.stderr, "2 disks") {
		t.Errorf("two disks: exit %d, %s", r.code, r.stderr)
	}
	if r := sirocco(t, "", "image", "get", "db01"); r.code == 0 {
		t.Errorf("a refused OVA left image db01: %s", r.stdout)
	}
	if r := sirocco(t, "", "image", "import-ova", "x", "--file", filepath.Join(dir, "missing.ova")); r.code == 0 || !strings.Contains(r.stderr, "--file") {
		t.Errorf("missing file: exit %d, %s", r.code, r.stderr)
	}
}
