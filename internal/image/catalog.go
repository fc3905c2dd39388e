package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Catalog keeps the files of the image catalog under Dir, one directory per
// image (Dir/<image id>/<file>, file being disk, kernel or initrd), each
// validated and converted on the way in.
type Catalog struct {
	Dir    string
	Img    *QemuImg
	Limits Limits
}

// StoredFile describes a file the catalog accepted.
type StoredFile struct {
	Name        string
	Size        int64
	SHA256      string
	VirtualSize int64 // disks only
}

// Catalog file names.
const (
	FileDisk   = "disk"
	FileKernel = "kernel"
	FileInitrd = "initrd"
)

// Path is where an image's file is kept. imageID and file must be valid
// (an ID the store generated, one of the three file names).
func (c *Catalog) Path(imageID, file string) string {
	return filepath.Join(c.Dir, imageID, file)
}

// checkNames refuses anything but a plain image ID and one of the three file
// names, so that no caller can make the catalog read or write outside Dir.
func checkNames(imageID, file string) error {
	if imageID == "" || imageID == "." || imageID == ".." || strings.ContainsAny(imageID, `/\`) || strings.HasPrefix(imageID, ".") {
		return fmt.Errorf("catalog: invalid image ID %q", imageID)
	}
	switch file {
	case FileDisk, FileKernel, FileInitrd:
		return nil
	}
	return fmt.Errorf("catalog: invalid file name %q (want disk, kernel or initrd)", file)
}

// Put streams r into the catalog as file of image imageID: into a temporary
// file the catalog owns, checked against wantSHA256 when it is set, then
// inspected and (for disks) converted to qcow2. Nothing is left behind on
// error; a rejected file is a *Rejected.
//
// wantSHA256 is checked against the bytes received, which is what the user
// can compute; the returned SHA256 and Size are those of the stored file
// (for a disk, the converted qcow2), which is what hosts verify.
func (c *Catalog) Put(ctx context.Context, imageID, file string, r io.Reader, wantSHA256 string) (sf StoredFile, err error) {
	if err := checkNames(imageID, file); err != nil {
		return StoredFile{}, err
	}
	want := strings.ToLower(strings.TrimSpace(wantSHA256))
	if want != "" {
		if b, err := hex.DecodeString(want); err != nil || len(b) != sha256.Size {
			return StoredFile{}, fmt.Errorf("catalog put %s/%s: %q is not a SHA-256 in hex", imageID, file, wantSHA256)
		}
	}
	// qemu-img must get an absolute path (see the package documentation).
	root, err := filepath.Abs(c.Dir)
	if err != nil {
		return StoredFile{}, fmt.Errorf("catalog put: %w", err)
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return StoredFile{}, fmt.Errorf("catalog put: %w", err)
	}
	dir := filepath.Join(root, imageID)
	_, statErr := os.Stat(dir)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return StoredFile{}, fmt.Errorf("catalog put: %w", err)
	}
	if errors.Is(statErr, os.ErrNotExist) {
		defer func() {
			if err != nil {
				os.Remove(dir) // only if still empty: another file may have arrived
			}
		}()
	}

	// The name is ours (CreateTemp, mode 0600), outside any image's
	// directory so that a half-written upload is never served.
	tmp, err := os.CreateTemp(root, ".upload-"+file+"-*")
	if err != nil {
		return StoredFile{}, fmt.Errorf("catalog put: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed into place
	received, sum, err := c.receive(ctx, tmp, r)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return StoredFile{}, fmt.Errorf("catalog put %s/%s: %w", imageID, file, err)
	}
	if want != "" && sum != want {
		return StoredFile{}, fmt.Errorf("catalog put %s/%s: %w", imageID, file,
			reject(CodeChecksumMismatch, "received %d bytes with sha256 %s, want %s", received, sum, want))
	}

	dst := filepath.Join(dir, file)
	sf = StoredFile{Name: file}
	switch file {
	case FileDisk:
		img := c.Img
		if img == nil {
			img = &QemuImg{}
		}
		info, err := img.Import(ctx, tmp.Name(), "", c.Limits, dst)
		if err != nil {
			return StoredFile{}, fmt.Errorf("catalog put %s/%s: %w", imageID, file, err)
		}
		// Convert rounds the virtual size up to whole sectors.
		sf.VirtualSize = (info.VirtualSize + 511) &^ 511
		sum, err = Checksum(ctx, dst)
		if err != nil {
			os.Remove(dst)
			return StoredFile{}, fmt.Errorf("catalog put %s/%s: %w", imageID, file, err)
		}
	case FileKernel, FileInitrd:
		if file == FileKernel {
			_, err = InspectKernel(tmp.Name(), c.Limits)
		} else {
			_, err = InspectInitrd(tmp.Name(), c.Limits)
		}
		if err != nil {
			return StoredFile{}, fmt.Errorf("catalog put %s/%s: %w", imageID, file, err)
		}
		if err := os.Rename(tmp.Name(), dst); err != nil {
			return StoredFile{}, fmt.Errorf("catalog put %s/%s: %w", imageID, file, err)
		}
		if err := syncFile(dir); err != nil {
			os.Remove(dst)
			return StoredFile{}, fmt.Errorf("catalog put %s/%s: %w", imageID, file, err)
		}
	}
	st, err := os.Stat(dst)
	if err != nil {
		os.Remove(dst)
		return StoredFile{}, fmt.Errorf("catalog put %s/%s: %w", imageID, file, err)
	}
	sf.Size, sf.SHA256 = st.Size(), sum
	return sf, nil
}

// receive copies r into f, hashing as it goes and stopping as soon as the
// file limit is passed, so an endless stream cannot fill the disk.
func (c *Catalog) receive(ctx context.Context, f *os.File, r io.Reader) (int64, string, error) {
	h := sha256.New()
	src := io.Reader(ctxReader{ctx, r})
	max := c.Limits.MaxFileBytes
	if max > 0 {
		src = io.LimitReader(src, max+1)
	}
	n, err := io.CopyBuffer(io.MultiWriter(f, h), src, make([]byte, 1<<20))
	if err != nil {
		return n, "", err
	}
	if max > 0 && n > max {
		return n, "", reject(CodeTooLarge, "the file is larger than the limit of %d bytes", max)
	}
	if n == 0 {
		return 0, "", reject(CodeNotAnImage, "the file is empty")
	}
	if err := f.Sync(); err != nil {
		return n, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// Remove deletes every file of an image. Removing an image that has no
// files is not an error.
func (c *Catalog) Remove(imageID string) error {
	if err := checkNames(imageID, FileDisk); err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(c.Dir, imageID)); err != nil {
		return fmt.Errorf("catalog remove %s: %w", imageID, err)
	}
	return nil
}
