package api

import "time"

// Error codes of the network endpoints.
const (
	CodeNetworkOverlap = "network_overlap" // the CIDR overlaps another network of the VDC (409)
	CodeInUse          = "in_use"          // NICs or addresses still use the object (409)
	CodeNetworkFull    = "network_full"    // no free address left on the network (409)
	CodeAddressInUse   = "address_in_use"  // the fixed address is another NIC's (409)
	CodeNoPublicIPs    = "no_public_ips"   // the region's pools have no free address (409)
)

// Network is an isolated L2 segment of a VDC with a subnet, a gateway and
// DHCP. Networks of different VDCs and tenants may use the same CIDR.
type Network struct {
	Meta
	Org     string   `json:"org"`
	VDC     string   `json:"vdc"`
	Region  string   `json:"region"`
	Name    string   `json:"name"`
	CIDR    string   `json:"cidr"`
	Gateway string   `json:"gateway"`
	DNS     []string `json:"dns,omitempty" doc:"DNS servers handed out by DHCP"`
	MTU     int      `json:"mtu" doc:"Interface MTU inside the VMs: 1450 leaves room for VXLAN in a 1500-byte underlay"`
	State   string   `json:"state" enum:"ready"`
}

// NetworkCreate makes a network in a VDC.
type NetworkCreate struct {
	Name    string   `json:"name" pattern:"^[a-z0-9][a-z0-9-]{0,38}[a-z0-9]$|^[a-z0-9]$"`
	VDC     string   `json:"vdc,omitempty" doc:"VDC ID or name; may be omitted when the organisation has exactly one"`
	CIDR    string   `json:"cidr" maxLength:"18" doc:"IPv4 subnet, /16 to /29, e.g. 10.0.0.0/24; must not overlap another network of the VDC"`
	Gateway string   `json:"gateway,omitempty" format:"ipv4" doc:"Default: the first host address"`
	DNS     []string `json:"dns,omitempty" maxItems:"4" doc:"IPv4 DNS servers for DHCP"`
	Labels  Labels   `json:"labels,omitempty"`
}

// PublicIPPool is a provider's range of public addresses in a region, on
// the external network hosts reach through Uplink.
type PublicIPPool struct {
	Meta
	Name      string `json:"name"`
	Region    string `json:"region"`
	CIDR      string `json:"cidr"`
	Gateway   string `json:"gateway"`
	FirstIP   string `json:"first_ip"`
	LastIP    string `json:"last_ip"`
	Uplink    string `json:"uplink" doc:"Host interface on the external network"`
	Allocated int    `json:"allocated" doc:"Addresses held by organisations"`
}

// PublicIPPoolCreate defines a pool.
type PublicIPPoolCreate struct {
	Name    string `json:"name" pattern:"^[a-z0-9][a-z0-9-]{0,62}$"`
	Region  string `json:"region"`
	CIDR    string `json:"cidr" maxLength:"18" doc:"The external subnet, e.g. 203.0.113.0/24"`
	Gateway string `json:"gateway" format:"ipv4" doc:"The external network's router; never handed out"`
	FirstIP string `json:"first_ip,omitempty" format:"ipv4" doc:"Default: the subnet's first host address"`
	LastIP  string `json:"last_ip,omitempty" format:"ipv4" doc:"Default: the subnet's last host address"`
	Uplink  string `json:"uplink" pattern:"^[a-zA-Z0-9._-]{1,15}$" doc:"Host interface on the external network, e.g. eth1"`
}

// PublicIP is a public address held by an organisation, attached to a VM's
// NIC (1:1 NAT) or free. It is charged from allocation to release.
type PublicIP struct {
	Meta
	Org       string `json:"org"`
	VDC       string `json:"vdc"`
	Region    string `json:"region"`
	Address   string `json:"address"`
	VM        string `json:"vm,omitempty" doc:"ID of the VM it is attached to"`
	MAC       string `json:"mac,omitempty" doc:"MAC address of the NIC it is attached to"`
	PrivateIP string `json:"private_ip,omitempty" doc:"Address of that NIC, which the public address is translated to"`
}

// PublicIPAllocate takes a public address from the VDC's region.
type PublicIPAllocate struct {
	VDC string `json:"vdc,omitempty" doc:"VDC ID or name; may be omitted when the organisation has exactly one"`
}

// PublicIPAttach attaches a public address to a VM, running or stopped.
type PublicIPAttach struct {
	VM  string `json:"vm" doc:"VM ID or name"`
	NIC string `json:"nic,omitempty" doc:"The NIC: its MAC address or its network's ID or name; default the VM's first NIC"`
}

// Firewall rule directions and protocols.
const (
	DirectionIngress = "ingress"
	DirectionEgress  = "egress"
)

// FirewallRule allows traffic to (ingress) or from (egress) a VM. Ingress
// from outside the VM's networks is denied unless a rule allows it; egress
// is open until the VM has an egress rule, then only what rules allow.
type FirewallRule struct {
	ID          string    `json:"id"`
	VM          string    `json:"vm"`
	Direction   string    `json:"direction" enum:"ingress,egress"`
	Protocol    string    `json:"protocol" enum:"tcp,udp,icmp,any"`
	PortFrom    int       `json:"port_from,omitempty"`
	PortTo      int       `json:"port_to,omitempty"`
	CIDR        string    `json:"cidr" doc:"Source (ingress) or destination (egress) addresses"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// FirewallRuleCreate adds a rule to a VM. Ports apply to tcp and udp only;
// port_to defaults to port_from, and no ports means every port.
type FirewallRuleCreate struct {
	Direction   string `json:"direction" enum:"ingress,egress"`
	Protocol    string `json:"protocol" enum:"tcp,udp,icmp,any"`
	PortFrom    int    `json:"port_from,omitempty" minimum:"0" maximum:"65535"`
	PortTo      int    `json:"port_to,omitempty" minimum:"0" maximum:"65535"`
	CIDR        string `json:"cidr,omitempty" maxLength:"18" default:"0.0.0.0/0" doc:"IPv4 CIDR; default everywhere"`
	Description string `json:"description,omitempty" maxLength:"200"`
}
