package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

var imageCols = []col[api.Image]{
	{"NAME", func(i *api.Image) string { return i.Name }},
	{"CATALOG", func(i *api.Image) string {
		if i.Org == "" {
			return "public"
		}
		return "private"
	}},
	{"KIND", func(i *api.Image) string { return i.Kind }},
	{"OS", func(i *api.Image) string { return i.OS }},
	{"STATE", func(i *api.Image) string { return i.State }},
	{"SIZE", func(i *api.Image) string {
		var n int64
		for _, f := range i.Files {
			n += f.Size
		}
		if n == 0 {
			return ""
		}
		return humanBytes(n)
	}},
	{"MIN DISK GIB", func(i *api.Image) string { return itoa(i.MinDiskGiB) }},
	{"AGE", func(i *api.Image) string { return age(i.CreatedAt) }},
	{"MESSAGE", func(i *api.Image) string { return i.Message }},
}

// humanBytes shows a byte count in binary units.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// imageScope is where image commands act: the public catalog (--public) or
// the organisation's private images.
type imageScope struct {
	c      *client.Client
	org    string
	public bool
}

func (a *app) imageScope(public bool) (imageScope, error) {
	if public {
		c, _, err := a.authed()
		return imageScope{c: c, public: true}, err
	}
	c, org, err := a.inOrg()
	return imageScope{c: c, org: org}, err
}

func (s imageScope) list(ctx context.Context, o client.ListOptions) (*api.List[api.Image], error) {
	if s.public {
		return s.c.ListPublicImages(ctx, o)
	}
	return s.c.ListImages(ctx, s.org, o)
}

func (s imageScope) get(ctx context.Context, name string) (*api.Image, error) {
	if s.public {
		return s.c.GetPublicImage(ctx, name)
	}
	return s.c.GetImage(ctx, s.org, name)
}

func (s imageScope) create(ctx context.Context, in api.ImageCreate) (*api.ImageCreated, error) {
	if s.public {
		return s.c.CreatePublicImage(ctx, in)
	}
	return s.c.CreateImage(ctx, s.org, in)
}

func (s imageScope) del(ctx context.Context, name string) (*api.Operation, error) {
	if s.public {
		return s.c.DeletePublicImage(ctx, name)
	}
	return s.c.DeleteImage(ctx, s.org, name)
}

func (s imageScope) upload(ctx context.Context, name string, up client.ImageUpload) (*api.Image, error) {
	if s.public {
		return s.c.UploadPublicImageFile(ctx, name, up)
	}
	return s.c.UploadImageFile(ctx, s.org, name, up)
}

// imageFlags are the descriptive flags of import and upload.
type imageFlags struct {
	public      bool
	description string
	os          string
	cmdline     string
	minDisk     int64
	sha256      string
	labels      []string
}

func addImageFlags(cmd *cobra.Command, f *imageFlags) {
	fs := cmd.Flags()
	fs.BoolVar(&f.public, "public", false, "add it to the public catalog (provider-admin) instead of the organisation's images")
	fs.StringVar(&f.description, "description", "", "what the image is")
	fs.StringVar(&f.os, "os", "", "operating system, e.g. debian-12")
	fs.StringVar(&f.cmdline, "cmdline", "", "kernel command line (kernel images only)")
	fs.Int64Var(&f.minDisk, "min-disk-gib", 0, "smallest root disk the image needs, in GiB")
	fs.StringVar(&f.sha256, "sha256", "", "SHA-256 (hex) the kernel of a kernel image, otherwise the disk, must match")
	fs.StringArrayVar(&f.labels, "label", nil, "label key=value (repeatable)")
}

// create checks the flags common to import and upload and returns the
// create request they make; kernel says whether it is a kernel image.
func (f *imageFlags) create(name string, kernel bool) (api.ImageCreate, error) {
	if f.cmdline != "" && !kernel {
		return api.ImageCreate{}, usagef("--cmdline is for kernel images only")
	}
	sum := strings.ToLower(f.sha256)
	if sum != "" && !sha256Hex.MatchString(sum) {
		return api.ImageCreate{}, usagef("--sha256 %q: want 64 hexadecimal digits", f.sha256)
	}
	l, err := parseLabels(f.labels)
	if err != nil {
		return api.ImageCreate{}, err
	}
	in := api.ImageCreate{Name: name, Description: f.description, OS: f.os, Cmdline: f.cmdline, MinDiskGiB: f.minDisk, Labels: l}
	if kernel {
		in.Kind, in.KernelSHA256 = api.ImageKindKernel, sum
	} else {
		in.Kind, in.DiskSHA256 = api.ImageKindDisk, sum
	}
	return in, nil
}

