package image

import (
	"archive/tar"
	"cmp"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// CodeInvalidOVA is the reason code of an OVA whose archive or descriptor
// Sirocco cannot import: paths in the archive, several disks, a descriptor
// that is missing, misplaced or unreadable, files it does not reference.
const CodeInvalidOVA = "invalid_ova"

// Defaults for [OVALimits].
const (
	DefaultOVADescriptorBytes = 1 << 20 // an .ovf, .mf or .cert
	DefaultOVAEntries         = 16      // vSphere exports hold 3 or 4
)

// OVALimits bound what [ReadOVA] reads from an untrusted archive. Zero
// values mean the defaults; MaxFileBytes zero means no limit.
type OVALimits struct {
	MaxDescriptorBytes int64 // each of the .ovf, .mf and .cert
	MaxEntries         int   // files in the archive
	MaxFileBytes       int64 // the disk and each other file the descriptor references
}

// OVA is what [ReadOVA] found in an OVA: the virtual machine its descriptor
// describes and a temporary copy of its one disk, to be handed to
// [Catalog.Put] and removed with Close.
type OVA struct {
	Name         string // the VirtualSystem's Name, else its id
	OS           string // the OperatingSystemSection's Description, else its osType
	CPUs         int    // 0 when the descriptor gives none
	MemoryMiB    int64  // 0 when the descriptor gives none
	DiskCapacity int64  // bytes, from the DiskSection; 0 when not a number
	DiskFile     string // the disk's name in the archive
	DiskPath     string // the temporary copy of the disk
	DiskSize     int64  // bytes of DiskPath
	DiskSHA256   string // of DiskPath
	Manifest     bool   // a manifest vouched for every file
}

// Close removes the temporary copy of the disk.
func (o *OVA) Close() error {
	if o == nil || o.DiskPath == "" {
		return nil
	}
	err := os.Remove(o.DiskPath)
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	o.DiskPath = ""
	return err
}

// The parts of an OVF descriptor (DMTF DSP0243, versions 1 and 2) that
// ReadOVA reads. Tags carry no namespace, so ovf:, rasd: and vmw: names match
// by their local part whichever prefix an exporter chose.
type (
	ovfEnvelope struct {
		Files      []ovfFile  `xml:"References>File"`
		Disks      []ovfDisk  `xml:"DiskSection>Disk"`
		System     *ovfSystem `xml:"VirtualSystem"`
		Collection *struct{}  `xml:"VirtualSystemCollection"`
	}
	ovfFile struct {
		ID          string `xml:"id,attr"`
		Href        string `xml:"href,attr"`
		Compression string `xml:"compression,attr"`
		ChunkSize   string `xml:"chunkSize,attr"`
	}
	ovfDisk struct {
		ID        string `xml:"diskId,attr"`
		FileRef   string `xml:"fileRef,attr"`
		Capacity  string `xml:"capacity,attr"`
		Units     string `xml:"capacityAllocationUnits,attr"`
		ParentRef string `xml:"parentRef,attr"`
	}
	ovfSystem struct {
		ID   string `xml:"id,attr"`
		Name string `xml:"Name"`
		OS   []struct {
			OSType      string `xml:"osType,attr"`
			Description string `xml:"Description"`
		} `xml:"OperatingSystemSection"`
		Hardware []struct {
			Items []ovfItem `xml:"Item"`
		} `xml:"VirtualHardwareSection"`
	}
	ovfItem struct {
		Configuration   string `xml:"configuration,attr"`
		ResourceType    string `xml:"ResourceType"`
		VirtualQuantity string `xml:"VirtualQuantity"`
		AllocationUnits string `xml:"AllocationUnits"`
	}
)

// CIM resource types of a VirtualHardwareSection Item.
const (
	ovfResourceCPU    = "3"
	ovfResourceMemory = "4"
)

// ovaDigests are the algorithms an OVF manifest may use.
var ovaDigests = []string{"SHA1", "SHA256", "SHA512"}

// ovaReader is the state of one ReadOVA.
type ovaReader struct {
	limits   OVALimits
	dir      string
	env      *ovfEnvelope
	diskHref string
	refs     map[string]bool              // hrefs of referenced files
	sums     map[string]map[string]string // file -> algorithm -> hex digest
	manifest map[string]map[string]string // the same, as the manifest claims
	out      *OVA
}

// ReadOVA reads an OVA (a tar archive holding an OVF descriptor, an optional
// manifest and certificate, and the files the descriptor references) from r,
// which is untrusted. It reads the descriptor's virtual machine and hardware,
// copies its one disk into a temporary file in dir (a directory the caller
// owns, on the filesystem the disk is headed for) and checks every file
// against the manifest. It never writes under a name from the archive.
//
// An archive Sirocco will not import is a *[Rejected]: invalid_ova for paths
// in entry names, a missing or misplaced descriptor, a vApp of several VMs,
// more or fewer than one disk, compressed or chunked files, or files the
// descriptor does not reference; checksum_mismatch for a file whose digest
// differs from the manifest; backing_file for a differencing disk;
// too_large past the limits. The disk itself is not inspected here: that is
// Catalog.Put's job, with every rule that applies to an upload.
func ReadOVA(ctx context.Context, r io.Reader, dir string, limits OVALimits) (*OVA, error) {
	limits.MaxDescriptorBytes = cmp.Or(limits.MaxDescriptorBytes, DefaultOVADescriptorBytes)
	limits.MaxEntries = cmp.Or(limits.MaxEntries, DefaultOVAEntries)
	o := &ovaReader{limits: limits, dir: dir, sums: map[string]map[string]string{}, out: &OVA{}}
	if err := o.read(ctx, r); err != nil {
		o.out.Close()
		return nil, fmt.Errorf("read ova: %w", err)
	}
	return o.out, nil
}

func (o *ovaReader) read(ctx context.Context, r io.Reader) error {
	tr := tar.NewReader(ctxReader{ctx, r})
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return reject(CodeInvalidOVA, "not a tar archive: %v", err)
		}
		if n >= o.limits.MaxEntries {
			return reject(CodeInvalidOVA, "the archive holds more than %d files", o.limits.MaxEntries)
		}
		name, err := ovaName(hdr.Name)
		if err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg {
			return reject(CodeInvalidOVA, "%s is not a regular file (tar type %q): an OVA holds only files", name, hdr.Typeflag)
		}
		if _, dup := o.sums[name]; dup {
			return reject(CodeInvalidOVA, "%s appears twice in the archive", name)
		}
		ext := strings.ToLower(filepath.Ext(name))
		if n == 0 && ext != ".ovf" {
			return reject(CodeInvalidOVA, "the first file is %s: an OVA starts with its .ovf descriptor", name)
		}
		if err := o.entry(ctx, name, ext, hdr.Size, tr); err != nil {
			return err
		}
	}
	if o.env == nil {
		return reject(CodeInvalidOVA, "the archive is empty")
	}
	if o.out.DiskPath == "" {
		return reject(CodeInvalidOVA, "the archive lacks the disk %s its descriptor references", o.diskHref)
	}
	return o.verify()
}

