// Package agentapi holds the messages between the control plane and the
// hypervisor agents (HTTP/JSON under /api/agent/v1), with the protocol
// version both sides check. An agent dials out to the control plane, so a
// host needs no inbound port.
package agentapi

import (
	"errors"
	"strings"

	"github.com/sirocco-cloud/sirocco/api"
)

// ProtocolVersion is the agent protocol this build speaks. The control plane
// refuses agents speaking another version with code CodeUnsupportedProtocol.
const ProtocolVersion = 1

// CodeUnsupportedProtocol is the error code for an agent of another protocol.
const CodeUnsupportedProtocol = "unsupported_protocol"

// Paths of the agent endpoints.
const (
	PathJoin      = "/api/agent/v1/join"
	PathHeartbeat = "/api/agent/v1/heartbeat"
)

// JoinRequest is an agent's first call, with the one-time join token's secret.
type JoinRequest struct {
	Protocol     int          `json:"protocol"`
	Secret       string       `json:"secret"`
	Hostname     string       `json:"hostname"`
	Capacity     api.Capacity `json:"capacity"`
	Acceleration string       `json:"acceleration"`
	AgentVersion string       `json:"agent_version"`
}

// JoinResponse gives the agent its host identity and the long-lived
// credential it authenticates with from then on (Authorization: Bearer).
type JoinResponse struct {
	HostID           string `json:"host_id"`
	Credential       string `json:"credential"`
	HeartbeatSeconds int    `json:"heartbeat_seconds"`
}

// Heartbeat is the agent's periodic report.
type Heartbeat struct {
	Protocol     int          `json:"protocol"`
	Capacity     api.Capacity `json:"capacity"`
	Acceleration string       `json:"acceleration"`
	AgentVersion string       `json:"agent_version"`
	// UnderlayIP is the host's address for VXLAN between hosts; empty on
	// a host without tenant networking (the recorded one is then kept).
	UnderlayIP string `json:"underlay_ip,omitempty"`
}

// HeartbeatResponse tells the agent its host's state and when to report again.
type HeartbeatResponse struct {
	HostID           string `json:"host_id"`
	State            string `json:"state"`
	HeartbeatSeconds int    `json:"heartbeat_seconds"`
}

// joinPrefix marks a join token and its format version.
const joinPrefix = "SJT1"

// JoinToken is what an operator hands to a new host: the one-time secret and
// the fingerprint of the control plane's certificate, which the agent pins
// (as kubeadm's discovery-token-ca-cert-hash does) so no CA is needed.
type JoinToken struct {
	Secret      string
	Fingerprint string // "sha256:<hex>"
}

// String encodes the token as SJT1.<secret>.<hex fingerprint>.
func (t JoinToken) String() string {
	return joinPrefix + "." + t.Secret + "." + strings.TrimPrefix(t.Fingerprint, "sha256:")
}

// ParseJoinToken decodes a token made by JoinToken.String.
func ParseJoinToken(s string) (JoinToken, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) != 3 || parts[0] != joinPrefix || parts[1] == "" || len(parts[2]) != 64 {
		return JoinToken{}, errors.New("not a Sirocco join token (want SJT1.<secret>.<fingerprint>, from 'sirocco host add')")
	}
	return JoinToken{Secret: parts[1], Fingerprint: "sha256:" + strings.ToLower(parts[2])}, nil
}

// PathSync is the agent's reconcile call: it reports what runs on the host
// and receives what should, long-polling until something changes.
const PathSync = "/api/agent/v1/sync"

// PathImageFile serves a catalog image's file to an agent's cache:
// GET PathImageFile + "/{image}/{file}" (file: disk, kernel or initrd).
const PathImageFile = "/api/agent/v1/images"

// PathConsole is where an agent connects, by WebSocket, the serial console a
// client asked for: GET PathConsole + "/{session}".
const PathConsole = "/api/agent/v1/console"

// SyncRequest reports the host's observed state. Generation is the host
// generation of the last SyncResponse the agent applied; with Wait set, the
// control plane holds the answer (up to about 25 s) until the host's desired
// state has moved past it or a console is asked for.
type SyncRequest struct {
	Protocol   int          `json:"protocol"`
	Generation int64        `json:"generation"`
	Wait       bool         `json:"wait"`
	VMs        []ObservedVM `json:"vms"`
	// Images are the image IDs in the host's verified cache.
	Images []string `json:"images"`
	// Disks are the data disks whose files the host has.
	Disks []ObservedDisk `json:"disks,omitempty"`
}

// ObservedDisk is a data disk file on the host.
type ObservedDisk struct {
	ID      string `json:"id"`
	SizeGiB int64  `json:"size_gib"`
}

// ObservedVM is one VM as the host sees it.
type ObservedVM struct {
	ID string `json:"id"`
	// State is one of the api.VM* states the host can report: creating,
	// starting, running, stopping, stopped, error. A VM the host does not
	// have is simply absent.
	State string `json:"state"`
	// Message says what the host is doing or, in state error, what failed.
	Message string `json:"message,omitempty"`
	// Generation is the VM's desired generation the host has finished
	// applying (successfully or in error).
	Generation int64    `json:"generation"`
	Snapshots  []string `json:"snapshots"`
	// TxBytes is the VM's egress counter: bytes it sent through its NICs
	// (their taps' receive counters). Zero when it has no NIC. Resets are
	// expected (a restarted VM gets a new tap).
	TxBytes   int64 `json:"tx_bytes,omitempty"`
	VCPU      int   `json:"vcpu"`
	MemoryMiB int64 `json:"memory_mib"`
	DiskGiB   int64 `json:"disk_gib"`
}

