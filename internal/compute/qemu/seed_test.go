package qemu

import (
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/sirocco-cloud/sirocco/internal/compute"
)

func TestUserData(t *testing.T) {
	keys := []string{"ssh-ed25519 AAAA1 a@x", "ssh-ed25519 AAAA2 b@x"}
	tests := []struct {
		name, user string
		keys       []string
		want       string
	}{
		{"nothing", "", nil, "#cloud-config\n"},
		{"keys only", "", keys, "#cloud-config\nssh_authorized_keys:\n- ssh-ed25519 AAAA1 a@x\n- ssh-ed25519 AAAA2 b@x\n"},
		{"script kept verbatim", "#!/bin/sh\necho hi\n", keys, "#!/bin/sh\necho hi\n"},
		{"cloud-config without keys kept verbatim", "#cloud-config\n# comment\npackages: [nginx]\n", nil, "#cloud-config\n# comment\npackages: [nginx]\n"},
		{"keys merged into cloud-config",
			"#cloud-config\npackages: [nginx]\nssh_authorized_keys:\n  - ssh-ed25519 AAAA1 a@x\n  - ssh-rsa OLD c@x\n", keys,
			"#cloud-config\npackages:\n- nginx\nssh_authorized_keys:\n- ssh-ed25519 AAAA1 a@x\n- ssh-rsa OLD c@x\n- ssh-ed25519 AAAA2 b@x\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := userData(tt.user, tt.keys)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
	if _, err := userData("#cloud-config\n: : [\n", keys); err == nil {
		t.Error("broken #cloud-config with keys: no error")
	}
}

func TestSeedISO(t *testing.T) {
	spec := compute.Spec{
		ID: "vm-7", Hostname: "alpha", NICs: []compute.NIC{{MAC: "52:54:00:AB:CD:EF", Tap: "st00abcdef"}},
		SSHKeys:  []string{"ssh-ed25519 AAAA a@x"},
		UserData: "#!/bin/sh\necho hello\n",
	}
	path := filepath.Join(t.TempDir(), "seed.iso")
	if err := WriteSeed(path, spec); err != nil {
		t.Fatal(err)
	}
	label, files, err := ReadSeed(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(label) != SeedLabel {
		t.Errorf("label = %q, want %q", label, SeedLabel)
	}
	if len(files) != 3 {
		t.Errorf("files = %v, want meta-data, user-data, network-config", keysOf(files))
	}
	var meta struct {
		InstanceID    string   `json:"instance-id"`
		LocalHostname string   `json:"local-hostname"`
		PublicKeys    []string `json:"public-keys"`
	}
	if err := yaml.Unmarshal(files["meta-data"], &meta); err != nil {
		t.Fatalf("meta-data %q: %v", files["meta-data"], err)
	}
	if meta.InstanceID != "vm-7" || meta.LocalHostname != "alpha" || len(meta.PublicKeys) != 1 {
		t.Errorf("meta-data = %+v", meta)
	}
	if string(files["user-data"]) != spec.UserData {
		t.Errorf("user-data = %q", files["user-data"])
	}
	want := "ethernets:\n  nic0:\n    dhcp4: true\n    match:\n      macaddress: 52:54:00:ab:cd:ef\nversion: 2\n"
	if string(files["network-config"]) != want {
		t.Errorf("network-config =\n%s\nwant\n%s", files["network-config"], want)
	}
	// The seed is never overwritten in place.
	if err := WriteSeed(path, spec); err == nil {
		t.Error("second WriteSeed to the same path succeeded")
	}
}

// TestNetworkConfig: every NIC takes DHCP, matched by its MAC; only the
// first takes the default route, so that a second network does not steal
// the VM's way out.
func TestNetworkConfig(t *testing.T) {
	tests := []struct {
		name string
		nics []compute.NIC
		want string
	}{
		{"no nic", nil, "ethernets:\n  nic0:\n    dhcp4: true\n    match:\n      name: e*\nversion: 2\n"},
		{"two nics", []compute.NIC{{MAC: "52:54:00:00:00:01", Tap: "st00000001"}, {MAC: "52:54:00:00:00:02", Tap: "st00000002"}},
			"ethernets:\n" +
				"  nic0:\n    dhcp4: true\n    match:\n      macaddress: \"52:54:00:00:00:01\"\n" +
				"  nic1:\n    dhcp4: true\n    dhcp4-overrides:\n      use-routes: false\n    match:\n      macaddress: \"52:54:00:00:00:02\"\n" +
				"version: 2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := SeedFiles(compute.Spec{ID: "vm-1", NICs: tt.nics})
			if err != nil {
				t.Fatal(err)
			}
			if got := string(files["network-config"]); got != tt.want {
				t.Errorf("network-config =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func keysOf(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
