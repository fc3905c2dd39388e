// Package image inspects, validates and converts untrusted disk images before
// Sirocco stores or boots them. It is used by the image importer and by the
// host agent when it caches images; nothing else should run qemu-img on a
// user-supplied file.
//
// A user-supplied image is hostile until proven otherwise. qemu-img follows
// references written in an image header by itself: a qcow2 backing file or
// external data file, or a VMDK extent, names a host path that qemu-img opens
// (and on create or convert may even write). The rules here are:
//
//   - The path handed to [QemuImg.Inspect] and [QemuImg.Convert] is always one
//     the caller created: the importer first streams the upload or download
//     into a directory it owns, under a name it generates. A user never
//     chooses a path that reaches qemu-img, and the path must be absolute so
//     that qemu-img cannot read it as a protocol ("nbd:", "json:").
//   - The format is probed here, in Go, from the file's own bytes before
//     qemu-img runs; a user-declared format is never trusted and never passed
//     to qemu-img (see [CheckDeclared]). qemu-img is always given the probed
//     format with -f, so it never picks a driver by itself.
//   - The header probe rejects backing files, external data files, encryption
//     and multi-file VMDKs before qemu-img opens the file at all, so a hostile
//     image touches nothing else on the host. The qemu-img report is then
//     checked again ([Validate]) as a second line of defence.
//   - qemu-img runs with a timeout and, through prlimit(1), with caps on
//     address space, CPU time, core dumps and (for convert) output file size,
//     so a crafted file cannot hang it or make it eat the host's memory.
//
// Allowed source formats are qcow2, raw and single-file VMDK
// (monolithicSparse or streamOptimized, as found in OVAs). Everything is
// converted to qcow2 (compat 1.1), the store's format.
package image

import (
	"errors"
	"fmt"
	"strings"
)

// Formats of disk images.
const (
	FormatQcow2 = "qcow2"
	FormatRaw   = "raw"
	FormatVMDK  = "vmdk"
)

// Reason codes of a [Rejected] error. They are stable: the API returns them
// to clients and tests match on them.
const (
	CodeUnsupportedFormat = "unsupported_format"
	CodeBackingFile       = "backing_file"
	CodeExternalDataFile  = "external_data_file"
	CodeEncrypted         = "encrypted"
	CodeCorrupt           = "corrupt"
	CodeTooLarge          = "too_large"
	CodeNotAnImage        = "not_an_image"
	CodeFormatMismatch    = "format_mismatch"
	CodeChecksumMismatch  = "checksum_mismatch"
)

// Rejected is the error for an image (or kernel, or initrd) that Sirocco will
// not accept. Code is one of the Code constants; Detail says what was found.
type Rejected struct {
	Code   string
	Detail string
	Err    error // underlying cause, if any (for example a qemu-img failure)
}

// message is the human explanation of a reason code and, if there is one,
// what the user can do about it.
func message(code string) (what, hint string) {
	switch code {
	case CodeUnsupportedFormat:
		return "the image format is not supported", "use qcow2, raw or a single-file VMDK"
	case CodeInvalidOVA:
		return "the OVA cannot be imported", "export one VM with one disk as an OVA (the .ovf first in the tar)"
	case CodeBackingFile:
		return "the image refers to a backing file", "upload a self-contained image (qemu-img convert -O qcow2 flattens it)"
	case CodeExternalDataFile:
		return "the image keeps its data in other files", "upload a single self-contained file"
	case CodeEncrypted:
		return "the image is encrypted", "upload an unencrypted image"
	case CodeCorrupt:
		return "the image is corrupt", ""
	case CodeTooLarge:
		return "the image is larger than allowed", ""
	case CodeNotAnImage:
		return "the file is not a usable image", ""
	case CodeFormatMismatch:
		return "the file's content does not match the declared format", "declare the format the file really has, or none"
	case CodeChecksumMismatch:
		return "the file's SHA-256 checksum does not match", ""
	}
	return "the image was rejected", ""
}

func (e *Rejected) Error() string {
	what, hint := message(e.Code)
	msg := "image rejected (" + e.Code + "): " + what
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if hint != "" {
		msg += "; " + hint
	}
	return msg
}

func (e *Rejected) Unwrap() error { return e.Err }

