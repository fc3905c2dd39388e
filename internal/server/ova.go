package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/image"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// OVA imports are the on-ramp from VMware: a VM exported from vSphere (or
// VirtualBox) as an OVA becomes a disk image of the catalog, and its virtual
// hardware is matched to a size.

// imageNamePattern is api.ImageCreate's name pattern, checked by hand here
// because the name arrives in the query of a plain handler.
var imageNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// ovaOverhead is what an OVA may hold besides its disk: the descriptor,
// manifest, certificate and tar headers.
const ovaOverhead = 16 << 20

const ovaImportDoc = "The body is the OVA itself (a tar archive; Content-Type application/x-tar or application/ova), streamed, " +
	"limited by the catalog's size limits and not by the JSON body limit. The OVA must describe one virtual machine with one disk " +
	"(its .ovf descriptor first, as ovftool and vSphere export it); its manifest, when present, must match every file. " +
	"The disk is checked and converted like any uploaded disk (a single-file VMDK: streamOptimized or monolithicSparse) and the image " +
	"is available when the answer (201) arrives, with the hardware the descriptor asks for and the smallest size that fits it. " +
	"A refused OVA answers 422 with the reason as code (invalid_ova for the archive or descriptor, checksum_mismatch, backing_file, " +
	"too_large, not_an_image...) and leaves no image behind. Names are unique per owner (409 already_exists)."

// ovaRoutes registers the OVA imports. They stream the body to disk, so they
// are plain handlers, documented by hand.
func (s *Server) ovaRoutes() {
	s.mux.HandleFunc("POST /api/v1/images/ova", s.importOVA)
	s.mux.HandleFunc("POST /api/v1/orgs/{org}/images/ova", s.importOVA)
	s.documentOVA("import-public-ova", "/api/v1/images/ova", "/api/v1/images", "Import an OVA into the public catalog",
		"Provider admins only. "+ovaImportDoc)
	s.documentOVA("import-ova", "/api/v1/orgs/{org}/images/ova", "/api/v1/orgs/{org}/images", "Import an OVA as a private image",
		"Needs the org-member role or higher, a verified e-mail address and an organisation in good standing. "+ovaImportDoc)
}

// documentOVA adds an OVA import to the OpenAPI document, borrowing the
// parameters and error answers of the image create at createPath.
func (s *Server) documentOVA(id, path, createPath, summary, description string) {
	doc := s.api.OpenAPI()
	create := doc.Paths[createPath].Post
	params := slices.Clone(create.Parameters)
	params = append(params,
		&huma.Param{Name: "name", In: "query", Required: true, Description: "Name of the new image, unique per owner",
			Schema: &huma.Schema{Type: "string", Pattern: imageNamePattern.String()}},
		&huma.Param{Name: "description", In: "query", Description: "What the image is; default: the OVA's virtual machine name",
			Schema: &huma.Schema{Type: "string", MaxLength: new(500)}},
		&huma.Param{Name: "os", In: "query", Description: "Operating system, e.g. debian-12; default: the OVA's description of it",
			Schema: &huma.Schema{Type: "string", MaxLength: new(50)}})
	responses := map[string]*huma.Response{}
	for code, r := range create.Responses {
		switch code {
		case "201":
			out := *r
			out.Description = "Created: the image is available"
			out.Content = map[string]*huma.MediaType{"application/json": {
				Schema: doc.Components.Schemas.Schema(reflect.TypeFor[api.OVAImported](), true, "")}}
			responses[code] = &out
		case "202":
		default:
			responses[code] = r
		}
	}
	binary := &huma.Schema{Type: "string", ContentEncoding: "binary"}
	doc.AddOperation(&huma.Operation{
		OperationID: id, Method: http.MethodPost, Path: path, Summary: summary, Description: description,
		Tags: create.Tags, Parameters: params,
		RequestBody: &huma.RequestBody{Required: true, Description: "The OVA (a tar archive)",
			Content: map[string]*huma.MediaType{"application/x-tar": {Schema: binary}, "application/ova": {Schema: binary}}},
		Responses: responses,
	})
}

