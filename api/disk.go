package api

// Data disk states (Disk.State).
const (
	DiskAvailable = "available" // attached to no VM
	DiskAttached  = "attached"
	DiskDeleting  = "deleting" // its host is removing the file
)

// Error codes of the disk endpoints.
const (
	CodeVMNotStopped    = "vm_not_stopped"     // disks attach and detach only while the VM is off (409)
	CodeDiskAttached    = "disk_attached"      // the disk is attached to a VM (409)
	CodeDiskOnOtherHost = "disk_on_other_host" // the disk's file lives on another host than the VM (409)
	CodeDiskShrink      = "disk_shrink"        // a disk only grows (409)
)

// Disk is a data disk: a block volume of a VDC, attached to at most one VM
// (it shows in the guest as /dev/vdb, /dev/vdc... in attachment order). It
// is charged per GiB-hour from creation to deletion, attached or not, VM
// on or off.
type Disk struct {
	Meta
	Org     string `json:"org"`
	VDC     string `json:"vdc"`
	Region  string `json:"region"`
	Name    string `json:"name"`
	SizeGiB int64  `json:"size_gib"`
	State   string `json:"state" enum:"available,attached,deleting"`
	VM      string `json:"vm,omitempty" doc:"ID of the VM it is attached to"`
	VMName  string `json:"vm_name,omitempty" doc:"Name of the VM it is attached to"`
	Host    string `json:"host,omitempty" doc:"The host holding the disk's file, from its first attachment on: it attaches only to VMs there"`
}

// DiskCreate makes an empty data disk in a VDC.
type DiskCreate struct {
	Name    string `json:"name" pattern:"^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$|^[a-z0-9]$" doc:"Unique among the organisation's disks"`
	VDC     string `json:"vdc,omitempty" doc:"VDC ID or name; may be omitted when the organisation has exactly one"`
	SizeGiB int64  `json:"size_gib" minimum:"1" maximum:"16384"`
	Labels  Labels `json:"labels,omitempty"`
}

// DiskUpdate changes a disk's labels or grows it. Growing an attached disk
// needs its VM stopped; the guest's file system is grown from inside.
type DiskUpdate struct {
	Labels  *Labels `json:"labels,omitempty"`
	SizeGiB *int64  `json:"size_gib,omitempty" minimum:"1" maximum:"16384" doc:"New size: only larger (409 disk_shrink)"`
}

// DiskAttach attaches a disk to a stopped VM of its VDC.
type DiskAttach struct {
	VM string `json:"vm" doc:"VM ID or name"`
}

// VMDisk is a data disk attached to a VM (VM.Disks), in attachment order.
type VMDisk struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	SizeGiB int64  `json:"size_gib"`
}
