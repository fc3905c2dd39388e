package qemu

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
	"sigs.k8s.io/yaml"

	"github.com/sirocco-cloud/sirocco/internal/compute"
)

// SeedLabel is the volume id cloud-init's NoCloud data source looks for.
const SeedLabel = "cidata"

// SeedFiles are the NoCloud files of a VM's seed, by name.
//
//   - meta-data: instance-id (the VM id), local-hostname, and the SSH keys as
//     public-keys, which cloud-init applies whatever the user-data is.
//   - user-data: the user's own, verbatim, unless it is a #cloud-config and
//     keys are given: then the keys are merged into its
//     ssh_authorized_keys (the document is re-serialised: comments and key
//     order are lost, and it fails if the YAML does not parse). With no
//     user-data, a #cloud-config carrying the keys.
//   - network-config: version 2, DHCP on every NIC (matched by MAC), the
//     default route through the first only (see ethernets).
func SeedFiles(spec compute.Spec) (map[string][]byte, error) {
	meta := map[string]any{
		"instance-id":    spec.ID,
		"local-hostname": spec.Hostname,
	}
	if len(spec.SSHKeys) > 0 {
		meta["public-keys"] = spec.SSHKeys
	}
	metaYAML, err := yaml.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("seed meta-data: %w", err)
	}
	user, err := userData(spec.UserData, spec.SSHKeys)
	if err != nil {
		return nil, err
	}
	netYAML, err := yaml.Marshal(map[string]any{
		"version":   2,
		"ethernets": ethernets(spec.NICs),
	})
	if err != nil {
		return nil, fmt.Errorf("seed network-config: %w", err)
	}
	return map[string][]byte{
		"meta-data":      metaYAML,
		"user-data":      user,
		"network-config": netYAML,
	}, nil
}

// ethernets is the network-config v2 "ethernets" of a VM: one entry per
// NIC, matched by MAC and named nic<i>, each on DHCP. Only the first takes
// the default route its DHCP server offers: with two networks both
// offering one, the guest would otherwise route to the internet through
// whichever answered last. Without NICs, DHCP on the first Ethernet-like
// interface, as a guest with a NIC wired by other means would want.
func ethernets(nics []compute.NIC) map[string]any {
	if len(nics) == 0 {
		return map[string]any{"nic0": map[string]any{"dhcp4": true, "match": map[string]any{"name": "e*"}}}
	}
	out := map[string]any{}
	for i, n := range nics {
		eth := map[string]any{
			"dhcp4": true,
			"match": map[string]any{"macaddress": strings.ToLower(n.MAC)},
		}
		if i > 0 {
			eth["dhcp4-overrides"] = map[string]any{"use-routes": false}
		}
		out["nic"+strconv.Itoa(i)] = eth
	}
	return out
}

const cloudConfigHeader = "#cloud-config"

func userData(user string, keys []string) ([]byte, error) {
	if user == "" {
		doc := map[string]any{}
		if len(keys) > 0 {
			doc["ssh_authorized_keys"] = keys
		}
		return cloudConfig(doc)
	}
	firstLine, _, _ := strings.Cut(user, "\n")
	if len(keys) == 0 || strings.TrimSpace(firstLine) != cloudConfigHeader {
		return []byte(user), nil
	}
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(user), &doc); err != nil {
		return nil, fmt.Errorf("seed user-data: merge ssh keys into #cloud-config: %w", err)
	}
	if doc == nil {
		doc = map[string]any{}
	}
	var merged []string
	if old, ok := doc["ssh_authorized_keys"].([]any); ok {
		for _, k := range old {
			if s, ok := k.(string); ok {
				merged = append(merged, s)
			}
		}
	}
	for _, k := range keys {
		if !slices.Contains(merged, k) {
			merged = append(merged, k)
		}
	}
	doc["ssh_authorized_keys"] = merged
	return cloudConfig(doc)
}

func cloudConfig(doc map[string]any) ([]byte, error) {
	b, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("seed user-data: %w", err)
	}
	if len(doc) == 0 {
		b = nil
	}
	return append([]byte(cloudConfigHeader+"\n"), b...), nil
}

// WriteSeed writes the NoCloud seed of spec to path as an ISO 9660 image
// with Rock Ridge and Joliet, volume id "cidata". path must not exist.
func WriteSeed(path string, spec compute.Spec) error {
	files, err := SeedFiles(spec)
	if err != nil {
		return err
	}
	return writeISO(path, SeedLabel, files)
}