// ovaInvalid is a 422 pointing at one query parameter.
func ovaInvalid(param, value, format string, args ...any) *api.Error {
	e := api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, format, args...)
	e.Errors = []api.ErrorDetail{{Location: "query." + param, Message: e.Detail, Value: value}}
	return e
}

// ovaRejected is the 422 for an OVA the importer refused, with the
// rejection's code; only the rejection is shown, not the paths wrapping it.
func ovaRejected(file string, err error) *api.Error {
	r, ok := errors.AsType[*image.Rejected](err)
	if !ok {
		return nil
	}
	if r.Code == image.CodeInvalidOVA {
		return api.Errorf(http.StatusUnprocessableEntity, r.Code, "the OVA cannot be imported: %s", r.Detail)
	}
	return imageRejected(file, err)
}

// importOVA serves POST .../images/ova: it creates the image first (so a
// taken name or a missing right is refused before any byte is read), reads
// the OVA, stores its disk and makes the image available. Whatever fails
// after the image was created removes it again, files and all.
func (s *Server) importOVA(w http.ResponseWriter, r *http.Request) {
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
	q := r.URL.Query()
	name, desc, osName := q.Get("name"), q.Get("description"), q.Get("os")
	switch {
	case name == "":
		fail(ovaInvalid("name", name, "name is required: the name of the new image"))
		return
	case !imageNamePattern.MatchString(name):
		fail(ovaInvalid("name", name, "name %q must be lower-case letters, digits, '.', '_' or '-' (at most 63), starting with a letter or digit", name))
		return
	case store.IsID(name):
		fail(ovaInvalid("name", name, "image name %q has the shape of an ID: choose another", name))
		return
	case len(desc) > 500:
		fail(ovaInvalid("description", desc[:500], "description is longer than 500 bytes"))
		return
	case len(osName) > 50:
		fail(ovaInvalid("os", osName[:50], "os is longer than 50 bytes"))
		return
	}
	if max := cat.Limits.MaxFileBytes; max > 0 && r.ContentLength > max+ovaOverhead {
		fail(api.Errorf(http.StatusUnprocessableEntity, image.CodeTooLarge, "the OVA is %d bytes, the limit is %d", r.ContentLength, max+ovaOverhead))
		return
	}

	im := &store.Image{Name: name, Description: desc, Kind: api.ImageKindDisk, OS: osName, State: api.ImageImporting, Source: "ova"}
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		orgID, err := s.imageOwner(ctx, tx, p, r.PathValue("org"), canWrite, true)
		if err != nil {
			return err
		}
		im.OrgID = orgID
		if err := tx.CreateImage(ctx, im); err != nil {
			owner := "the public catalog"
			if orgID != "" {
				owner = "organisation " + r.PathValue("org")
			}
			return conflictOr(err, api.CodeAlreadyExists, "%s already has an image named %q", owner, name)
		}
		return s.audit(ctx, tx, "image.create", "image", im.ID, orgID, fmt.Sprintf("disk image %s, importing an OVA", name))
	})
	if err != nil {
		fail(err)
		return
	}

	out, err := s.readOVAIntoImage(ctx, cat, im, r)
	if err != nil {
		s.discardOVAImage(ctx, cat, im, err)
		fail(err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Location", imageBase(im.OrgID)+"/"+im.ID)
	w.Header().Set("ETag", etag(out.Image.Version))
	w.WriteHeader(http.StatusCreated)
	_ = jsonEncode(w, out)
}

// readOVAIntoImage reads the OVA of r, stores its disk as im's and records
// im as available.
func (s *Server) readOVAIntoImage(ctx context.Context, cat *image.Catalog, im *store.Image, r *http.Request) (*api.OVAImported, error) {
	// The disk waits next to the catalog, on the filesystem it is headed
	// for, under a name of ReadOVA's making.
	root, err := filepath.Abs(cat.Dir)
	if err != nil {
		return nil, fmt.Errorf("import ova: %w", err)
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("import ova: %w", err)
	}
	ova, err := image.ReadOVA(ctx, r.Body, root, image.OVALimits{MaxFileBytes: cat.Limits.MaxFileBytes})
	if err != nil {
		if e := ovaRejected("ova", err); e != nil {
			return nil, e
		}
		return nil, fmt.Errorf("import ova into image %s: %w", im.ID, err)
	}
	defer ova.Close()
	f, err := os.Open(ova.DiskPath)
	if err != nil {
		return nil, fmt.Errorf("import ova into image %s: %w", im.ID, err)
	}
	sf, err := cat.Put(ctx, im.ID, image.FileDisk, f, ova.DiskSHA256)
	f.Close()
	if err != nil {
		if e := ovaRejected(ova.DiskFile, err); e != nil {
			return nil, e
		}
		return nil, fmt.Errorf("import ova into image %s: %w", im.ID, err)
	}
	ova.Close() // the catalog has its own copy: free the space now

	var suggested string
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		cur, err := tx.GetImageByID(ctx, im.ID)
		if errors.Is(err, store.ErrNotFound) {
			return api.Errorf(http.StatusConflict, api.CodeConflict, "image %q was deleted while its OVA was imported", im.Name)
		}
		if err != nil {
			return err
		}
		*im = *cur
		im.Files = []store.ImageFile{{Name: image.FileDisk, Size: sf.Size, SHA256: sf.SHA256, VirtualSize: sf.VirtualSize}}
		if im.Description == "" && ova.Name != "" {
			im.Description = truncate("Imported from an OVA of "+ova.Name, 500)
		}
		if im.OS == "" {
			im.OS = truncate(ova.OS, 50)
		}
		fitMinDisk(im)
		im.State, im.Message = api.ImageAvailable, ""
		if err := tx.UpdateImage(ctx, im); err != nil {
			return err
		}
		if suggested, err = matchSize(ctx, tx, ova.CPUs, ova.MemoryMiB); err != nil {
			return err
		}
		return s.audit(ctx, tx, "image.upload", "image", im.ID, im.OrgID,
			fmt.Sprintf("disk from the OVA's %s: %d bytes, sha256 %s; %d vCPU, %d MiB; image %s", ova.DiskFile, sf.Size, sf.SHA256, ova.CPUs, ova.MemoryMiB, im.State))
	})
	if err != nil {
		return nil, err
	}
	return &api.OVAImported{
		Image: imageOf(im),
		Hardware: api.OVAHardware{CPUs: ova.CPUs, MemoryMiB: ova.MemoryMiB, OS: ova.OS,
			DiskGiB: max(im.MinDiskGiB, (ova.DiskCapacity+(1<<30)-1)>>30)},
		SuggestedSize: suggested,
	}, nil
}