// entry reads one file of the archive.
func (o *ovaReader) entry(ctx context.Context, name, ext string, size int64, r io.Reader) error {
	switch {
	case ext == ".ovf" && o.env != nil:
		return reject(CodeInvalidOVA, "a second descriptor %s: an OVA describes one virtual machine", name)
	case ext == ".ovf":
		b, err := o.small(name, size, r)
		if err != nil {
			return err
		}
		return o.descriptor(b)
	case ext == ".mf" && o.manifest != nil:
		return reject(CodeInvalidOVA, "a second manifest %s", name)
	case ext == ".mf":
		b, err := o.small(name, size, r)
		if err != nil {
			return err
		}
		return o.parseManifest(name, b)
	case ext == ".cert":
		// The signature is not checked (no trust store to check it
		// against); the manifest it signs is, when there is one.
		_, err := o.small(name, size, r)
		return err
	case name == o.diskHref:
		return o.disk(ctx, name, size, r)
	case ext == ".vmdk":
		return reject(CodeInvalidOVA, "a second disk %s besides %s: Sirocco imports a virtual machine with one disk", name, o.diskHref)
	case o.refs[name]:
		// Another referenced file (an NVRAM, an ISO): checked against the
		// manifest, not kept.
		if max := o.limits.MaxFileBytes; max > 0 && size > max {
			return reject(CodeTooLarge, "%s is %d bytes, the limit is %d", name, size, max)
		}
		sums := newOVAHashes()
		if _, err := io.Copy(sums, r); err != nil {
			return o.readErr(ctx, name, err)
		}
		o.sums[name] = sums.hex()
		return nil
	}
	return reject(CodeInvalidOVA, "%s is not referenced by the descriptor", name)
}

