package server

import (
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/auth"
	"github.com/sirocco-cloud/sirocco/internal/image"
	"github.com/sirocco-cloud/sirocco/internal/operation"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// opImageImport is the operation kind that downloads an image's files.
const opImageImport = "image.import"

func imageOf(im *store.Image) api.Image {
	files := make([]api.ImageFile, 0, len(im.Files))
	for _, f := range im.Files {
		files = append(files, api.ImageFile{Name: f.Name, Size: f.Size, SHA256: f.SHA256, VirtualSize: f.VirtualSize})
	}
	return api.Image{
		Meta:        metaOf(im.Meta),
		Org:         im.OrgID,
		Name:        im.Name,
		Description: im.Description,
		Kind:        im.Kind,
		OS:          im.OS,
		Cmdline:     im.Cmdline,
		MinDiskGiB:  im.MinDiskGiB,
		State:       im.State,
		Message:     im.Message,
		Files:       files,
		Source:      im.Source,
	}
}

// imageImportInput is the input of an image.import operation.
type imageImportInput struct {
	Files []imageSource `json:"files"`
	// AllowPrivate lets the download reach private addresses: only for
	// imports a provider admin asked for.
	AllowPrivate bool `json:"allow_private"`
}

// imageSource is one file to download.
type imageSource struct {
	Name   string `json:"name"`
	URL    string `json:"url"`
	SHA256 string `json:"sha256,omitempty"`
}

// imageFileAllowed reports whether an image of kind has a file of that name:
// disk images have only a disk; kernel images a kernel, an optional initrd
// and an optional disk.
func imageFileAllowed(kind, file string) bool {
	switch file {
	case api.ImageFileDisk:
		return true
	case api.ImageFileKernel, api.ImageFileInitrd:
		return kind == api.ImageKindKernel
	}
	return false
}

// imageComplete reports whether every file an image needs is there.
func imageComplete(im *store.Image) bool {
	need := api.ImageFileDisk
	if im.Kind == api.ImageKindKernel {
		need = api.ImageFileKernel
	}
	return slices.ContainsFunc(im.Files, func(f store.ImageFile) bool { return f.Name == need })
}

// fitMinDisk raises an image's minimum disk to hold its disk file: a VM's
// disk cannot be smaller than the image it starts from.
func fitMinDisk(im *store.Image) {
	for _, f := range im.Files {
		if f.Name == api.ImageFileDisk {
			im.MinDiskGiB = max(im.MinDiskGiB, (f.VirtualSize+(1<<30)-1)>>30)
		}
	}
}

// imageBase is the collection an image lives in, for Location headers.
func imageBase(orgID string) string {
	if orgID == "" {
		return "/api/v1/images"
	}
	return "/api/v1/orgs/" + orgID + "/images"
}

// imageOwner resolves whose images a request is about: the public catalog
// when orgRef is empty, else the organisation it names. Anyone signed in may
// read the public catalog; only provider admins change it. creating also
// needs a verified address and an organisation in good standing, as for any
// new resource.
func (s *Server) imageOwner(ctx context.Context, tx *store.Tx, p *auth.Principal, orgRef string, need access, creating bool) (string, error) {
	if orgRef == "" {
		if need != canRead && !p.CanAdminProvider() {
			return "", forbidden("the public image catalog is managed by provider admins: add private images under /api/v1/orgs/{org}/images")
		}
		return "", nil
	}
	o, err := s.orgFor(ctx, tx, p, orgRef, need)
	if err != nil {
		return "", err
	}
	if creating {
		if err := requireVerified(p); err != nil {
			return "", err
		}
		if err := requireOrgActive(o); err != nil {
			return "", err
		}
	}
	return o.ID, nil
}

// catalog returns the image file store, or 503 when this control plane has
// none configured.
func (s *Server) catalog() (*image.Catalog, error) {
	if s.cfg.Images == nil {
		return nil, api.Errorf(http.StatusServiceUnavailable, api.CodeUnavailable, "this control plane has no image storage configured")
	}
	return s.cfg.Images, nil
}

// Inputs and outputs of the image endpoints. Path fields are declared
// directly: Huma does not fill path parameters of embedded structs.
type (
	publicImagePath struct {
		Image string `path:"image" maxLength:"200" doc:"Image ID or name"`
	}
	orgImagePath struct {
		Org   string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		Image string `path:"image" maxLength:"200" doc:"Image ID or name"`
	}
	orgImageListIn struct {
		Org string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		ListParams
	}
	publicImageCreateIn struct {
		Body api.ImageCreate
	}
	orgImageCreateIn struct {
		Org  string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		Body api.ImageCreate
	}
	publicImageUpdateIn struct {
		Image   string `path:"image" maxLength:"200" doc:"Image ID or name"`
		IfMatch string `header:"If-Match" doc:"ETag from a previous read; the update fails with 412 if the image changed since"`
		Body    api.ImageUpdate
	}
	orgImageUpdateIn struct {
		Org     string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		Image   string `path:"image" maxLength:"200" doc:"Image ID or name"`
		IfMatch string `header:"If-Match" doc:"ETag from a previous read; the update fails with 412 if the image changed since"`
		Body    api.ImageUpdate
	}
	// imageCreatedOut is 201 for an image waiting for uploads, 202 for one
	// being imported (Location is then the operation).
	imageCreatedOut struct {
		Status   int
		Location string `header:"Location"`
		ETag     string `header:"ETag"`
		Body     api.ImageCreated
	}
)

const (
	imageCreateDoc = "Without URLs the image waits in state pending for its files, uploaded with PUT .../images/{image}/files/{file} (201). " +
		"With URLs (http or https) an operation of kind image.import downloads, inspects and converts them (202, Location is the operation); " +
		"the image becomes available, or failed with the reason (codes such as backing_file, checksum_mismatch, too_large, url_forbidden). " +
		"Disk images need a disk; kernel images a kernel, with an optional initrd and disk. Names are unique per owner (409 already_exists)."
	imageUploadDoc = "The body is the raw file (Content-Type: application/octet-stream), streamed and limited by the catalog's size limits, " +
		"not by the JSON body limit. Disks may be qcow2, raw or single-file VMDK and are converted to qcow2; kernels must be bzImages; " +
		"initrds cpio archives, possibly compressed. A rejected file answers 422 with the reason as code (backing_file, checksum_mismatch, " +
		"too_large, not_an_image...) and nothing is kept. When every required file is there the image becomes available. " +
		"Files of an available image cannot be replaced (409): create a new image."
)

func (s *Server) imageRoutes() {
	s.ops.Handle(opImageImport, s.runImageImport)
	tags := []string{"Images"}

	register(s, huma.Operation{OperationID: "list-public-images", Method: http.MethodGet, Path: "/api/v1/images", Summary: "List public images",
		Description: "The provider's public catalog, readable by everyone signed in.", Tags: tags},
		func(ctx context.Context, in *struct{ ListParams }) (*listOut[api.Image], error) {
			return s.listImages(ctx, "", in.ListParams)
		})
	register(s, huma.Operation{OperationID: "get-public-image", Method: http.MethodGet, Path: "/api/v1/images/{image}", Summary: "Get a public image", Tags: tags},
		func(ctx context.Context, in *publicImagePath) (*bodyOut[api.Image], error) {
			return s.getImage(ctx, "", in.Image)
		})
	register(s, huma.Operation{OperationID: "create-public-image", Method: http.MethodPost, Path: "/api/v1/images", Summary: "Add a public image",
		Description: "Provider admins only. Imports may fetch from private addresses. " + imageCreateDoc, Tags: tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *publicImageCreateIn) (*imageCreatedOut, error) {
			return s.createImage(ctx, "", in.Body)
		})
	register(s, huma.Operation{OperationID: "update-public-image", Method: http.MethodPatch, Path: "/api/v1/images/{image}", Summary: "Update a public image",
		Description: "Provider admins only. Changes the description, kernel command line or labels.", Tags: tags},
		func(ctx context.Context, in *publicImageUpdateIn) (*bodyOut[api.Image], error) {
			return s.updateImage(ctx, "", in.Image, in.IfMatch, in.Body)
		})
	register(s, huma.Operation{OperationID: "delete-public-image", Method: http.MethodDelete, Path: "/api/v1/images/{image}", Summary: "Delete a public image",
		Description: "Provider admins only. Refused with 409 image_in_use while VMs use it.", Tags: tags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *publicImagePath) (*emptyOut, error) {
			return s.deleteImage(ctx, "", in.Image)
		})

	register(s, huma.Operation{OperationID: "list-images", Method: http.MethodGet, Path: "/api/v1/orgs/{org}/images", Summary: "List an organisation's images",
		Description: "The organisation's private images; the public catalog is at /api/v1/images.", Tags: tags},
		func(ctx context.Context, in *orgImageListIn) (*listOut[api.Image], error) {
			return s.listImages(ctx, in.Org, in.ListParams)
		})
	register(s, huma.Operation{OperationID: "get-image", Method: http.MethodGet, Path: "/api/v1/orgs/{org}/images/{image}", Summary: "Get a private image", Tags: tags},
		func(ctx context.Context, in *orgImagePath) (*bodyOut[api.Image], error) {
			return s.getImage(ctx, in.Org, in.Image)
		})
	register(s, huma.Operation{OperationID: "create-image", Method: http.MethodPost, Path: "/api/v1/orgs/{org}/images", Summary: "Add a private image",
		Description: "Needs the org-member role or higher, a verified e-mail address and an organisation in good standing. " +
			"Imports may not fetch from loopback, private, link-local or other internal addresses (url_forbidden). " + imageCreateDoc,
		Tags: tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *orgImageCreateIn) (*imageCreatedOut, error) {
			return s.createImage(ctx, in.Org, in.Body)
		})
	register(s, huma.Operation{OperationID: "update-image", Method: http.MethodPatch, Path: "/api/v1/orgs/{org}/images/{image}", Summary: "Update a private image",
		Description: "Needs the org-member role or higher. Changes the description, kernel command line or labels.", Tags: tags},
		func(ctx context.Context, in *orgImageUpdateIn) (*bodyOut[api.Image], error) {
			return s.updateImage(ctx, in.Org, in.Image, in.IfMatch, in.Body)
		})
	register(s, huma.Operation{OperationID: "delete-image", Method: http.MethodDelete, Path: "/api/v1/orgs/{org}/images/{image}", Summary: "Delete a private image",
		Description: "Needs the org-member role or higher. Refused with 409 image_in_use while VMs use it.", Tags: tags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *orgImagePath) (*emptyOut, error) {
			return s.deleteImage(ctx, in.Org, in.Image)
		})

	doc := s.api.OpenAPI()
	for _, path := range []string{"/api/v1/images", "/api/v1/orgs/{org}/images"} {
		// Huma documents only the default status; a create with URLs
		// answers 202 with the same body.
		if op := doc.Paths[path].Post; op != nil && op.Responses["201"] != nil {
			r := *op.Responses["201"]
			r.Description = "Accepted: the import runs as an operation (Location)"
			op.Responses["202"] = &r
		}
	}

	// Uploads stream the body to disk: Huma would read it into memory, so
	// they are plain handlers, documented by hand.
	s.mux.HandleFunc("PUT /api/v1/images/{image}/files/{file}", s.uploadImageFile)
	s.mux.HandleFunc("PUT /api/v1/orgs/{org}/images/{image}/files/{file}", s.uploadImageFile)
	s.documentUpload("upload-public-image-file", "/api/v1/images/{image}/files/{file}", "/api/v1/images/{image}", "Upload a file of a public image",
		"Provider admins only. "+imageUploadDoc)
	s.documentUpload("upload-image-file", "/api/v1/orgs/{org}/images/{image}/files/{file}", "/api/v1/orgs/{org}/images/{image}", "Upload a file of a private image",
		"Needs the org-member role or higher, a verified e-mail address and an organisation in good standing. "+imageUploadDoc)
}

// documentUpload adds a plain upload handler to the OpenAPI document,
// borrowing the parameters, answer and error model of the GET of the image.
func (s *Server) documentUpload(id, path, getPath, summary, description string) {
	doc := s.api.OpenAPI()
	get := doc.Paths[getPath].Get
	params := slices.Clone(get.Parameters)
	params = append(params,
		&huma.Param{Name: "file", In: "path", Required: true, Description: "Which file",
			Schema: &huma.Schema{Type: "string", Enum: []any{api.ImageFileDisk, api.ImageFileKernel, api.ImageFileInitrd}}},
		&huma.Param{Name: "sha256", In: "query", Description: "SHA-256 (hex) the uploaded bytes must have; default: the one given at creation",
			Schema: &huma.Schema{Type: "string", Pattern: "^[0-9a-fA-F]{64}$"}})
	responses := map[string]*huma.Response{}
	for code, r := range get.Responses {
		responses[code] = r
	}
	doc.AddOperation(&huma.Operation{
		OperationID: id, Method: http.MethodPut, Path: path, Summary: summary, Description: description,
		Tags: get.Tags, Parameters: params,
		RequestBody: &huma.RequestBody{Required: true, Description: "The file's bytes",
			Content: map[string]*huma.MediaType{"application/octet-stream": {Schema: &huma.Schema{Type: "string", ContentEncoding: "binary"}}}},
		Responses: responses,
	})
}

func (s *Server) listImages(ctx context.Context, orgRef string, lp ListParams) (*listOut[api.Image], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	pg, err := lp.page()
	if err != nil {
		return nil, err
	}
	var rows []store.Image
	var next string
	err = s.store.View(ctx, func(tx *store.Tx) error {
		orgID, err := s.imageOwner(ctx, tx, p, orgRef, canRead, false)
		if err != nil {
			return err
		}
		rows, next, err = tx.ListImages(ctx, store.ImageFilter{OrgID: orgID}, pg)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &listOut[api.Image]{Body: listOf(rows, next, imageOf)}, nil
}

func (s *Server) getImage(ctx context.Context, orgRef, ref string) (*bodyOut[api.Image], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	var im *store.Image
	err = s.store.View(ctx, func(tx *store.Tx) error {
		orgID, err := s.imageOwner(ctx, tx, p, orgRef, canRead, false)
		if err != nil {
			return err
		}
		im, err = tx.GetImage(ctx, orgID, ref)
		return notFoundOr(err, "image", ref)
	})
	if err != nil {
		return nil, err
	}
	return &bodyOut[api.Image]{ETag: etag(im.Version), Body: imageOf(im)}, nil
}

// imageInvalid is a 422 pointing at one field of the create body.
func imageInvalid(field, value, format string, args ...any) *api.Error {
	e := api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, format, args...)
	e.Errors = []api.ErrorDetail{{Location: "body." + field, Message: e.Detail, Value: value}}
	return e
}

// imagePlan checks a create request and returns what to download and the
// checksums to expect.
func imagePlan(b *api.ImageCreate) (kind string, srcs []imageSource, expect map[string]string, err error) {
	kind = cmp.Or(b.Kind, api.ImageKindDisk)
	files := []struct{ name, urlField, url, sha string }{
		{api.ImageFileDisk, "disk_url", b.DiskURL, b.DiskSHA256},
		{api.ImageFileKernel, "kernel_url", b.KernelURL, b.KernelSHA256},
		{api.ImageFileInitrd, "initrd_url", b.InitrdURL, b.InitrdSHA256},
	}
	expect = map[string]string{}
	for _, f := range files {
		if (f.url != "" || f.sha != "") && !imageFileAllowed(kind, f.name) {
			return "", nil, nil, imageInvalid(f.urlField, f.url, "a %s image has no %s (use kind kernel for direct kernel boot)", kind, f.name)
		}
		if f.sha != "" {
			expect[f.name] = strings.ToLower(f.sha)
		}
		if f.url == "" {
			continue
		}
		if err := image.CheckURL(f.url); err != nil {
			return "", nil, nil, imageInvalid(f.urlField, f.url, "%s: %v", f.urlField, err)
		}
		srcs = append(srcs, imageSource{Name: f.name, URL: f.url, SHA256: expect[f.name]})
	}
	if b.Cmdline != "" && kind != api.ImageKindKernel {
		return "", nil, nil, imageInvalid("cmdline", b.Cmdline, "only kernel images have a kernel command line")
	}
	if len(srcs) > 0 {
		// An import must bring the file the image cannot boot without:
		// mixing imports and uploads would leave it half-made.
		switch {
		case kind == api.ImageKindDisk && b.DiskURL == "":
			return "", nil, nil, imageInvalid("disk_url", "", "a disk image imported from URLs needs disk_url")
		case kind == api.ImageKindKernel && b.KernelURL == "":
			return "", nil, nil, imageInvalid("kernel_url", "", "a kernel image imported from URLs needs kernel_url")
		}
	}
	return kind, srcs, expect, nil
}

func (s *Server) createImage(ctx context.Context, orgRef string, b api.ImageCreate) (*imageCreatedOut, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.catalog(); err != nil {
		return nil, err
	}
	if store.IsID(b.Name) {
		return nil, imageInvalid("name", b.Name, "image name %q has the shape of an ID: choose another", b.Name)
	}
	if err := validateLabels(b.Labels); err != nil {
		return nil, err
	}
	kind, srcs, expect, err := imagePlan(&b)
	if err != nil {
		return nil, err
	}
	im := &store.Image{
		Meta:        store.Meta{Labels: b.Labels},
		Name:        b.Name,
		Description: b.Description,
		Kind:        kind,
		OS:          b.OS,
		Cmdline:     b.Cmdline,
		MinDiskGiB:  b.MinDiskGiB,
		State:       api.ImagePending,
		Source:      "upload",
		Expect:      expect,
	}
	if len(srcs) > 0 {
		im.Source = srcs[0].URL
	}
	var op *store.Operation
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		orgID, err := s.imageOwner(ctx, tx, p, orgRef, canWrite, true)
		if err != nil {
			return err
		}
		im.OrgID = orgID
		if err := tx.CreateImage(ctx, im); err != nil {
			owner := "the public catalog"
			if orgRef != "" {
				owner = "organisation " + orgRef
			}
			return conflictOr(err, api.CodeAlreadyExists, "%s already has an image named %q", owner, b.Name)
		}
		detail := fmt.Sprintf("%s image %s, waiting for uploads", kind, im.Name)
		if len(srcs) > 0 {
			input, err := json.Marshal(imageImportInput{Files: srcs, AllowPrivate: p.CanAdminProvider()})
			if err != nil {
				return err
			}
			op = &store.Operation{OrgID: orgID, Kind: opImageImport, TargetKind: "image", TargetID: im.ID, CreatedBy: p.UserID, Input: string(input)}
			if err := s.ops.Enqueue(ctx, tx, op); err != nil {
				return err
			}
			detail = fmt.Sprintf("%s image %s, imported from %s by operation %s", kind, im.Name, redactURL(srcs[0].URL), op.ID)
		}
		return s.audit(ctx, tx, "image.create", "image", im.ID, orgID, detail)
	})
	if err != nil {
		return nil, err
	}
	out := &imageCreatedOut{Status: http.StatusCreated, Location: imageBase(im.OrgID) + "/" + im.ID, ETag: etag(im.Version),
		Body: api.ImageCreated{Image: imageOf(im)}}
	if op != nil {
		s.ops.Kick()
		o := operation.ToAPI(op)
		out.Status, out.Location, out.Body.Operation = http.StatusAccepted, "/api/v1/operations/"+op.ID, &o
	}
	return out, nil
}

