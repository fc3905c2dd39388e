package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/api/agentapi"
	"github.com/sirocco-cloud/sirocco/internal/compute"
)

// ErrChecksum is returned when an image file's content does not match the
// checksum the control plane gave for it.
var ErrChecksum = errors.New("image file checksum mismatch")

// manifestFile marks a cache directory whose files were all verified; it
// lists them with their checksums so a restarted agent still reports the
// image as cached.
const manifestFile = "manifest.json"

// Cache keeps catalog images on the host, under <dir>/<image id>/<file>,
// fetched from the control plane and checked against their SHA-256. QEMU
// reads them as the bases of VM disks, so a file is only ever replaced by
// rename, never rewritten in place.
type Cache struct {
	dir        string
	server     string
	client     *http.Client
	credential string

	mu    sync.Mutex
	locks map[string]*sync.Mutex // one per image: concurrent workers fetch it once
}

// NewCache returns the cache in dir, fetching from server (the control
// plane's base URL) with client and the agent's credential. The client must
// have no overall timeout: a disk image can take minutes to arrive; ctx
// bounds each fetch instead.
func NewCache(dir, server string, client *http.Client, credential string) *Cache {
	return &Cache{dir: dir, server: server, client: client, credential: credential, locks: map[string]*sync.Mutex{}}
}

func (c *Cache) lock(id string) *sync.Mutex {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.locks[id]
	if l == nil {
		l = &sync.Mutex{}
		c.locks[id] = l
	}
	return l
}

// IDs lists the images whose files have all been fetched and verified.
func (c *Cache) IDs() []string {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return []string{}
	}
	ids := []string{}
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(c.dir, e.Name(), manifestFile)); e.IsDir() && err == nil {
			ids = append(ids, e.Name())
		}
	}
	slices.Sort(ids)
	return ids
}

// Ref makes sure every file of img is in the cache with the right checksum,
// fetching what is missing and re-fetching (once) a file whose content has
// changed, and returns the image as the driver boots it. Every file is
// hashed again on every call: a disk base corrupted on the host must not
// reach a new VM.
func (c *Cache) Ref(ctx context.Context, img agentapi.Image) (compute.ImageRef, error) {
	if !compute.ValidID(img.ID) {
		return compute.ImageRef{}, fmt.Errorf("image %q: invalid id", img.ID)
	}
	l := c.lock(img.ID)
	l.Lock()
	defer l.Unlock()
	dir := filepath.Join(c.dir, img.ID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return compute.ImageRef{}, fmt.Errorf("image cache: %w", err)
	}
	paths := map[string]string{}
	for _, f := range img.Files {
		switch f.Name {
		case api.ImageFileDisk, api.ImageFileKernel, api.ImageFileInitrd:
		default:
			return compute.ImageRef{}, fmt.Errorf("image %s: unknown file %q", img.ID, f.Name)
		}
		p := filepath.Join(dir, f.Name)
		if err := verify(p, f.SHA256); err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				// Corrupted or half-written: fetch it again, once.
				os.Remove(filepath.Join(dir, manifestFile))
			}
			if err := c.fetch(ctx, img.ID, f, p); err != nil {
				return compute.ImageRef{}, err
			}
		}
		paths[f.Name] = p
	}
	if err := writeManifest(filepath.Join(dir, manifestFile), img.Files); err != nil {
		return compute.ImageRef{}, fmt.Errorf("image cache: %w", err)
	}
	ref := compute.ImageRef{Disk: paths[api.ImageFileDisk]}
	switch img.Kind {
	case api.ImageKindDisk:
		ref.Kind = compute.ImageDisk
	case api.ImageKindKernel:
		ref.Kind = compute.ImageKernel
		ref.Kernel, ref.Initrd, ref.Cmdline = paths[api.ImageFileKernel], paths[api.ImageFileInitrd], img.Cmdline
	default:
		return compute.ImageRef{}, fmt.Errorf("image %s: unknown kind %q", img.ID, img.Kind)
	}
	return ref, nil
}

// fetch downloads one file into a temporary file next to path, checks its
// checksum and renames it into place.
func (c *Cache) fetch(ctx context.Context, id string, f agentapi.ImageFile, path string) error {
	url := c.server + agentapi.PathImageFile + "/" + id + "/" + f.Name
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "sirocco-agent/"+Version)
	req.Header.Set("Authorization", "Bearer "+c.credential)
	res, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch image %s %s: %w", id, f.Name, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch image %s %s: HTTP %d", id, f.Name, res.StatusCode)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+f.Name+".*.part")
	if err != nil {
		return fmt.Errorf("fetch image %s %s: %w", id, f.Name, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	h := sha256.New()
	// Size bounds the download: a server sending more than it announced
	// cannot fill the host's disk.
	limit := f.Size + 1
	if f.Size <= 0 {
		limit = 1 << 62
	}
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(res.Body, limit))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fetch image %s %s: %w", id, f.Name, err)
	}
	if f.Size > 0 && n != f.Size {
		return fmt.Errorf("fetch image %s %s: got %d bytes, want %d", id, f.Name, n, f.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
		return fmt.Errorf("fetch image %s %s: %w: got sha256 %s, want %s", id, f.Name, ErrChecksum, got, f.SHA256)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("fetch image %s %s: %w", id, f.Name, err)
	}
	return nil
}

// verify hashes the file at path and compares it with want (hex).
func verify(path, want string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("%s: %w", path, ErrChecksum)
	}
	return nil
}

func writeManifest(path string, files []agentapi.ImageFile) error {
	b, err := json.MarshalIndent(files, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
