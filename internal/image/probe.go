package image

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// probe reads the first bytes of an image and returns its format. It knows
// the magic numbers of every format qemu-img 7 probes, so that a file it
// calls raw would be raw to qemu-img too. For qcow2 and VMDK it also parses
// the header and rejects, before qemu-img ever opens the file, anything that
// makes qemu-img open another file: backing files, external data files,
// descriptor-based or multi-extent VMDKs. It never follows a reference.
func probe(f *os.File) (string, error) {
	head := make([]byte, 4096)
	n, err := f.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read header: %w", err)
	}
	head = head[:n]
	if n == 0 {
		return "", reject(CodeNotAnImage, "the file is empty")
	}
	has := func(off int, magic string) bool {
		return len(head) >= off+len(magic) && string(head[off:off+len(magic)]) == magic
	}
	switch {
	case has(0, "QFI\xfb"):
		return FormatQcow2, probeQcow2(f, head)
	case has(0, "KDMV"):
		return FormatVMDK, probeVMDK(f, head)
	case has(0, "COWD"):
		return "", reject(CodeUnsupportedFormat, "VMDK version 3 (COWD)")
	case vmdkDescriptor(head):
		return "", reject(CodeExternalDataFile, "a VMDK descriptor file; its extents are other files")
	}
	others := []struct {
		off   int
		magic string
		name  string
	}{
		{0, "QED\x00", "qed"},
		{0, "vhdxfile", "vhdx"},
		{0, "conectix", "vpc (VHD)"},
		{0x40, "\x7f\x10\xda\xbe", "vdi"},
		{0, "WithoutFreeSpace", "parallels"},
		{0, "WithouFreSpacExt", "parallels"},
		{0, "#!/bin/sh\n#V2.0 Format\n", "cloop"},
		{0, "Bochs Virtual HD Image", "bochs"},
		{0, "LUKS\xba\xbe", "luks"},
	}
	for _, o := range others {
		if has(o.off, o.magic) {
			return "", reject(CodeUnsupportedFormat, "%s image", o.name)
		}
	}
	return FormatRaw, nil
}

// vmdkDescriptor reports whether qemu's VMDK driver would take head for a
// text descriptor: after comment and blank lines, a "version=1|2|3" line.
func vmdkDescriptor(head []byte) bool {
	p := head
	for len(p) > 0 {
		switch p[0] {
		case '#':
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				return false
			}
			p = p[i+1:]
			continue
		case ' ', '\r', '\n':
			p = bytes.TrimLeft(p, " \r")
			if len(p) == 0 || p[0] != '\n' {
				return false
			}
			p = p[1:]
			continue
		}
		for _, v := range []string{"version=1", "version=2", "version=3"} {
			if bytes.HasPrefix(p, []byte(v+"\n")) || bytes.HasPrefix(p, []byte(v+"\r\n")) {
				return true
			}
		}
		return false
	}
	return false
}

// qcow2 header fields and extensions (docs/interop/qcow2.txt).
const (
	qcow2IncompatCorrupt  = 1 << 1
	qcow2IncompatDataFile = 1 << 2
	qcow2AutoclearRawData = 1 << 1

	qcow2ExtEnd          = 0x00000000
	qcow2ExtBackingFmt   = 0xe2792aca
	qcow2ExtFullDiskEnc  = 0x0537be77
	qcow2ExtDataFileName = 0x44415441
)