func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "a URL"
}

func (s *Server) updateImage(ctx context.Context, orgRef, ref, ifMatch string, b api.ImageUpdate) (*bodyOut[api.Image], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	var im *store.Image
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		orgID, err := s.imageOwner(ctx, tx, p, orgRef, canWrite, false)
		if err != nil {
			return err
		}
		if im, err = tx.GetImage(ctx, orgID, ref); err != nil {
			return notFoundOr(err, "image", ref)
		}
		if err := checkIfMatch(ifMatch, im.Version); err != nil {
			return err
		}
		var changed []string
		if d := b.Description; d != nil {
			im.Description = *d
			changed = append(changed, "description")
		}
		if c := b.Cmdline; c != nil {
			if im.Kind != api.ImageKindKernel && *c != "" {
				return imageInvalid("cmdline", *c, "only kernel images have a kernel command line")
			}
			im.Cmdline = *c
			changed = append(changed, "cmdline")
		}
		if l := b.Labels; l != nil {
			if err := validateLabels(*l); err != nil {
				return err
			}
			im.Labels = *l
			changed = append(changed, "labels")
		}
		if err := tx.UpdateImage(ctx, im); err != nil {
			return err
		}
		return s.audit(ctx, tx, "image.update", "image", im.ID, orgID, strings.Join(changed, "; "))
	})
	if err != nil {
		return nil, err
	}
	return &bodyOut[api.Image]{ETag: etag(im.Version), Body: imageOf(im)}, nil
}