func reject(code, format string, args ...any) *Rejected {
	return &Rejected{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// RejectionCode returns the reason code of a [Rejected] in err's chain, or ""
// when err is not a rejection.
func RejectionCode(err error) string {
	if r, ok := errors.AsType[*Rejected](err); ok {
		return r.Code
	}
	return ""
}

// Limits bound what an image may be. Zero means no limit.
type Limits struct {
	MaxVirtualBytes int64 // size of the disk the guest sees
	MaxFileBytes    int64 // size of the file as uploaded
}

// Extent is one file of a VMDK image as qemu-img reports it.
type Extent struct {
	Filename    string
	Format      string
	VirtualSize int64
}

// Info is what [QemuImg.Inspect] learnt about an image: the format found by
// the header probe and confirmed by qemu-img, and qemu-img's report.
type Info struct {
	Path        string
	Format      string // qcow2, raw or vmdk
	VirtualSize int64  // bytes the guest sees
	FileSize    int64  // apparent size of the file
	ActualSize  int64  // bytes allocated on the host's disk

	BackingFile string // backing-filename or full-backing-filename
	DataFile    string // qcow2 external data file
	DataFileRaw bool
	Encrypted   bool
	Corrupt     bool   // qcow2 corrupt bit
	Compat      string // qcow2 compat level ("0.10", "1.1")

	// From qemu-img check (qcow2 only): metadata corruptions and errors
	// while checking. Leaked clusters are harmless and ignored.
	Corruptions int
	CheckErrors int

	CreateType string   // vmdk createType
	ParentCID  uint32   // vmdk parentCID; 0xffffffff means none
	Extents    []Extent // vmdk extents
}

const vmdkNoParent = 0xffffffff

// Validate checks a report from [QemuImg.Inspect] against the rules and
// limits. It returns a *[Rejected] naming the first rule broken.
func Validate(info *Info, limits Limits) error {
	if err := validateStructure(info); err != nil {
		return err
	}
	if limits.MaxFileBytes > 0 && info.FileSize > limits.MaxFileBytes {
		return reject(CodeTooLarge, "file is %d bytes, the limit is %d", info.FileSize, limits.MaxFileBytes)
	}
	if limits.MaxVirtualBytes > 0 && info.VirtualSize > limits.MaxVirtualBytes {
		return reject(CodeTooLarge, "virtual size is %d bytes, the limit is %d", info.VirtualSize, limits.MaxVirtualBytes)
	}
	return nil
}

// validateStructure applies the rules that do not depend on limits: the
// ones that keep qemu-img from following a reference to a host file.
func validateStructure(info *Info) error {
	if info == nil {
		return errors.New("validate image: no image info")
	}
	switch info.Format {
	case FormatQcow2, FormatRaw, FormatVMDK:
	default:
		return reject(CodeUnsupportedFormat, "format %q", info.Format)
	}
	if info.BackingFile != "" {
		return reject(CodeBackingFile, "backing file %q", info.BackingFile)
	}
	if info.DataFile != "" {
		return reject(CodeExternalDataFile, "data file %q", info.DataFile)
	}
	if info.Encrypted {
		return reject(CodeEncrypted, "")
	}
	if info.Corrupt || info.Corruptions > 0 || info.CheckErrors > 0 {
		return reject(CodeCorrupt, "corrupt flag %t, %d corruptions, %d check errors", info.Corrupt, info.Corruptions, info.CheckErrors)
	}
	if info.Format == FormatVMDK {
		if info.ParentCID != vmdkNoParent {
			return reject(CodeBackingFile, "vmdk has a parent (parentCID %08x)", info.ParentCID)
		}
		switch info.CreateType {
		case "monolithicSparse", "streamOptimized":
		default:
			return reject(CodeExternalDataFile, "vmdk createType %q is not a single-file type", info.CreateType)
		}
		if len(info.Extents) != 1 {
			return reject(CodeExternalDataFile, "vmdk has %d extents, want 1", len(info.Extents))
		}
		if info.Extents[0].Filename != info.Path {
			return reject(CodeExternalDataFile, "vmdk extent %q is another file", info.Extents[0].Filename)
		}
	}
	if info.VirtualSize <= 0 {
		return reject(CodeNotAnImage, "virtual size is %d", info.VirtualSize)
	}
	if info.Format == FormatRaw && info.FileSize%512 != 0 {
		return reject(CodeNotAnImage, "raw image of %d bytes is not a whole number of 512-byte sectors", info.FileSize)
	}
	return nil
}

// CheckDeclared compares the format a user declared with the probed one.
// An empty declaration, or "auto", accepts whatever was probed. The declared
// format is never given to qemu-img: a file declared raw that carries a qcow2
// (or other image) header is rejected with format_mismatch rather than read
// as raw, because that is the classic format-confusion attack (a guest writes
// an image header into its raw disk) and because reading it as qcow2 would
// not be the disk the user meant either.
func CheckDeclared(declared string, info *Info) error {
	d := strings.ToLower(strings.TrimSpace(declared))
	if d == "" || d == "auto" || d == info.Format {
		return nil
	}
	return reject(CodeFormatMismatch, "declared %q but the file is %s", declared, info.Format)
}