// small reads a descriptor, manifest or certificate into memory.
func (o *ovaReader) small(name string, size int64, r io.Reader) ([]byte, error) {
	if size > o.limits.MaxDescriptorBytes {
		return nil, reject(CodeInvalidOVA, "%s is %d bytes, more than the %d a descriptor may have", name, size, o.limits.MaxDescriptorBytes)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, reject(CodeInvalidOVA, "read %s: %v", name, err)
	}
	sums := newOVAHashes()
	sums.Write(b)
	o.sums[name] = sums.hex()
	return b, nil
}

// disk copies the disk into a temporary file of the caller's directory.
func (o *ovaReader) disk(ctx context.Context, name string, size int64, r io.Reader) error {
	if max := o.limits.MaxFileBytes; max > 0 && size > max {
		return reject(CodeTooLarge, "the disk %s is %d bytes, the limit is %d", name, size, max)
	}
	if size == 0 {
		return reject(CodeNotAnImage, "the disk %s is empty", name)
	}
	f, err := os.CreateTemp(o.dir, ".ova-disk-*")
	if err != nil {
		return fmt.Errorf("ova disk: %w", err)
	}
	o.out.DiskPath = f.Name() // removed by Close, also on error
	sums := newOVAHashes()
	n, err := io.CopyBuffer(io.MultiWriter(f, sums), r, make([]byte, 1<<20))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return o.readErr(ctx, name, err)
	}
	o.sums[name] = sums.hex()
	o.out.DiskFile, o.out.DiskSize, o.out.DiskSHA256 = name, n, o.sums[name]["SHA256"]
	return nil
}

// readErr tells a cut-off archive (the user's fault) from a failure here.
func (o *ovaReader) readErr(ctx context.Context, name string, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, io.ErrUnexpectedEOF):
		return reject(CodeInvalidOVA, "the archive ends inside %s", name)
	}
	return fmt.Errorf("ova %s: %w", name, err)
}

// descriptor parses the .ovf and picks the disk out of it.
func (o *ovaReader) descriptor(b []byte) error {
	var env ovfEnvelope
	if err := xml.Unmarshal(b, &env); err != nil {
		return reject(CodeInvalidOVA, "the descriptor is not valid XML: %v", err)
	}
	switch {
	case env.Collection != nil:
		return reject(CodeInvalidOVA, "the descriptor is a vApp of several virtual machines: export each one as its own OVA")
	case env.System == nil:
		return reject(CodeInvalidOVA, "the descriptor has no VirtualSystem")
	}
	o.env = &env
	o.refs = map[string]bool{}
	byID := map[string]ovfFile{}
	for _, f := range env.Files {
		if _, err := ovaName(f.Href); err != nil || strings.Contains(f.Href, ":") {
			return reject(CodeInvalidOVA, "the descriptor references %q: an OVA references files inside it by plain name", f.Href)
		}
		if c := f.Compression; c != "" && c != "identity" {
			return reject(CodeInvalidOVA, "%s is %s-compressed: export the OVA without compression", f.Href, c)
		}
		if f.ChunkSize != "" {
			return reject(CodeInvalidOVA, "%s is split in chunks: export the OVA without chunking", f.Href)
		}
		o.refs[f.Href], byID[f.ID] = true, f
	}
	switch len(env.Disks) {
	case 0:
		return reject(CodeInvalidOVA, "the descriptor has no disk")
	case 1:
	default:
		var names []string
		for _, d := range env.Disks {
			names = append(names, cmp.Or(byID[d.FileRef].Href, d.ID))
		}
		return reject(CodeInvalidOVA, "the virtual machine has %d disks (%s): Sirocco imports a virtual machine with one disk",
			len(env.Disks), strings.Join(names, ", "))
	}
	d := env.Disks[0]
	if d.ParentRef != "" {
		return reject(CodeBackingFile, "disk %s is a differencing disk of %s", d.ID, d.ParentRef)
	}
	f, ok := byID[d.FileRef]
	if !ok {
		return reject(CodeInvalidOVA, "disk %s has no file (fileRef %q is not in References)", d.ID, d.FileRef)
	}
	o.diskHref = f.Href
	for href := range o.refs {
		if href != f.Href && strings.EqualFold(filepath.Ext(href), ".vmdk") {
			return reject(CodeInvalidOVA, "the descriptor references a second disk %s besides %s: Sirocco imports a virtual machine with one disk", href, f.Href)
		}
	}
	if unit, err := unitBytes(d.Units, 1); err == nil {
		if q, err := strconv.ParseInt(strings.TrimSpace(d.Capacity), 10, 64); err == nil && q > 0 && q <= math.MaxInt64/unit {
			o.out.DiskCapacity = q * unit
		}
	}
	// A capacity such as "${disk.size}" is a property set at deployment:
	// it stays 0, and the disk itself tells its size.

	sys := env.System
	o.out.Name = strings.TrimSpace(cmp.Or(sys.Name, sys.ID))
	for _, s := range sys.OS {
		o.out.OS = cmp.Or(o.out.OS, strings.TrimSpace(s.Description), strings.TrimSpace(s.OSType))
	}
	if len(sys.Hardware) > 0 {
		return o.hardware(sys.Hardware[0].Items)
	}
	return nil
}