func (s *Server) deleteImage(ctx context.Context, orgRef, ref string) (*emptyOut, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	var im *store.Image
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		orgID, err := s.imageOwner(ctx, tx, p, orgRef, canWrite, false)
		if err != nil {
			return err
		}
		if im, err = tx.GetImage(ctx, orgID, ref); err != nil {
			return notFoundOr(err, "image", ref)
		}
		// A running import would write files after they are removed.
		pending, err := unfinishedOp(ctx, tx, opImageImport, "image", im.ID)
		if err != nil {
			return err
		}
		if pending != nil {
			return api.Errorf(http.StatusConflict, api.CodeConflict, "image %q is being imported by operation %s: cancel it first", im.Name, pending.ID)
		}
		n, err := tx.ImageUsers(ctx, im.ID)
		if err != nil {
			return err
		}
		inUse := api.Errorf(http.StatusConflict, api.CodeImageInUse, "image %q is used by %d VMs: delete them first", im.Name, n)
		if n > 0 {
			return inUse
		}
		if err := tx.DeleteImage(ctx, im.ID); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return inUse
			}
			return err
		}
		return s.audit(ctx, tx, "image.delete", "image", im.ID, orgID, im.Name)
	})
	if err != nil {
		return nil, err
	}
	// Files go once the row is gone, so a failed delete loses nothing; a
	// file left by a failed removal is only wasted space.
	if cat := s.cfg.Images; cat != nil {
		if err := cat.Remove(im.ID); err != nil {
			s.log.ErrorContext(ctx, "remove image files", "image", im.ID, "err", err, "request_id", requestID(ctx))
		}
	}
	return nil, nil
}

