package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"

	"github.com/sirocco-cloud/sirocco/api"
)

// Images. The public catalog (/images) is the provider's: provider-admin
// writes it, everyone reads it. Private images (/orgs/{org}/images) belong to
// one organisation. Each call comes in both flavours; images are addressed by
// ID or by name.

// ImageUpload is one file sent to an image waiting for its files.
type ImageUpload struct {
	// File is which file of the image this is: api.ImageFileDisk, Kernel or
	// Initrd.
	File string
	// Body is streamed as is; wrap it to observe progress.
	Body io.Reader
	// Size is the number of bytes Body holds. Give it when known: the server
	// can then refuse a file that is too large before it is sent.
	Size int64
	// SHA256 (hex), when set, is checked by the server against what arrived.
	SHA256 string
}

// ListPublicImages returns one page of the public catalog.
func (c *Client) ListPublicImages(ctx context.Context, opts ListOptions) (*api.List[api.Image], error) {
	return list[api.Image](ctx, c, path("images"), opts.values())
}

// AllPublicImages walks the public catalog.
func (c *Client) AllPublicImages(ctx context.Context, opts ListOptions) iter.Seq2[api.Image, error] {
	return all(ctx, opts, c.ListPublicImages)
}

// CreatePublicImage adds an image to the public catalog (provider-admin).
// With URLs the answer carries the import operation; without, the image waits
// in state pending for UploadPublicImageFile.
func (c *Client) CreatePublicImage(ctx context.Context, in api.ImageCreate, opts ...CallOption) (*api.ImageCreated, error) {
	return send[api.ImageCreated](ctx, c, http.MethodPost, path("images"), in, opts)
}

// GetPublicImage returns an image of the public catalog.
func (c *Client) GetPublicImage(ctx context.Context, image string) (*api.Image, error) {
	return get[api.Image](ctx, c, path("images", image), nil)
}

// UpdatePublicImage changes an image of the public catalog (provider-admin).
func (c *Client) UpdatePublicImage(ctx context.Context, image string, u api.ImageUpdate, opts ...CallOption) (*api.Image, error) {
	return send[api.Image](ctx, c, http.MethodPatch, path("images", image), u, opts)
}

// DeletePublicImage removes an image from the public catalog
// (provider-admin). It returns the operation doing it when the server answers
// with one, and nil when the image went at once.
func (c *Client) DeletePublicImage(ctx context.Context, image string, opts ...CallOption) (*api.Operation, error) {
	return c.deleteMaybeLong(ctx, path("images", image), opts)
}

// UploadPublicImageFile streams one file of a public image (provider-admin)
// and returns the image as it stands after it.
func (c *Client) UploadPublicImageFile(ctx context.Context, image string, up ImageUpload, opts ...CallOption) (*api.Image, error) {
	return c.upload(ctx, path("images", image, "files", up.File), up, opts)
}

// ListImages returns one page of an organisation's private images.
func (c *Client) ListImages(ctx context.Context, org string, opts ListOptions) (*api.List[api.Image], error) {
	return list[api.Image](ctx, c, path("orgs", org, "images"), opts.values())
}

// AllImages walks every private image of an organisation.
func (c *Client) AllImages(ctx context.Context, org string, opts ListOptions) iter.Seq2[api.Image, error] {
	return all(ctx, opts, func(ctx context.Context, lo ListOptions) (*api.List[api.Image], error) {
		return c.ListImages(ctx, org, lo)
	})
}

// CreateImage adds a private image to an organisation, as CreatePublicImage
// does to the catalog.
func (c *Client) CreateImage(ctx context.Context, org string, in api.ImageCreate, opts ...CallOption) (*api.ImageCreated, error) {
	return send[api.ImageCreated](ctx, c, http.MethodPost, path("orgs", org, "images"), in, opts)
}

// GetImage returns a private image.
func (c *Client) GetImage(ctx context.Context, org, image string) (*api.Image, error) {
	return get[api.Image](ctx, c, path("orgs", org, "images", image), nil)
}

// UpdateImage changes a private image.
func (c *Client) UpdateImage(ctx context.Context, org, image string, u api.ImageUpdate, opts ...CallOption) (*api.Image, error) {
	return send[api.Image](ctx, c, http.MethodPatch, path("orgs", org, "images", image), u, opts)
}

// DeleteImage removes a private image; like DeletePublicImage it returns an
// operation only when the server needs one.
func (c *Client) DeleteImage(ctx context.Context, org, image string, opts ...CallOption) (*api.Operation, error) {
	return c.deleteMaybeLong(ctx, path("orgs", org, "images", image), opts)
}