// hardware reads the CPU count and memory size. Items bound to one
// deployment configuration count only when no item applies to all.
func (o *ovaReader) hardware(items []ovfItem) error {
	pick := func(rt string) *ovfItem {
		var found *ovfItem
		for i := range items {
			it := &items[i]
			if strings.TrimSpace(it.ResourceType) != rt {
				continue
			}
			if it.Configuration == "" {
				return it
			}
			if found == nil {
				found = it
			}
		}
		return found
	}
	if it := pick(ovfResourceCPU); it != nil {
		n, err := strconv.Atoi(strings.TrimSpace(it.VirtualQuantity))
		if err != nil || n < 1 || n > 4096 {
			return reject(CodeInvalidOVA, "the descriptor's CPU count %q is not a number of CPUs", it.VirtualQuantity)
		}
		o.out.CPUs = n
	}
	if it := pick(ovfResourceMemory); it != nil {
		// Memory without units is read as MiB, what every exporter writes.
		unit, err := unitBytes(it.AllocationUnits, 1<<20)
		if err != nil {
			return reject(CodeInvalidOVA, "the descriptor's memory units %q: %v", it.AllocationUnits, err)
		}
		q, err := strconv.ParseInt(strings.TrimSpace(it.VirtualQuantity), 10, 64)
		if err != nil || q < 1 || q > math.MaxInt64/unit {
			return reject(CodeInvalidOVA, "the descriptor's memory size %q is not a number", it.VirtualQuantity)
		}
		o.out.MemoryMiB = (q*unit + (1<<20 - 1)) >> 20
	}
	return nil
}

// unitBytes is the size in bytes of one unit written as a DMTF programmatic
// unit ("byte * 2^20", "byte*10^9", "byte * 1024") or as a common name
// ("MegaBytes", "MB"); an empty unit is def.
func unitBytes(unit string, def int64) (int64, error) {
	s := strings.ToLower(strings.Join(strings.Fields(unit), ""))
	switch s {
	case "":
		return def, nil
	case "byte", "bytes", "b":
		return 1, nil
	case "kilobytes", "kb", "kib":
		return 1 << 10, nil
	case "megabytes", "mb", "mib":
		return 1 << 20, nil
	case "gigabytes", "gb", "gib":
		return 1 << 30, nil
	case "terabytes", "tb", "tib":
		return 1 << 40, nil
	}
	rest, ok := strings.CutPrefix(s, "byte*")
	if !ok {
		return 0, fmt.Errorf("unknown unit")
	}
	base, exp, pow := strings.Cut(rest, "^")
	b, err := strconv.ParseInt(base, 10, 64)
	if err != nil || b < 1 {
		return 0, fmt.Errorf("unknown unit")
	}
	if !pow {
		return b, nil
	}
	e, err := strconv.Atoi(exp)
	if err != nil || e < 0 {
		return 0, fmt.Errorf("unknown unit")
	}
	n := int64(1)
	for range e {
		if n > math.MaxInt64/b {
			return 0, fmt.Errorf("unit too large")
		}
		n *= b
	}
	return n, nil
}