// imageRejected is the 422 for a file the catalog refused, with the
// rejection's code. Only the rejection itself is shown: the wrapping errors
// name paths on the control plane.
func imageRejected(file string, err error) *api.Error {
	r, ok := errors.AsType[*image.Rejected](err)
	if !ok {
		return nil
	}
	return api.Errorf(http.StatusUnprocessableEntity, r.Code, "%s: %s", file, r.Error())
}

// uploadImageFile serves PUT .../images/{image}/files/{file}: it streams the
// body into the catalog, then records the file, making the image available
// once it has every file it needs.
func (s *Server) uploadImageFile(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	fail := func(err error) { writeProblem(w, r, s.apiError(ctx, err).(*api.Error)) }
	p, err := principal(ctx)
	if err != nil {
		fail(err)
		return
	}
	cat, err := s.catalog()
	if err != nil {
		fail(err)
		return
	}
	orgRef, ref, file := r.PathValue("org"), r.PathValue("image"), r.PathValue("file")
	if len(ref) > 200 {
		fail(api.NotFound("image", ref[:200]))
		return
	}
	want := strings.ToLower(r.URL.Query().Get("sha256"))
	if b, err := hex.DecodeString(want); want != "" && (err != nil || len(b) != 32) {
		e := api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "sha256 must be 64 hexadecimal digits")
		e.Errors = []api.ErrorDetail{{Location: "query.sha256", Message: e.Detail, Value: want}}
		fail(e)
		return
	}
	var im *store.Image
	err = s.store.View(ctx, func(tx *store.Tx) error {
		orgID, err := s.imageOwner(ctx, tx, p, orgRef, canWrite, true)
		if err != nil {
			return err
		}
		im, err = tx.GetImage(ctx, orgID, ref)
		return notFoundOr(err, "image", ref)
	})
	if err != nil {
		fail(err)
		return
	}
	switch {
	case !imageFileAllowed(im.Kind, file):
		e := api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "a %s image has no file %q (disk images: disk; kernel images: kernel, initrd, disk)", im.Kind, file)
		e.Errors = []api.ErrorDetail{{Location: "path.file", Message: e.Detail, Value: file}}
		fail(e)
		return
	case im.State == api.ImageImporting:
		fail(api.Errorf(http.StatusConflict, api.CodeConflict, "image %q is being imported from %s", im.Name, redactURL(im.Source)))
		return
	case im.State == api.ImageAvailable:
		fail(api.Errorf(http.StatusConflict, api.CodeConflict, "image %q is available: its files cannot change (create a new image)", im.Name))
		return
	}
	if expect := im.Expect[file]; expect != "" {
		if want != "" && want != expect {
			e := api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "sha256 %s differs from the %s checksum given when the image was created (%s)", want, file, expect)
			e.Errors = []api.ErrorDetail{{Location: "query.sha256", Message: e.Detail, Value: want}}
			fail(e)
			return
		}
		want = expect
	}
	if max := cat.Limits.MaxFileBytes; max > 0 && r.ContentLength > max {
		fail(api.Errorf(http.StatusUnprocessableEntity, image.CodeTooLarge, "%s: the file is %d bytes, the limit is %d", file, r.ContentLength, max))
		return
	}

	sf, err := cat.Put(ctx, im.ID, file, r.Body, want)
	if err != nil {
		if e := imageRejected(file, err); e != nil {
			fail(e)
			return
		}
		fail(fmt.Errorf("upload %s of image %s: %w", file, im.ID, err))
		return
	}
	gone := false
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		cur, err := tx.GetImageByID(ctx, im.ID)
		if errors.Is(err, store.ErrNotFound) {
			gone = true
			return api.NotFound("image", ref)
		}
		if err != nil {
			return err
		}
		im = cur
		// Whatever happened meanwhile, the record must describe the file
		// now on disk.
		im.Files = slices.DeleteFunc(im.Files, func(f store.ImageFile) bool { return f.Name == file })
		im.Files = append(im.Files, store.ImageFile{Name: file, Size: sf.Size, SHA256: sf.SHA256, VirtualSize: sf.VirtualSize})
		slices.SortFunc(im.Files, func(a, b store.ImageFile) int { return strings.Compare(a.Name, b.Name) })
		fitMinDisk(im)
		if imageComplete(im) {
			im.State, im.Message = api.ImageAvailable, ""
		}
		if err := tx.UpdateImage(ctx, im); err != nil {
			return err
		}
		return s.audit(ctx, tx, "image.upload", "image", im.ID, im.OrgID,
			fmt.Sprintf("%s: %d bytes, sha256 %s; image %s", file, sf.Size, sf.SHA256, im.State))
	})
	if gone {
		// Deleted while the upload ran: its files must not outlive it.
		if err := cat.Remove(im.ID); err != nil {
			s.log.ErrorContext(ctx, "remove image files", "image", im.ID, "err", err, "request_id", requestID(ctx))
		}
	}
	if err != nil {
		fail(err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ETag", etag(im.Version))
	_ = jsonEncode(w, imageOf(im))
}

// runImageImport downloads an image's files into the catalog. Running it
// again (after a replica died) starts the downloads over; an image that is
// already available, or was deleted, is left alone.
func (s *Server) runImageImport(ctx context.Context, op *store.Operation, progress operation.Progress) error {
	var in imageImportInput
	if err := json.Unmarshal([]byte(op.Input), &in); err != nil {
		return fmt.Errorf("image import %s: bad input: %w", op.ID, err)
	}
	cat, err := s.catalog()
	if err != nil {
		return err
	}
	var im *store.Image
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		cur, err := tx.GetImageByID(ctx, op.TargetID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && cur.State == api.ImageAvailable) {
			return nil
		}
		if err != nil {
			return err
		}
		im = cur
		im.State, im.Message = api.ImageImporting, ""
		return tx.UpdateImage(ctx, im)
	})
	if err != nil || im == nil {
		return err
	}

	var files []store.ImageFile
	for i, src := range in.Files {
		progress(5+85*i/len(in.Files), fmt.Sprintf("downloading %s from %s", src.Name, redactURL(src.URL)))
		sf, err := s.importFile(ctx, cat, im.ID, src, in.AllowPrivate)
		if err != nil {
			return s.failImport(ctx, cat, im.ID, err)
		}
		files = append(files, store.ImageFile{Name: src.Name, Size: sf.Size, SHA256: sf.SHA256, VirtualSize: sf.VirtualSize})
	}
	progress(95, "recording the image")
	gone := false
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		cur, err := tx.GetImageByID(ctx, im.ID)
		if errors.Is(err, store.ErrNotFound) {
			gone = true
			return nil
		}
		if err != nil {
			return err
		}
		cur.Files, cur.State, cur.Message = files, api.ImageAvailable, ""
		fitMinDisk(cur)
		if err := tx.UpdateImage(ctx, cur); err != nil {
			return err
		}
		return s.auditAsSystem(ctx, tx, "image.import", "image", cur.ID, cur.OrgID, fmt.Sprintf("imported %s by operation %s", cur.Name, op.ID))
	})
	if gone {
		return cat.Remove(im.ID)
	}
	return err
}