func writeISO(path, label string, files map[string][]byte) (err error) {
	work, err := os.MkdirTemp(filepath.Dir(path), ".seed-")
	if err != nil {
		return fmt.Errorf("write iso %s: %w", path, err)
	}
	defer os.RemoveAll(work)
	size := int64(1 << 20) // room for the descriptors and directories
	for _, b := range files {
		size += int64(len(b)) + 2048
	}
	b, err := file.CreateFromPath(path, size)
	if err != nil {
		return fmt.Errorf("write iso %s: %w", path, err)
	}
	defer func() {
		if cerr := b.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("write iso %s: %w", path, cerr)
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	fs, err := iso9660.Create(b, size, 0, 2048, work)
	if err != nil {
		return fmt.Errorf("write iso %s: %w", path, err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		f, err := fs.OpenFile("/"+n, os.O_CREATE|os.O_RDWR)
		if err != nil {
			return fmt.Errorf("write iso %s: %s: %w", path, n, err)
		}
		if _, err := f.Write(files[n]); err != nil {
			f.Close()
			return fmt.Errorf("write iso %s: %s: %w", path, n, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("write iso %s: %s: %w", path, n, err)
		}
	}
	if err := fs.Finalize(iso9660.FinalizeOptions{RockRidge: true, Joliet: true, VolumeIdentifier: label}); err != nil {
		return fmt.Errorf("write iso %s: finalize: %w", path, err)
	}
	if err := padVolumeIDs(path); err != nil {
		return fmt.Errorf("write iso %s: %w", path, err)
	}
	return nil
}

// padVolumeIDs replaces the NUL padding go-diskfs leaves after the volume
// identifiers with the spaces ISO 9660 prescribes (UCS-2 spaces in the
// Joliet descriptor), so that every reader sees the label "cidata".
func padVolumeIDs(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	const (
		descStart = 16 * 2048 // after the system area
		idOffset  = 40        // volume identifier, 32 bytes
		idLen     = 32
	)
	for i := int64(0); i < 16; i++ {
		desc := make([]byte, 2048)
		if _, err := f.ReadAt(desc, descStart+i*2048); err != nil {
			return fmt.Errorf("read volume descriptor %d: %w", i, err)
		}
		if string(desc[1:6]) != "CD001" {
			return fmt.Errorf("volume descriptor %d: bad magic", i)
		}
		typ := desc[0]
		if typ == 255 { // terminator
			break
		}
		id := desc[idOffset : idOffset+idLen]
		switch typ {
		case 1: // primary: bytes
			for j := len(bytes.TrimRight(id, "\x00")); j < idLen; j++ {
				id[j] = ' '
			}
		case 2: // supplementary (Joliet): big-endian UCS-2
			n := 0
			for n+1 < idLen && (id[n] != 0 || id[n+1] != 0) {
				n += 2
			}
			for j := n; j+1 < idLen; j += 2 {
				id[j], id[j+1] = 0, ' '
			}
		default:
			continue
		}
		if _, err := f.WriteAt(id, descStart+i*2048+idOffset); err != nil {
			return fmt.Errorf("write volume descriptor %d: %w", i, err)
		}
	}
	return f.Close()
}

// ReadSeed reads the files back from a seed ISO written by WriteSeed, and
// its volume label. It is for tests and diagnostics.
func ReadSeed(path string) (label string, files map[string][]byte, err error) {
	b, err := file.OpenFromPath(path, true)
	if err != nil {
		return "", nil, fmt.Errorf("read iso %s: %w", path, err)
	}
	defer b.Close()
	fs, err := iso9660.Read(b, 0, 0, 2048)
	if err != nil {
		return "", nil, fmt.Errorf("read iso %s: %w", path, err)
	}
	entries, err := fs.ReadDir(".")
	if err != nil {
		return "", nil, fmt.Errorf("read iso %s: %w", path, err)
	}
	files = make(map[string][]byte)
	for _, e := range entries {
		data, err := fs.ReadFile(e.Name())
		if err != nil {
			return "", nil, fmt.Errorf("read iso %s: %s: %w", path, e.Name(), err)
		}
		files[e.Name()] = bytes.Clone(data)
	}
	return fs.Label(), files, nil
}
