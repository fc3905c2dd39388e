package api

// OVAImported is the answer to an OVA import: the disk image made from the
// OVA's disk, the virtual hardware its descriptor asks for and the size that
// fits it.
type OVAImported struct {
	Image    Image       `json:"image"`
	Hardware OVAHardware `json:"hardware"`
	// SuggestedSize is the smallest size offered with at least the
	// hardware's vCPUs and memory; empty when none is that large.
	SuggestedSize string `json:"suggested_size,omitempty" example:"s1.medium" doc:"Smallest non-deprecated size with at least the OVA's vCPUs and memory; empty when none is that large"`
}

// OVAHardware is the virtual hardware an OVA's descriptor describes.
type OVAHardware struct {
	CPUs      int    `json:"cpus" doc:"Virtual CPUs; 0 when the descriptor gives none"`
	MemoryMiB int64  `json:"memory_mib" doc:"Memory; 0 when the descriptor gives none"`
	DiskGiB   int64  `json:"disk_gib" doc:"Size of the disk as the guest sees it, rounded up"`
	OS        string `json:"os,omitempty" example:"Debian GNU/Linux 12 (64-bit)" doc:"The operating system the descriptor names"`
}

// CodeInvalidOVA is the code of an OVA that cannot be imported: paths in
// the archive, more than one disk, a missing descriptor, unreferenced files.
const CodeInvalidOVA = "invalid_ova"