// importFile streams one download into the catalog and maps its failures
// to API errors: a rejected file to its rejection code, a forbidden address
// to url_forbidden, a failed download to 422 (the URL is the user's).
func (s *Server) importFile(ctx context.Context, cat *image.Catalog, imageID string, src imageSource, allowPrivate bool) (image.StoredFile, error) {
	f := &image.Fetcher{AllowPrivate: allowPrivate, MaxBytes: cat.Limits.MaxFileBytes}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	fetched := make(chan error, 1)
	go func() {
		_, err := f.Fetch(fctx, src.URL, pw)
		pw.CloseWithError(err) // nil: the reader sees EOF
		fetched <- err
	}()
	sf, err := cat.Put(ctx, imageID, src.Name, pr, src.SHA256)
	// Put has read to EOF (the download is over) or given up: stop a
	// download it no longer reads.
	cancel()
	pr.CloseWithError(errors.New("the catalog stopped reading"))
	fetchErr := <-fetched
	if err == nil {
		return sf, nil
	}
	if ctx.Err() != nil {
		return sf, ctx.Err()
	}
	if e := imageRejected(src.Name, err); e != nil {
		return sf, e
	}
	if errors.Is(err, image.ErrForbiddenAddress) {
		return sf, api.Errorf(http.StatusUnprocessableEntity, api.CodeURLForbidden,
			"%s: %s resolves to a loopback, private, link-local or otherwise internal address, which imports may not reach", src.Name, redactURL(src.URL))
	}
	if fetchErr != nil && errors.Is(err, fetchErr) {
		return sf, api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "%s: download failed: %v", src.Name, fetchErr)
	}
	return sf, err
}