// UploadImageFile streams one file of a private image and returns the image
// as it stands after it.
func (c *Client) UploadImageFile(ctx context.Context, org, image string, up ImageUpload, opts ...CallOption) (*api.Image, error) {
	return c.upload(ctx, path("orgs", org, "images", image, "files", up.File), up, opts)
}

// deleteMaybeLong deletes an object that either goes at once (no operation)
// or is removed by an operation (202).
func (c *Client) deleteMaybeLong(ctx context.Context, p string, opts []CallOption) (*api.Operation, error) {
	var op api.Operation
	res, err := c.do(ctx, request{method: http.MethodDelete, path: p, opts: opts, out: &op})
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusAccepted {
		return nil, nil
	}
	return &op, nil
}

// upload PUTs a raw file body; do() only sends JSON.
func (c *Client) upload(ctx context.Context, p string, up ImageUpload, opts []CallOption) (*api.Image, error) {
	if up.Body == nil {
		return nil, fmt.Errorf("PUT %s: no body to upload", p)
	}
	q := url.Values{}
	setIf(q, "sha256", up.SHA256)
	h := http.Header{"Content-Type": {"application/octet-stream"}, "Accept": {"application/json"}}
	res, err := c.raw(ctx, http.MethodPut, p, q, h, up.Body, up.Size, opts)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var img api.Image
	if err := decodeBody(res, &img); err != nil {
		return nil, fmt.Errorf("PUT %s: decode answer: %w", p, err)
	}
	return &img, nil
}

// raw sends one request with an arbitrary body and header and returns the
// answer with its body unread when it is a 2xx; anything else is an
// *api.Error, as from do. size > 0 is the body's length.
func (c *Client) raw(ctx context.Context, method, p string, q url.Values, h http.Header, body io.Reader, size int64, opts []CallOption) (*http.Response, error) {
	u := c.base + p
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, p, err)
	}
	if size > 0 {
		req.ContentLength = size
	}
	for k, v := range h {
		req.Header[k] = v
	}
	c.authorize(req.Header)
	for _, o := range opts {
		o(req.Header)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, p, err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		defer res.Body.Close()
		return nil, decodeError(res)
	}
	return res, nil
}

// authorize adds the headers every request carries: the user agent and the
// credentials.
func (c *Client) authorize(h http.Header) {
	if c.userAgent != "" {
		h.Set("User-Agent", c.userAgent)
	}
	switch {
	case c.token != "":
		h.Set("Authorization", "Bearer "+c.token)
	case c.session != "":
		h.Add("Cookie", (&http.Cookie{Name: SessionCookie, Value: c.session}).String())
	}
}

// decodeBody reads a JSON answer into out; an empty body leaves out as it is.
func decodeBody(res *http.Response, out any) error {
	if res.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// OVAImport is an OVA (a tar archive, as vSphere, ESXi and VirtualBox
// export a virtual machine) for ImportOVA or ImportPublicOVA.
type OVAImport struct {
	// Name of the new disk image, unique per owner.
	Name string
	// Description and OS of the image; by default from the OVA.
	Description string
	OS          string
	// Body is the OVA, streamed as is; wrap it to observe progress.
	Body io.Reader
	// Size is the number of bytes Body holds. Give it when known: the server
	// can then refuse an OVA that is too large before it is sent.
	Size int64
}

// ImportOVA creates a private disk image from the one disk of an OVA and
// returns it, available, with the virtual hardware the OVA asks for and the
// smallest size that fits it. A refused OVA (several disks, a wrong manifest
// digest, a disk with a backing file) is an *api.Error with the reason as
// its code, and leaves no image behind.
func (c *Client) ImportOVA(ctx context.Context, org string, in OVAImport, opts ...CallOption) (*api.OVAImported, error) {
	return c.importOVA(ctx, path("orgs", org, "images", "ova"), in, opts)
}

// ImportPublicOVA is ImportOVA into the public catalog (provider-admin).
func (c *Client) ImportPublicOVA(ctx context.Context, in OVAImport, opts ...CallOption) (*api.OVAImported, error) {
	return c.importOVA(ctx, path("images", "ova"), in, opts)
}

func (c *Client) importOVA(ctx context.Context, p string, in OVAImport, opts []CallOption) (*api.OVAImported, error) {
	if in.Body == nil {
		return nil, fmt.Errorf("POST %s: no OVA to send", p)
	}
	q := url.Values{"name": {in.Name}}
	setIf(q, "description", in.Description)
	setIf(q, "os", in.OS)
	h := http.Header{"Content-Type": {"application/x-tar"}, "Accept": {"application/json"}}
	res, err := c.raw(ctx, http.MethodPost, p, q, h, in.Body, in.Size, opts)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var out api.OVAImported
	if err := decodeBody(res, &out); err != nil {
		return nil, fmt.Errorf("POST %s: decode answer: %w", p, err)
	}
	return &out, nil
}