// matchSize names the smallest size on offer that fits the hardware.
func matchSize(ctx context.Context, tx *store.Tx, cpus int, memMiB int64) (string, error) {
	var sizes []image.Size
	pg := store.Page{Limit: store.MaxLimit}
	for {
		rows, next, err := tx.ListSizes(ctx, store.SizeFilter{ExcludeDeprecated: true}, pg)
		if err != nil {
			return "", err
		}
		for _, z := range rows {
			sizes = append(sizes, image.Size{Name: z.ID, VCPU: z.VCPU, MemoryMiB: z.MemoryMiB})
		}
		if next == "" {
			return image.MatchSize(cpus, memMiB, sizes), nil
		}
		pg.Cursor = next
	}
}

// discardOVAImage removes an image whose OVA was refused or failed, with
// its files, even when the request was cancelled.
func (s *Server) discardOVAImage(ctx context.Context, cat *image.Catalog, im *store.Image, cause error) {
	ctx = context.WithoutCancel(ctx)
	reason := "the import failed"
	if ae, ok := errors.AsType[*api.Error](cause); ok {
		reason = ae.Detail
	}
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteImage(ctx, im.ID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}
		return s.audit(ctx, tx, "image.delete", "image", im.ID, im.OrgID, truncate(im.Name+": "+reason, 1000))
	})
	if err != nil {
		s.log.ErrorContext(ctx, "remove image of a failed OVA import", "image", im.ID, "err", err, "request_id", requestID(ctx))
	}
	if err := cat.Remove(im.ID); err != nil {
		s.log.ErrorContext(ctx, "remove image files", "image", im.ID, "err", err, "request_id", requestID(ctx))
	}
}

// truncate cuts s to at most n bytes without leaving half a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