func probeQcow2(f *os.File, head []byte) error {
	be := binary.BigEndian
	if len(head) < 72 {
		return reject(CodeNotAnImage, "qcow2 header is truncated")
	}
	version := be.Uint32(head[4:])
	if version != 2 && version != 3 {
		return reject(CodeUnsupportedFormat, "qcow version %d", version)
	}
	backingOff, backingLen := be.Uint64(head[8:]), be.Uint32(head[16:])
	if backingOff != 0 || backingLen != 0 {
		name := ""
		if backingLen > 0 && backingLen <= 1023 {
			buf := make([]byte, backingLen)
			if _, err := f.ReadAt(buf, int64(backingOff)); err == nil {
				name = string(buf)
			}
		}
		return reject(CodeBackingFile, "qcow2 header names backing file %q", name)
	}
	clusterBits := be.Uint32(head[20:])
	if clusterBits < 9 || clusterBits > 21 {
		return reject(CodeNotAnImage, "qcow2 cluster_bits %d is out of range", clusterBits)
	}
	if be.Uint32(head[32:]) != 0 {
		return reject(CodeEncrypted, "qcow2 crypt_method %d", be.Uint32(head[32:]))
	}
	extStart := uint64(72)
	if version == 3 {
		if len(head) < 104 {
			return reject(CodeNotAnImage, "qcow2 v3 header is truncated")
		}
		incompat, autoclear := be.Uint64(head[72:]), be.Uint64(head[88:])
		if incompat&qcow2IncompatDataFile != 0 || autoclear&qcow2AutoclearRawData != 0 {
			return reject(CodeExternalDataFile, "qcow2 header sets the external data file bit")
		}
		if incompat&qcow2IncompatCorrupt != 0 {
			return reject(CodeCorrupt, "qcow2 header sets the corrupt bit")
		}
		extStart = uint64(be.Uint32(head[100:]))
	}
	// Header extensions live in the first cluster.
	cluster := make([]byte, min(uint64(1)<<clusterBits, 1<<21))
	n, err := f.ReadAt(cluster, 0)
	if err != nil && err != io.EOF {
		return fmt.Errorf("read qcow2 header cluster: %w", err)
	}
	cluster = cluster[:n]
	for off := extStart; off+8 <= uint64(len(cluster)); {
		typ, length := be.Uint32(cluster[off:]), uint64(be.Uint32(cluster[off+4:]))
		data := off + 8
		switch typ {
		case qcow2ExtEnd:
			return nil
		case qcow2ExtDataFileName:
			end := min(data+length, uint64(len(cluster)))
			return reject(CodeExternalDataFile, "qcow2 header names data file %q", cluster[data:end])
		case qcow2ExtFullDiskEnc:
			return reject(CodeEncrypted, "qcow2 header has a full-disk encryption extension")
		case qcow2ExtBackingFmt:
			return reject(CodeBackingFile, "qcow2 header has a backing format extension")
		}
		off = data + (length+7)&^7
	}
	return nil
}

// VMDK sparse extent header (VMware "Virtual Disk Format 1.1"), little endian.
func probeVMDK(f *os.File, head []byte) error {
	le := binary.LittleEndian
	if len(head) < 80 {
		return reject(CodeNotAnImage, "vmdk header is truncated")
	}
	capacity := le.Uint64(head[12:])
	descOff, descLen := le.Uint64(head[28:]), le.Uint64(head[36:])
	if capacity == 0 && descOff != 0 {
		// qemu then reads the embedded descriptor as a descriptor file and
		// opens whatever extents it lists.
		return reject(CodeExternalDataFile, "vmdk sparse header of capacity 0 defers to its descriptor's extents")
	}
	if descOff == 0 || descLen == 0 {
		return nil
	}
	if descLen > 128 { // sectors; qemu's own limit is 16 MiB, real ones are 1-20
		return reject(CodeNotAnImage, "vmdk embedded descriptor of %d sectors is too large", descLen)
	}
	desc := make([]byte, descLen*512)
	n, err := f.ReadAt(desc, int64(descOff*512))
	if err != nil && err != io.EOF {
		return fmt.Errorf("read vmdk descriptor: %w", err)
	}
	desc = desc[:n]
	if i := bytes.IndexByte(desc, 0); i >= 0 {
		desc = desc[:i]
	}
	return checkVMDKDescriptor(string(desc))
}

var (
	vmdkKV     = regexp.MustCompile(`(?m)^\s*([A-Za-z.]+)\s*=\s*"?([^"\r\n]*)"?\s*$`)
	vmdkExtent = regexp.MustCompile(`(?m)^\s*(RW|RDONLY|NOACCESS)\s+\d+\s+(\S+)\s+"([^"]*)"`)
)

// checkVMDKDescriptor rejects an embedded descriptor that names a parent or
// any extent other than the file itself.
func checkVMDKDescriptor(desc string) error {
	for _, m := range vmdkKV.FindAllStringSubmatch(desc, -1) {
		key, val := strings.ToLower(m[1]), strings.TrimSpace(m[2])
		switch key {
		case "parentfilenamehint":
			if val != "" {
				return reject(CodeBackingFile, "vmdk names parent %q", val)
			}
		case "parentcid":
			if cid, err := strconv.ParseUint(val, 16, 32); err != nil || cid != vmdkNoParent {
				return reject(CodeBackingFile, "vmdk parentCID %q", val)
			}
		case "createtype":
			switch val {
			case "monolithicSparse", "streamOptimized":
			default:
				return reject(CodeExternalDataFile, "vmdk createType %q is not a single-file type", val)
			}
		}
	}
	if ext := vmdkExtent.FindAllStringSubmatch(desc, -1); len(ext) > 1 {
		return reject(CodeExternalDataFile, "vmdk descriptor lists %d extents", len(ext))
	}
	return nil
}
