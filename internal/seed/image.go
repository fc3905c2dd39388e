package seed

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/image"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// PublicImage makes sure the public catalog has an available kernel image
// called name, booted from the local files kernel and initrd (initrd may be
// empty) with cmdline. `make run` publishes the test guest this way. An
// available image of that name is returned as it is, so the provider's own
// edits survive a second run; a pending or failed one is completed. The
// files go through the catalog's checks like any upload.
func PublicImage(ctx context.Context, st *store.Store, cat *image.Catalog, name, kernel, initrd, cmdline string) (*store.Image, error) {
	var im *store.Image
	err := st.Tx(ctx, func(tx *store.Tx) error {
		var err error
		im, err = tx.GetImage(ctx, "", name)
		if errors.Is(err, store.ErrNotFound) {
			im = &store.Image{Name: name, Kind: api.ImageKindKernel, Cmdline: cmdline, State: api.ImagePending, Source: "upload",
				Description: "Published from local files by siroccod"}
			return tx.CreateImage(ctx, im)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("seed image %s: %w", name, err)
	}
	if im.State == api.ImageAvailable {
		return im, nil
	}
	if im.Kind != api.ImageKindKernel {
		return nil, fmt.Errorf("seed image %s: a %s image of that name exists", name, im.Kind)
	}

	var files []store.ImageFile
	for _, f := range []struct{ name, path string }{{api.ImageFileKernel, kernel}, {api.ImageFileInitrd, initrd}} {
		if f.path == "" {
			continue
		}
		sf, err := putFile(ctx, cat, im.ID, f.name, f.path)
		if err != nil {
			return nil, fmt.Errorf("seed image %s: %w", name, err)
		}
		files = append(files, store.ImageFile{Name: sf.Name, Size: sf.Size, SHA256: sf.SHA256})
	}
	err = st.Tx(ctx, func(tx *store.Tx) error {
		cur, err := tx.GetImageByID(ctx, im.ID)
		if err != nil {
			return err
		}
		im = cur
		im.Files, im.Cmdline, im.State, im.Message = files, cmdline, api.ImageAvailable, ""
		return tx.UpdateImage(ctx, im)
	})
	if err != nil {
		return nil, fmt.Errorf("seed image %s: %w", name, err)
	}
	return im, nil
}

func putFile(ctx context.Context, cat *image.Catalog, imageID, file, path string) (image.StoredFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return image.StoredFile{}, err
	}
	defer f.Close()
	return cat.Put(ctx, imageID, file, f, "")
}