// manifestLine is one line of an OVF manifest: SHA256(disk1.vmdk)= 0123...
var manifestLine = regexp.MustCompile(`^(SHA1|SHA256|SHA512) ?\(([^()]+)\) ?= ?([0-9a-fA-F]+)$`)

func (o *ovaReader) parseManifest(name string, b []byte) error {
	o.manifest = map[string]map[string]string{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		m := manifestLine.FindStringSubmatch(line)
		if m == nil {
			return reject(CodeInvalidOVA, "%s line %d is not ALGORITHM(file)= digest", name, i+1)
		}
		if o.manifest[m[2]] == nil {
			o.manifest[m[2]] = map[string]string{}
		}
		o.manifest[m[2]][m[1]] = strings.ToLower(m[3])
	}
	if len(o.manifest) == 0 {
		return reject(CodeInvalidOVA, "the manifest %s lists no files", name)
	}
	o.out.Manifest = true
	return nil
}

// verify checks every file against the manifest, once all have been read
// (the manifest may come last).
func (o *ovaReader) verify() error {
	if o.manifest == nil {
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(o.manifest)) {
		got, ok := o.sums[name]
		if !ok {
			return reject(CodeInvalidOVA, "the manifest lists %s, which the archive lacks", name)
		}
		for algo, want := range o.manifest[name] {
			if got[algo] != want {
				return reject(CodeChecksumMismatch, "%s has %s %s, the manifest says %s", name, algo, got[algo], want)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(o.sums)) {
		switch strings.ToLower(filepath.Ext(name)) {
		case ".mf", ".cert":
			continue
		}
		if _, ok := o.manifest[name]; !ok {
			return reject(CodeInvalidOVA, "%s is not in the manifest", name)
		}
	}
	return nil
}

// ovaName checks the name of an archive entry or a descriptor's reference:
// a plain file name. A leading "./", which some tar tools write, is dropped.
func ovaName(name string) (string, error) {
	n := strings.TrimPrefix(name, "./")
	if n == "" || n == "." || n == ".." || strings.ContainsAny(n, "/\\\x00") {
		return "", reject(CodeInvalidOVA, "%q is a path: an OVA holds files by plain name", name)
	}
	return n, nil
}

// ovaHashes computes every digest a manifest may name at once: the
// manifest may come after the files it lists.
type ovaHashes map[string]hash.Hash

func newOVAHashes() ovaHashes {
	return ovaHashes{"SHA1": sha1.New(), "SHA256": sha256.New(), "SHA512": sha512.New()}
}

func (h ovaHashes) Write(p []byte) (int, error) {
	for _, d := range h {
		d.Write(p)
	}
	return len(p), nil
}

func (h ovaHashes) hex() map[string]string {
	out := map[string]string{}
	for _, algo := range ovaDigests {
		out[algo] = hex.EncodeToString(h[algo].Sum(nil))
	}
	return out
}

// Size is a VM size as [MatchSize] sees it.
type Size struct {
	Name      string
	VCPU      int
	MemoryMiB int64
}

// MatchSize returns the name of the smallest size with at least cpu vCPUs
// and memMiB of memory, or "" when none is that large. Smallest means least
// memory, then fewest vCPUs, then first by name.
func MatchSize(cpu int, memMiB int64, sizes []Size) string {
	var best *Size
	for i := range sizes {
		s := &sizes[i]
		if s.VCPU < cpu || s.MemoryMiB < memMiB {
			continue
		}
		if best == nil || cmp.Or(cmp.Compare(s.MemoryMiB, best.MemoryMiB), cmp.Compare(s.VCPU, best.VCPU), strings.Compare(s.Name, best.Name)) < 0 {
			best = s
		}
	}
	if best == nil {
		return ""
	}
	return best.Name
}