// failImport marks an image failed with the reason, removes any file
// already stored, and returns the error the operation fails with.
func (s *Server) failImport(ctx context.Context, cat *image.Catalog, imageID string, cause error) error {
	ae, ok := errors.AsType[*api.Error](cause)
	msg := "the import failed"
	switch {
	case ok:
		msg = ae.Detail
	case errors.Is(cause, context.Canceled):
		msg = "the import was cancelled"
	}
	// Record the failure even when ctx was cancelled.
	wctx := context.WithoutCancel(ctx)
	if err := cat.Remove(imageID); err != nil {
		s.log.ErrorContext(wctx, "remove image files", "image", imageID, "err", err)
	}
	err := s.store.Tx(wctx, func(tx *store.Tx) error {
		im, err := tx.GetImageByID(wctx, imageID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		im.State, im.Message, im.Files = api.ImageFailed, msg, nil
		return tx.UpdateImage(wctx, im)
	})
	if err != nil {
		s.log.ErrorContext(wctx, "mark image failed", "image", imageID, "err", err)
	}
	return cause
}

// agentImageFile serves GET agentapi.PathImageFile/{image}/{file} to a
// host's agent filling its cache. A private image goes only to hosts in
// zones its organisation's residency policy allows: the copy on the host is
// the organisation's data too.
func (s *Server) agentImageFile(w http.ResponseWriter, r *http.Request) {
	h := s.agentHost(w, r)
	if h == nil {
		return
	}
	ctx := r.Context()
	fail := func(e *api.Error) { writeProblem(w, r, e) }
	id, file := r.PathValue("image"), r.PathValue("file")
	cat := s.cfg.Images
	if cat == nil {
		fail(api.Errorf(http.StatusServiceUnavailable, api.CodeUnavailable, "this control plane has no image storage configured"))
		return
	}
	if !store.IsID(id) {
		fail(api.NotFound("image", id))
		return
	}
	var im *store.Image
	err := s.store.View(ctx, func(tx *store.Tx) error {
		var err error
		if im, err = tx.GetImageByID(ctx, id); err != nil {
			return notFoundOr(err, "image", id)
		}
		if im.OrgID == "" {
			return nil
		}
		o, err := tx.GetOrg(ctx, im.OrgID)
		if err != nil {
			return err
		}
		z, err := tx.GetZone(ctx, h.ZoneID)
		if err != nil {
			return err
		}
		if !(api.Residency{Jurisdictions: o.Residency.Jurisdictions, Regions: o.Residency.Regions}).Allows(z.RegionID, z.Jurisdiction) {
			return api.Errorf(http.StatusForbidden, api.CodeResidency,
				"image %s belongs to organisation %q, whose residency policy does not allow zone %s (region %s, jurisdiction %s)",
				im.ID, o.Name, z.ID, z.RegionID, z.Jurisdiction)
		}
		return nil
	})
	if err != nil {
		fail(s.apiError(ctx, err).(*api.Error))
		return
	}
	if im.State != api.ImageAvailable {
		fail(api.Errorf(http.StatusConflict, api.CodeImageNotAvailable, "image %s is %s", im.ID, im.State))
		return
	}
	i := slices.IndexFunc(im.Files, func(f store.ImageFile) bool { return f.Name == file })
	if i < 0 {
		fail(api.Errorf(http.StatusNotFound, api.CodeNotFound, "image %s has no file %q", im.ID, file))
		return
	}
	f, err := os.Open(cat.Path(im.ID, file))
	if err != nil {
		fail(s.apiError(ctx, fmt.Errorf("open image file: %w", err)).(*api.Error))
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		fail(s.apiError(ctx, fmt.Errorf("stat image file: %w", err)).(*api.Error))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("ETag", `"`+im.Files[i].SHA256+`"`)
	http.ServeContent(w, r, file, st.ModTime(), f)
}