func (a *app) imageCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "image", Aliases: []string{"images"}, Short: "Manage images: the organisation's (--org) or the public catalog (--public)"})

	var listPublic bool
	list := &cobra.Command{Use: "list", Short: "List the organisation's images, or the public catalog with --public", Args: args()}
	lf := addListFlags(list)
	list.Flags().BoolVar(&listPublic, "public", false, "list the public catalog")
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		s, err := a.imageScope(listPublic)
		if err != nil {
			return err
		}
		l, err := fetch(cmd.Context(), lf, s.list)
		if err != nil {
			return err
		}
		return showList(a, l, imageCols)
	}
	cmd.AddCommand(list)

	var getPublic bool
	get := &cobra.Command{Use: "get NAME", Short: "Show an image", Args: args("NAME")}
	get.Flags().BoolVar(&getPublic, "public", false, "an image of the public catalog")
	get.RunE = func(cmd *cobra.Command, args []string) error {
		s, err := a.imageScope(getPublic)
		if err != nil {
			return err
		}
		img, err := s.get(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		return show(a, img, imageCols)
	}
	cmd.AddCommand(get)

	var delPublic bool
	del := &cobra.Command{Use: "delete NAME", Short: "Delete an image (refused while VMs use it)", Args: args("NAME")}
	del.Flags().BoolVar(&delPublic, "public", false, "an image of the public catalog (provider-admin)")
	delNoWait := addNoWaitFlag(del)
	del.RunE = func(cmd *cobra.Command, args []string) error {
		s, err := a.imageScope(delPublic)
		if err != nil {
			return err
		}
		op, err := s.del(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		if op != nil {
			return a.follow(cmd.Context(), s.c, op, !*delNoWait)
		}
		a.done("Image %s deleted.", args[0])
		return nil
	}
	cmd.AddCommand(del)

	cmd.AddCommand(a.imageImportCmd(), a.imageUploadCmd(), a.imageImportOVACmd())
	return cmd
}

func (a *app) imageImportCmd() *cobra.Command {
	var f imageFlags
	var diskURL, kernelURL, initrdURL, initrdSHA string
	imp := &cobra.Command{
		Use:   "import NAME --url URL | --kernel-url URL [--initrd-url URL]",
		Short: "Import an image from HTTP(S) URLs and wait until it is available",
		Long: "Import an image: the server downloads it, checks it (a disk must be a self-contained qcow2, raw\n" +
			"or VMDK file) and converts it. --url alone imports a disk image; --kernel-url (with --initrd-url,\n" +
			"--cmdline and, optionally, --url for a root disk) a kernel booted directly. --sha256 is the\n" +
			"checksum of the kernel of a kernel image, otherwise of the disk.",
		Example: "  sirocco image import debian-12 --url https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-generic-amd64.qcow2 --os debian-12\n" +
			"  sirocco image import tiny --kernel-url https://example.com/vmlinuz --initrd-url https://example.com/initrd.img --cmdline 'console=ttyS0'",
		Args: args("NAME"),
	}
	addImageFlags(imp, &f)
	fs := imp.Flags()
	fs.StringVar(&diskURL, "url", "", "URL of a disk image")
	fs.StringVar(&kernelURL, "kernel-url", "", "URL of a kernel, for a kernel image")
	fs.StringVar(&initrdURL, "initrd-url", "", "URL of the kernel's initrd")
	fs.StringVar(&initrdSHA, "initrd-sha256", "", "SHA-256 (hex) the initrd must match")
	noWait := addNoWaitFlag(imp)
	imp.RunE = func(cmd *cobra.Command, args []string) error {
		switch {
		case diskURL == "" && kernelURL == "":
			return usagef("--url or --kernel-url is required")
		case initrdURL != "" && kernelURL == "":
			return usagef("--initrd-url needs --kernel-url")
		case initrdSHA != "" && initrdURL == "":
			return usagef("--initrd-sha256 needs --initrd-url")
		}
		in, err := f.create(args[0], kernelURL != "")
		if err != nil {
			return err
		}
		if initrdSHA = strings.ToLower(initrdSHA); initrdSHA != "" && !sha256Hex.MatchString(initrdSHA) {
			return usagef("--initrd-sha256 %q: want 64 hexadecimal digits", initrdSHA)
		}
		in.DiskURL, in.KernelURL, in.InitrdURL, in.InitrdSHA256 = diskURL, kernelURL, initrdURL, initrdSHA
		s, err := a.imageScope(f.public)
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		created, err := s.create(ctx, in)
		if err != nil {
			return err
		}
		op := created.Operation
		if op == nil || *noWait {
			if ok, err := a.encoded(created); ok {
				return err
			}
			if err := show(a, &created.Image, imageCols); err != nil {
				return err
			}
			if op != nil && !op.Done() {
				a.note("Operation %s imports it; follow it with: sirocco operation wait %s", op.ID, op.ID)
			}
			return nil
		}
		final, err := a.waitAll(ctx, s.c, []api.Operation{*op})
		if err != nil {
			return err
		}
		img := &created.Image
		if got, err := s.get(ctx, created.Image.ID); err == nil {
			img = got
		}
		if err := show(a, img, imageCols); err != nil {
			return err
		}
		return finished(&final[0], false)
	}
	return imp
}

// upload is one local file to send.
type uploadFile struct {
	name string // disk, kernel or initrd
	path string
	f    *os.File
	size int64
}

func (a *app) imageUploadCmd() *cobra.Command {
	var f imageFlags
	var disk, kernel, initrd string
	up := &cobra.Command{
		Use:   "upload NAME --file FILE | --kernel FILE [--initrd FILE]",
		Short: "Create an image from local files, showing the bytes sent",
		Long: "Create an image and upload its files: --file alone makes a disk image (a self-contained qcow2,\n" +
			"raw or VMDK file); --kernel (with --initrd, --cmdline and, optionally, --file for a root disk) a\n" +
			"kernel booted directly. If an upload fails the half-made image is deleted, so the same command\n" +
			"can be run again.",
		Example: "  sirocco image upload my-app --file build/my-app.qcow2 --os debian-12\n" +
			"  sirocco image upload tiny --kernel vmlinuz --initrd initrd.img --cmdline 'console=ttyS0'",
		Args: args("NAME"),
	}
	addImageFlags(up, &f)
	fs := up.Flags()
	fs.StringVar(&disk, "file", "", "disk image file")
	fs.StringVar(&kernel, "kernel", "", "kernel file, for a kernel image")
	fs.StringVar(&initrd, "initrd", "", "initrd file of the kernel")
	up.RunE = func(cmd *cobra.Command, args []string) error {
		switch {
		case disk == "" && kernel == "":
			return usagef("--file or --kernel is required")
		case initrd != "" && kernel == "":
			return usagef("--initrd needs --kernel")
		}
		in, err := f.create(args[0], kernel != "")
		if err != nil {
			return err
		}
		var files []*uploadFile
		defer func() {
			for _, u := range files {
				u.f.Close()
			}
		}()
		// The image becomes available, and its files fixed, once its main
		// file (kernel or disk) is in: that one goes last.
		for _, u := range []uploadFile{{name: api.ImageFileInitrd, path: initrd}, {name: api.ImageFileDisk, path: disk}, {name: api.ImageFileKernel, path: kernel}} {
			if u.path == "" {
				continue
			}
			// Open everything first: a typo should not leave a pending image.
			if err := u.open(); err != nil {
				return err
			}
			files = append(files, &u)
		}
		s, err := a.imageScope(f.public)
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		created, err := s.create(ctx, in)
		if err != nil {
			return err
		}
		img := &created.Image
		for _, u := range files {
			body, done := a.byteProgress(u, created.Image.Name)
			img, err = s.upload(ctx, created.Image.ID, client.ImageUpload{File: u.name, Body: body, Size: u.size})
			done(err == nil)
			if err != nil {
				a.discardImage(s, created.Image.ID)
				return fmt.Errorf("upload %s %s: %w", u.name, u.path, err)
			}
		}
		return show(a, img, imageCols)
	}
	return up
}

func (u *uploadFile) open() error {
	f, err := os.Open(expandHome(u.path))
	if err != nil {
		return usageError{fmt.Errorf("--%s %s: %w", u.flag(), u.path, unwrapPath(err))}
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = errors.New("not a regular file")
	}
	if err == nil && st.Size() == 0 {
		err = errors.New("the file is empty")
	}
	if err != nil {
		f.Close()
		return usageError{fmt.Errorf("--%s %s: %w", u.flag(), u.path, err)}
	}
	u.f, u.size = f, st.Size()
	return nil
}

// flag is the command-line flag that names the file.
func (u *uploadFile) flag() string {
	if u.name == api.ImageFileDisk {
		return "file"
	}
	return u.name
}

// byteProgress wraps a file being uploaded: a bar of bytes sent on a
// terminal, a line before and after otherwise. done reports the outcome.
func (a *app) byteProgress(u *uploadFile, image string) (io.Reader, func(ok bool)) {
	desc := fmt.Sprintf("%s %s", image, u.name)
	if _, tty := terminal(a.errw); !tty {
		fmt.Fprintf(a.errw, "Uploading %s (%s)\n", desc, humanBytes(u.size))
		return u.f, func(ok bool) {
			if ok {
				fmt.Fprintf(a.errw, "Uploaded %s: %d bytes\n", desc, u.size)
			}
		}
	}
	bar := progressbar.NewOptions64(u.size,
		progressbar.OptionSetWriter(a.errw),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
	)
	return io.TeeReader(u.f, bar), func(ok bool) {
		if ok {
			_ = bar.Finish()
		} else {
			_ = bar.Exit()
		}
		fmt.Fprintln(a.errw)
	}
}

// discardImage deletes an image whose upload failed, so that running the
// command again does not trip over it; it is best effort.
func (a *app) discardImage(s imageScope, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.del(ctx, id); err != nil {
		public := ""
		if s.public {
			public = " --public"
		}
		a.note("The image %s could not be removed (%v); delete it with: sirocco image delete %s%s", id, err, id, public)
	}
}
