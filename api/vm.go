package api

// VM power states a tenant asks for (VM.PowerState).
const (
	PowerRunning = "running"
	PowerStopped = "stopped"
)

// VM states as observed (VM.State). A VM on a host that stopped reporting is
// unknown: it is not deleted, and not placed anywhere else.
const (
	VMCreating = "creating" // placed; the host is fetching the image and preparing the disk
	VMStarting = "starting"
	VMRunning  = "running"
	VMStopping = "stopping"
	VMStopped  = "stopped"
	VMDeleting = "deleting"
	VMUnknown  = "unknown"
	VMError    = "error"
)

// Error codes of the VM endpoints.
const (
	CodeNoCapacity = "no_capacity" // no host can take the VM (409)
	CodeVMRunning  = "vm_running"  // the action needs a stopped VM (409)
	CodeVMBusy     = "vm_busy"     // another action on the VM is unfinished (409)
	CodeVMFailed   = "vm_failed"   // the host could not apply the change; the message says why (409)
)

// VM is a virtual machine in a VDC.
type VM struct {
	Meta
	Org       string `json:"org"`
	VDC       string `json:"vdc"`
	Name      string `json:"name"`
	Hostname  string `json:"hostname"`
	Image     string `json:"image" doc:"Image ID"`
	Size      string `json:"size"`
	VCPU      int    `json:"vcpu"`
	MemoryMiB int64  `json:"memory_mib"`
	DiskGiB   int64  `json:"disk_gib"`
	// PowerState is what was asked for; State is what the host reports.
	PowerState        string   `json:"power_state" enum:"running,stopped"`
	State             string   `json:"state" enum:"creating,starting,running,stopping,stopped,deleting,unknown,error"`
	Message           string   `json:"message,omitempty" doc:"What the host is doing or, in state error, what went wrong"`
	Zone              string   `json:"zone"`
	Region            string   `json:"region"`
	Jurisdiction      string   `json:"jurisdiction"`
	Host              string   `json:"host"`
	AntiAffinityGroup string   `json:"anti_affinity_group,omitempty"`
	SSHKeys           []string `json:"ssh_keys,omitempty"`
	NICs              []NIC    `json:"nics,omitempty"`
	// Disks are the data disks attached, in order (/dev/vdb first).
	Disks []VMDisk `json:"disks,omitempty"`
}

// VMCreate asks for one VM, or Count VMs named <name>-1 ... <name>-<count>.
type VMCreate struct {
	Name     string   `json:"name" pattern:"^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$|^[a-z0-9]$"`
	VDC      string   `json:"vdc" doc:"VDC ID or name; may be omitted when the organisation has exactly one"`
	Image    string   `json:"image" doc:"Image ID or name: the organisation's private images first, then the public catalog"`
	Size     string   `json:"size"`
	Hostname string   `json:"hostname,omitempty" pattern:"^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$|^[a-z0-9]$" doc:"Default: the VM's name"`
	SSHKeys  []string `json:"ssh_keys,omitempty" maxItems:"20" doc:"Keys for the default user, each an OpenSSH public key or the name or ID of a key the organisation registered (POST /api/v1/orgs/{org}/ssh-keys); the VM keeps the key text it was created with"`
	UserData string   `json:"user_data,omitempty" maxLength:"65536" doc:"cloud-init user-data"`
	Count    int      `json:"count,omitempty" minimum:"1" maximum:"50" default:"1"`
	// AntiAffinityGroup puts each VM of the group on a different host.
	AntiAffinityGroup string `json:"anti_affinity_group,omitempty" pattern:"^[a-z0-9][a-z0-9-]{0,62}$"`
	PowerOn           *bool  `json:"power_on,omitempty" doc:"Default true"`
	Labels            Labels `json:"labels,omitempty"`
	// Networks the VM is attached to, in order (the first is its primary
	// interface); default: the VDC's only network, if it has exactly one.
	Networks []VMNetwork `json:"networks,omitempty" maxItems:"8"`
	// PublicIP allocates a public address and attaches it to the first NIC.
	PublicIP bool `json:"public_ip,omitempty"`
	// Disks are data disks (ID or name) attached at creation, in order: the
	// VM goes to the host holding them. Only with count 1.
	Disks []string `json:"disks,omitempty" maxItems:"16"`
}

// VMNetwork attaches a VM to a network, with a fixed address on request.
type VMNetwork struct {
	Network string `json:"network" doc:"Network ID or name"`
	IP      string `json:"ip,omitempty" format:"ipv4" doc:"Fixed address; default: the next free one"`
}

// NIC is a VM's interface.
type NIC struct {
	Network  string `json:"network"`
	MAC      string `json:"mac"`
	IP       string `json:"ip"`
	PublicIP string `json:"public_ip,omitempty"`
}

// VMCreated is the answer to a create: the VMs, placed, and one operation per
// VM that finishes when it runs.
type VMCreated struct {
	VMs        []VM        `json:"vms"`
	Operations []Operation `json:"operations"`
}

// VMUpdate changes a VM's labels.
type VMUpdate struct {
	Labels *Labels `json:"labels,omitempty"`
}

// VMResize changes a stopped VM's size. The root disk only grows.
type VMResize struct {
	Size string `json:"size"`
}

// VMStop stops a VM: the guest is asked to power off (ACPI) and forced off
// after TimeoutSeconds.
type VMStop struct {
	TimeoutSeconds int `json:"timeout_seconds,omitempty" minimum:"0" maximum:"3600" default:"60"`
}

// Snapshot is a point-in-time copy of a VM's root disk, kept on its host.
type Snapshot struct {
	Meta
	VM    string `json:"vm"`
	Name  string `json:"name"`
	State string `json:"state" enum:"creating,ready,deleting,error"`
}

// SnapshotCreate takes a snapshot of a stopped VM.
type SnapshotCreate struct {
	Name string `json:"name" pattern:"^[a-z0-9][a-z0-9-]{0,62}$"`
}

// ResidencyItem is one place where an organisation's data lives.
type ResidencyItem struct {
	Kind         string `json:"kind" enum:"vm,disk,snapshot,image,image-copy" doc:"image is the catalog's master copy, kept by the control plane"`
	ID           string `json:"id"`
	Name         string `json:"name"`
	VM           string `json:"vm,omitempty" doc:"The VM a disk or snapshot belongs to"`
	Host         string `json:"host"`
	Zone         string `json:"zone"`
	Region       string `json:"region"`
	Jurisdiction string `json:"jurisdiction"`
}

// ResidencyReport lists where an organisation's data lives, for auditors.
type ResidencyReport struct {
	Org         string          `json:"org"`
	Policy      Residency       `json:"policy"`
	GeneratedAt string          `json:"generated_at"`
	Items       []ResidencyItem `json:"items" nullable:"false"`
}