// SyncResponse is the desired state of every VM placed on the host.
type SyncResponse struct {
	Generation int64            `json:"generation"`
	VMs        []DesiredVM      `json:"vms"`
	Networks   []DesiredNetwork `json:"networks,omitempty"`
	Uplinks    []PublicUplink   `json:"uplinks,omitempty"`
	Consoles   []ConsoleReq     `json:"consoles,omitempty"`
	// Disks are every data disk bound to the host, attached or not. The
	// host creates the missing ones, grows smaller ones and removes the
	// file of one marked Deleted, then stops reporting it. A file the list
	// does not name is kept (and logged): the host never guesses a deletion.
	Disks []DesiredDisk `json:"disks,omitempty"`
}

// DesiredDisk is a data disk a host keeps.
type DesiredDisk struct {
	ID      string `json:"id"`
	SizeGiB int64  `json:"size_gib"`
	Deleted bool   `json:"deleted,omitempty"`
}

// DesiredVM is what a VM should be. Power is running, stopped or deleted
// (delete it, then stop reporting it). Generation rises on every change; the
// one-shot actions (reboot, forced power-off, revert) apply when their
// generation is above the one the host last applied for the VM.
type DesiredVM struct {
	ID         string   `json:"id"`
	Generation int64    `json:"generation"`
	Power      string   `json:"power" enum:"running,stopped,deleted"`
	Name       string   `json:"name"`
	Hostname   string   `json:"hostname"`
	VCPU       int      `json:"vcpu"`
	MemoryMiB  int64    `json:"memory_mib"`
	DiskGiB    int64    `json:"disk_gib"`
	Image      Image    `json:"image"`
	SSHKeys    []string `json:"ssh_keys,omitempty"`
	UserData   string   `json:"user_data,omitempty"`
	// Snapshots that should exist on the root disk; others are deleted.
	Snapshots []string `json:"snapshots"`
	// NICs in order; the first is the VM's primary interface.
	NICs []DesiredNIC `json:"nics,omitempty"`
	// Disks are the IDs of the data disks attached, in order (they are
	// also in SyncResponse.Disks). Attachment changes only while stopped.
	Disks []string `json:"disks,omitempty"`
	// StopTimeoutSeconds bounds a graceful stop before the VM is forced off.
	StopTimeoutSeconds int    `json:"stop_timeout_seconds"`
	RebootAt           int64  `json:"reboot_at,omitempty"`
	ForceOffAt         int64  `json:"force_off_at,omitempty"`
	RevertAt           int64  `json:"revert_at,omitempty"`
	RevertTo           string `json:"revert_to,omitempty"`
}

// Image is what a host needs to fetch and verify an image for its cache.
type Image struct {
	ID      string      `json:"id"`
	Kind    string      `json:"kind"` // api.ImageKindDisk or api.ImageKindKernel
	Cmdline string      `json:"cmdline,omitempty"`
	Files   []ImageFile `json:"files"`
}

// ImageFile is one file of an Image, fetched from PathImageFile.
type ImageFile struct {
	Name   string `json:"name"` // api.ImageFileDisk, ImageFileKernel or ImageFileInitrd
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// ConsoleReq asks the agent to connect VM's serial console to session.
type ConsoleReq struct {
	Session string `json:"session"`
	VM      string `json:"vm"`
}

// DesiredNetwork is a tenant network a host must carry because VMs on it
// run there: a bridge, a VXLAN segment to Peers (the other hosts' underlay
// addresses) and a router namespace with the gateway, DHCP and NAT.
type DesiredNetwork struct {
	ID      string   `json:"id"`
	VNI     int      `json:"vni"`
	CIDR    string   `json:"cidr"`
	Gateway string   `json:"gateway"`
	DNS     []string `json:"dns,omitempty"`
	MTU     int      `json:"mtu"`
	Peers   []string `json:"peers"`
	// Leases are the static DHCP leases of every NIC on the network.
	Leases []Lease `json:"leases"`
}

// Lease is one NIC's address.
type Lease struct {
	MAC      string `json:"mac"`
	IP       string `json:"ip"`
	Hostname string `json:"hostname,omitempty"`
}

// DesiredNIC is a VM's interface on a network.
type DesiredNIC struct {
	Network string         `json:"network"` // DesiredNetwork.ID
	MAC     string         `json:"mac"`
	IP      string         `json:"ip"`
	Rules   []FirewallRule `json:"rules,omitempty"`
	// PublicIP is the public address 1:1 NATed to IP, if any.
	PublicIP string `json:"public_ip,omitempty"`
}

// FirewallRule allows traffic to (ingress) or from (egress) a NIC.
type FirewallRule struct {
	Direction string `json:"direction"` // ingress or egress
	Protocol  string `json:"protocol"`  // tcp, udp, icmp or any
	PortFrom  int    `json:"port_from,omitempty"`
	PortTo    int    `json:"port_to,omitempty"`
	CIDR      string `json:"cidr"`
}

// PublicUplink is how a host reaches the provider's external network for a
// region's public addresses.
type PublicUplink struct {
	Prefix  string `json:"prefix"`  // the pool's CIDR
	Gateway string `json:"gateway"` // its gateway
	Uplink  string `json:"uplink"`  // the host interface on that network
}
