package api

// VDC is a virtual data centre: an organisation's slice of one zone.
type VDC struct {
	Meta
	Org             string `json:"org"`
	Name            string `json:"name"`
	Description     string `json:"description,omitempty"`
	Zone            string `json:"zone"`
	Region          string `json:"region"`
	Jurisdiction    string `json:"jurisdiction"`
	AllocationModel string `json:"allocation_model" enum:"payg,allocation,reservation"`
	Quotas          Quotas `json:"quotas"`
	State           string `json:"state" enum:"ready,deleting"`
}

// Quotas cap what a VDC may hold. Zero means none may be created.
type Quotas struct {
	VCPU      int   `json:"vcpu" minimum:"0" maximum:"100000"`
	MemoryMiB int64 `json:"memory_mib" minimum:"0"`
	DiskGiB   int64 `json:"disk_gib" minimum:"0"`
	VMs       int   `json:"vms" minimum:"0" maximum:"100000"`
	PublicIPs int   `json:"public_ips" minimum:"0" maximum:"10000"`
}

// VDCCreate makes a VDC in a zone the organisation's residency policy allows.
type VDCCreate struct {
	Name            string  `json:"name" pattern:"^[a-z0-9][a-z0-9-]{0,38}[a-z0-9]$"`
	Description     string  `json:"description,omitempty" maxLength:"500"`
	Zone            string  `json:"zone"`
	AllocationModel string  `json:"allocation_model,omitempty" enum:"payg,allocation,reservation" default:"payg"`
	Quotas          *Quotas `json:"quotas,omitempty" doc:"Default: 16 vCPU, 32 GiB, 500 GiB disk, 10 VMs, 2 public IPs"`
	Labels          Labels  `json:"labels,omitempty"`
}

// VDCUpdate changes a VDC.
type VDCUpdate struct {
	Description *string `json:"description,omitempty" maxLength:"500"`
	Quotas      *Quotas `json:"quotas,omitempty"`
	Labels      *Labels `json:"labels,omitempty"`
}

// DefaultQuotas are a new VDC's quotas when none are given.
var DefaultQuotas = Quotas{VCPU: 16, MemoryMiB: 32768, DiskGiB: 500, VMs: 10, PublicIPs: 2}
