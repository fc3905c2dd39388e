package api

// Image states.
const (
	ImagePending   = "pending"   // waiting for its files (upload) or queued for import
	ImageImporting = "importing" // downloading, inspecting, converting
	ImageAvailable = "available"
	ImageFailed    = "failed"
)

// Image kinds.
const (
	ImageKindDisk   = "disk"   // a disk booted by the firmware
	ImageKindKernel = "kernel" // a kernel and initrd booted directly, with an optional disk
)

// Image files, as named in uploads and in Image.Files.
const (
	ImageFileDisk   = "disk"
	ImageFileKernel = "kernel"
	ImageFileInitrd = "initrd"
)

// Image is a catalog item: public (the provider's, Org empty) or private to
// an organisation.
type Image struct {
	Meta
	Org         string      `json:"org,omitempty" doc:"Owning organisation; empty for the public catalog"`
	Name        string      `json:"name"`
	Description string      `json:"description,omitempty"`
	Kind        string      `json:"kind" enum:"disk,kernel"`
	OS          string      `json:"os,omitempty" example:"debian-12"`
	Cmdline     string      `json:"cmdline,omitempty" doc:"Kernel command line (kernel images)"`
	MinDiskGiB  int64       `json:"min_disk_gib"`
	State       string      `json:"state" enum:"pending,importing,available,failed"`
	Message     string      `json:"message,omitempty" doc:"Why the import failed"`
	Files       []ImageFile `json:"files" nullable:"false"`
	Source      string      `json:"source,omitempty" doc:"Where it was imported from: a URL, or upload"`
}

// ImageFile is one stored file of an image, after conversion.
type ImageFile struct {
	Name   string `json:"name" enum:"disk,kernel,initrd"`
	Size   int64  `json:"size" doc:"Bytes stored"`
	SHA256 string `json:"sha256"`
	// VirtualSize is a disk's size as the guest sees it.
	VirtualSize int64 `json:"virtual_size,omitempty"`
}

// ImageCreate adds an image. With URLs it is imported at once (an operation);
// without, it waits in state pending for its files to be uploaded with
// PUT .../images/{image}/files/{file}.
type ImageCreate struct {
	Name        string `json:"name" pattern:"^[a-z0-9][a-z0-9._-]{0,62}$"`
	Description string `json:"description,omitempty" maxLength:"500"`
	Kind        string `json:"kind,omitempty" enum:"disk,kernel" default:"disk"`
	OS          string `json:"os,omitempty" maxLength:"50"`
	Cmdline     string `json:"cmdline,omitempty" maxLength:"1024"`
	MinDiskGiB  int64  `json:"min_disk_gib,omitempty" minimum:"0" maximum:"65536"`
	// URLs to import from (HTTP or HTTPS). Disk is required for disk images;
	// kernel for kernel images.
	DiskURL   string `json:"disk_url,omitempty" maxLength:"2048"`
	KernelURL string `json:"kernel_url,omitempty" maxLength:"2048"`
	InitrdURL string `json:"initrd_url,omitempty" maxLength:"2048"`
	// Checksums (sha256 hex) the downloaded or uploaded files must match.
	DiskSHA256   string `json:"disk_sha256,omitempty" pattern:"^[0-9a-f]{64}$"`
	KernelSHA256 string `json:"kernel_sha256,omitempty" pattern:"^[0-9a-f]{64}$"`
	InitrdSHA256 string `json:"initrd_sha256,omitempty" pattern:"^[0-9a-f]{64}$"`
	Labels       Labels `json:"labels,omitempty"`
}

// ImageUpdate changes an image's description, command line or labels.
type ImageUpdate struct {
	Description *string `json:"description,omitempty" maxLength:"500"`
	Cmdline     *string `json:"cmdline,omitempty" maxLength:"1024"`
	Labels      *Labels `json:"labels,omitempty"`
}

// ImageCreated is the answer to an image create: the image and, for an
// import from URLs, the operation doing it.
type ImageCreated struct {
	Image     Image      `json:"image"`
	Operation *Operation `json:"operation,omitempty"`
}

// Image error codes (the image's own rejection reasons, such as backing_file
// or checksum_mismatch, come from the importer).
const (
	CodeImageInUse        = "image_in_use"
	CodeImageNotAvailable = "image_not_available"
	CodeURLForbidden      = "url_forbidden" // an import URL pointing at a private or loopback address
)
