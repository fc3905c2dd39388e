package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/sirocco-cloud/sirocco/internal/ipam"
)

// NetworkReady is a network's state from creation on: networks are created
// and deleted in the API's transaction; hosts build them when a VM on them
// lands there.
const NetworkReady = "ready"

// FirstVNI is the VXLAN segment ID of the first network. Lower IDs are left
// to the operator's own segments.
const FirstVNI = 1000

// DefaultMTU fits a VXLAN-encapsulated frame into a 1500-byte underlay.
const DefaultMTU = 1450

// Network is a stored tenant network: an L2 segment of a VDC.
type Network struct {
	Meta
	OrgID   string
	VDCID   string
	Name    string
	CIDR    string
	Gateway string
	DNS     []string
	VNI     int
	MTU     int
	State   string

	// Filled in on read from the VDC.
	VDCName  string
	RegionID string
}

// NetworkFilter narrows ListNetworks; empty fields match every network.
type NetworkFilter struct {
	OrgID string
	VDCID string
}

const networkCols = `t.id, t.org_id, t.vdc_id, t.name, t.cidr, t.gateway, t.dns, t.vni, t.mtu, t.state, t.version, t.created_at, t.updated_at,
	d.name, z.region_id`

const networkFrom = ` FROM networks t JOIN vdcs d ON d.id = t.vdc_id JOIN zones z ON z.id = d.zone_id`

func scanNetwork(sc interface{ Scan(...any) error }) (Network, error) {
	var n Network
	var created, updated Time
	err := sc.Scan(&n.ID, &n.OrgID, &n.VDCID, &n.Name, &n.CIDR, &n.Gateway, jsonScan{&n.DNS}, &n.VNI, &n.MTU, &n.State,
		&n.Version, &created, &updated, &n.VDCName, &n.RegionID)
	n.CreatedAt, n.UpdatedAt = created.Time, updated.Time
	return n, mapErr(err)
}

// CreateNetwork stores a new network with the next free VNI (one above the
// highest in use, from FirstVNI), MTU DefaultMTU unless set, in state
// ready. ErrConflict if the VDC has a network of that name or the VDC does
// not exist. Overlap checks are the caller's: they are policy, not
// integrity.
func (tx *Tx) CreateNetwork(ctx context.Context, n *Network) error {
	n.created(tx.Now())
	if n.State == "" {
		n.State = NetworkReady
	}
	if n.MTU == 0 {
		n.MTU = DefaultMTU
	}
	// Reading the maximum in the same (serializable) transaction makes two
	// concurrent creates collide and retry rather than share a VNI; the
	// UNIQUE constraint is the backstop.
	if err := tx.queryRow(ctx, `SELECT COALESCE(MAX(vni), $1) + 1 FROM networks`, FirstVNI-1).Scan(&n.VNI); err != nil {
		return fmt.Errorf("allocate vni: %w", mapErr(err))
	}
	_, err := tx.exec(ctx, `INSERT INTO networks (id, org_id, vdc_id, name, cidr, gateway, dns, vni, mtu, state, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		n.ID, n.OrgID, n.VDCID, n.Name, n.CIDR, n.Gateway, jsonText{nonNil(n.DNS)}, n.VNI, n.MTU, n.State, n.Version,
		ts(n.CreatedAt), ts(n.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create network %s: %w", n.Name, err)
	}
	return tx.setLabels(ctx, "network", n.ID, n.Labels)
}

// GetNetwork reads a network of organisation orgID by ID or by name; one of
// another organisation is ErrNotFound. Names are unique per VDC; should two
// VDCs of the organisation use one name, the older network is returned.
func (tx *Tx) GetNetwork(ctx context.Context, orgID, idOrName string) (*Network, error) {
	col := "t.name"
	if IsID(idOrName) {
		col = "t.id"
	}
	return tx.getNetwork(ctx, idOrName, ` WHERE t.org_id = $1 AND `+col+` = $2 ORDER BY t.id LIMIT 1`, orgID, idOrName)
}

// GetNetworkByID reads a network by ID whatever its organisation (agents'
// desired state).
func (tx *Tx) GetNetworkByID(ctx context.Context, id string) (*Network, error) {
	return tx.getNetwork(ctx, id, ` WHERE t.id = $1`, id)
}

func (tx *Tx) getNetwork(ctx context.Context, what, cond string, args ...any) (*Network, error) {
	n, err := scanNetwork(tx.queryRow(ctx, `SELECT `+networkCols+networkFrom+cond, args...))
	if err != nil {
		return nil, fmt.Errorf("network %s: %w", what, err)
	}
	return &n, tx.loadLabels(ctx, "network", []string{n.ID}, func(_ string, l map[string]string) { n.Labels = l })
}

// ListNetworks lists networks by ID (creation order).
func (tx *Tx) ListNetworks(ctx context.Context, f NetworkFilter, p Page) ([]Network, string, error) {
	var w where
	if f.OrgID != "" {
		w.add("t.org_id = ?", f.OrgID)
	}
	if f.VDCID != "" {
		w.add("t.vdc_id = ?", f.VDCID)
	}
	tail, err := w.page("network", p)
	if err != nil {
		return nil, "", err
	}
	rows, err := tx.query(ctx, `SELECT `+networkCols+networkFrom+w.String()+tail, w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list networks: %w", err)
	}
	out, err := collect(rows, scanNetwork)
	if err != nil {
		return nil, "", err
	}
	out, next := trimPage(out, p, func(n Network) string { return n.ID })
	return out, next, attachLabels(ctx, tx, "network", out, func(n *Network) *Meta { return &n.Meta })
}

// DeleteNetwork removes a network and its labels. ErrConflict while NICs
// use it.
func (tx *Tx) DeleteNetwork(ctx context.Context, id string) error {
	nics, err := tx.ListNICsByNetwork(ctx, id)
	if err != nil {
		return err
	}
	if len(nics) > 0 {
		return fmt.Errorf("delete network %s: %d NICs use it: %w", id, len(nics), ErrConflict)
	}
	if err := expectOne(tx.exec(ctx, `DELETE FROM networks WHERE id = $1`, id)); err != nil {
		return fmt.Errorf("delete network %s: %w", id, err)
	}
	return tx.deleteLabels(ctx, "network", id)
}

// NIC is a VM's interface on a network.
type NIC struct {
	ID        string
	VMID      string
	NetworkID string
	Position  int
	MAC       string
	IP        string
	CreatedAt time.Time

	// Filled in on read.
	NetworkName string
	VMName      string
	Hostname    string // the VM's
	HostID      string // the VM's host
	PublicIP    string // the address attached to the NIC, if any
}

const nicCols = `t.id, t.vm_id, t.network_id, t.position, t.mac, t.ip, t.created_at, n.name, v.name, v.hostname, v.host_id,
	COALESCE((SELECT MIN(p.address) FROM public_ips p WHERE p.nic_id = t.id), '')`

const nicFrom = ` FROM nics t JOIN networks n ON n.id = t.network_id JOIN vms v ON v.id = t.vm_id`

func scanNIC(sc interface{ Scan(...any) error }) (NIC, error) {
	var n NIC
	var created Time
	err := sc.Scan(&n.ID, &n.VMID, &n.NetworkID, &n.Position, &n.MAC, &n.IP, &created, &n.NetworkName, &n.VMName, &n.Hostname,
		&n.HostID, &n.PublicIP)
	n.CreatedAt = created.Time
	return n, mapErr(err)
}

// CreateNIC stores a VM's interface. ErrConflict if the MAC, the address on
// the network or the VM's position is taken.
func (tx *Tx) CreateNIC(ctx context.Context, n *NIC) error {
	if n.ID == "" {
		n.ID = NewID()
	}
	n.CreatedAt = tx.Now()
	_, err := tx.exec(ctx, `INSERT INTO nics (id, vm_id, network_id, position, mac, ip, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		n.ID, n.VMID, n.NetworkID, n.Position, n.MAC, n.IP, ts(n.CreatedAt))
	if err != nil {
		return fmt.Errorf("create nic %s: %w", n.MAC, err)
	}
	return nil
}

// GetNIC reads one NIC.
func (tx *Tx) GetNIC(ctx context.Context, id string) (*NIC, error) {
	n, err := scanNIC(tx.queryRow(ctx, `SELECT `+nicCols+nicFrom+` WHERE t.id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("nic %s: %w", id, err)
	}
	return &n, nil
}

// ListNICsByVM lists a VM's NICs in order.
func (tx *Tx) ListNICsByVM(ctx context.Context, vmID string) ([]NIC, error) {
	return tx.listNICs(ctx, `t.vm_id = $1 ORDER BY t.position`, vmID)
}

// HostNICs lists the NICs of every VM placed on a host, by VM ID, each
// VM's in position order: one query for the agent sync.
func (tx *Tx) HostNICs(ctx context.Context, hostID string) (map[string][]NIC, error) {
	all, err := tx.listNICs(ctx, `v.host_id = $1 ORDER BY t.vm_id, t.position`, hostID)
	if err != nil {
		return nil, err
	}
	out := map[string][]NIC{}
	for _, c := range all {
		out[c.VMID] = append(out[c.VMID], c)
	}
	return out, nil
}

// ListNICsByNetwork lists the NICs on a network by address.
func (tx *Tx) ListNICsByNetwork(ctx context.Context, networkID string) ([]NIC, error) {
	out, err := tx.listNICs(ctx, `t.network_id = $1 ORDER BY t.id`, networkID)
	slices.SortFunc(out, func(a, b NIC) int { return compareAddr(a.IP, b.IP) })
	return out, err
}

func (tx *Tx) listNICs(ctx context.Context, cond string, arg string) ([]NIC, error) {
	rows, err := tx.query(ctx, `SELECT `+nicCols+nicFrom+` WHERE `+cond, arg)
	if err != nil {
		return nil, fmt.Errorf("list nics: %w", err)
	}
	return collect(rows, scanNIC)
}

// compareAddr orders addresses numerically (10.0.0.9 before 10.0.0.10).
func compareAddr(a, b string) int {
	pa, ea := netip.ParseAddr(a)
	pb, eb := netip.ParseAddr(b)
	if ea != nil || eb != nil {
		return 0
	}
	return pa.Compare(pb)
}

// DeleteNIC removes a NIC; a public address attached to it is detached.
func (tx *Tx) DeleteNIC(ctx context.Context, id string) error {
	if _, err := tx.exec(ctx, `UPDATE public_ips SET nic_id = '', version = version + 1, updated_at = $2 WHERE nic_id = $1`, id, ts(tx.Now())); err != nil {
		return fmt.Errorf("detach public ip of nic %s: %w", id, err)
	}
	if err := expectOne(tx.exec(ctx, `DELETE FROM nics WHERE id = $1`, id)); err != nil {
		return fmt.Errorf("delete nic %s: %w", id, err)
	}
	return nil
}

// NewNICMAC returns a MAC address (ipam.NewMAC) that no NIC uses yet.
func (tx *Tx) NewNICMAC(ctx context.Context) (string, error) {
	for range 16 {
		mac, err := ipam.NewMAC(rand.Reader)
		if err != nil {
			return "", err
		}
		var n int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM nics WHERE mac = $1`, mac).Scan(&n); err != nil {
			return "", fmt.Errorf("check mac %s: %w", mac, mapErr(err))
		}
		if n == 0 {
			return mac, nil
		}
	}
	return "", errors.New("no unused MAC address found in 16 tries")
}

// PublicIPPool is a provider's range of public addresses in a region.
type PublicIPPool struct {
	Meta
	RegionID string
	Name     string
	CIDR     string
	Gateway  string
	FirstIP  string
	LastIP   string
	Uplink   string

	// Allocated counts the pool's addresses held by organisations (on read).
	Allocated int
}

const poolCols = `t.id, t.region_id, t.name, t.cidr, t.gateway, t.first_ip, t.last_ip, t.uplink, t.version, t.created_at, t.updated_at,
	(SELECT COUNT(*) FROM public_ips p WHERE p.pool_id = t.id)`

func scanPool(sc interface{ Scan(...any) error }) (PublicIPPool, error) {
	var p PublicIPPool
	var created, updated Time
	err := sc.Scan(&p.ID, &p.RegionID, &p.Name, &p.CIDR, &p.Gateway, &p.FirstIP, &p.LastIP, &p.Uplink, &p.Version, &created, &updated, &p.Allocated)
	p.CreatedAt, p.UpdatedAt = created.Time, updated.Time
	return p, mapErr(err)
}

// CreatePublicIPPool stores a pool. ErrConflict if the name is taken or the
// region does not exist.
func (tx *Tx) CreatePublicIPPool(ctx context.Context, p *PublicIPPool) error {
	p.created(tx.Now())
	_, err := tx.exec(ctx, `INSERT INTO public_ip_pools (id, region_id, name, cidr, gateway, first_ip, last_ip, uplink, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		p.ID, p.RegionID, p.Name, p.CIDR, p.Gateway, p.FirstIP, p.LastIP, p.Uplink, p.Version, ts(p.CreatedAt), ts(p.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create public ip pool %s: %w", p.Name, err)
	}
	return nil
}

// GetPublicIPPool reads a pool by ID or name.
func (tx *Tx) GetPublicIPPool(ctx context.Context, idOrName string) (*PublicIPPool, error) {
	col := "t.name"
	if IsID(idOrName) {
		col = "t.id"
	}
	p, err := scanPool(tx.queryRow(ctx, `SELECT `+poolCols+` FROM public_ip_pools t WHERE `+col+` = $1`, idOrName))
	if err != nil {
		return nil, fmt.Errorf("public ip pool %s: %w", idOrName, err)
	}
	return &p, nil
}

// ListPublicIPPools lists pools by ID, of one region when regionID is set.
func (tx *Tx) ListPublicIPPools(ctx context.Context, regionID string, pg Page) ([]PublicIPPool, string, error) {
	var w where
	if regionID != "" {
		w.add("t.region_id = ?", regionID)
	}
	pg.Labels = nil // pools carry no labels
	tail, err := w.page("public-ip-pool", pg)
	if err != nil {
		return nil, "", err
	}
	rows, err := tx.query(ctx, `SELECT `+poolCols+` FROM public_ip_pools t`+w.String()+tail, w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list public ip pools: %w", err)
	}
	out, err := collect(rows, scanPool)
	if err != nil {
		return nil, "", err
	}
	out, next := trimPage(out, pg, func(p PublicIPPool) string { return p.ID })
	return out, next, nil
}

// DeletePublicIPPool removes a pool. ErrConflict while any of its addresses
// is allocated.
func (tx *Tx) DeletePublicIPPool(ctx context.Context, id string) error {
	var n int
	if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM public_ips WHERE pool_id = $1`, id).Scan(&n); err != nil {
		return fmt.Errorf("count addresses of pool %s: %w", id, mapErr(err))
	}
	if n > 0 {
		return fmt.Errorf("delete public ip pool %s: %d addresses allocated: %w", id, n, ErrConflict)
	}
	if err := expectOne(tx.exec(ctx, `DELETE FROM public_ip_pools WHERE id = $1`, id)); err != nil {
		return fmt.Errorf("delete public ip pool %s: %w", id, err)
	}
	return nil
}

// PublicIP is a public address allocated to an organisation, attached to a
// NIC or free.
type PublicIP struct {
	Meta
	PoolID   string
	RegionID string
	Address  string
	OrgID    string
	VDCID    string
	NICID    string

	// Filled in on read from the attached NIC, if any.
	VMID      string
	HostID    string
	PrivateIP string
	MAC       string
	VDCName   string
}

// PublicIPFilter narrows ListPublicIPs; empty fields match every address.
type PublicIPFilter struct {
	OrgID  string
	VDCID  string
	PoolID string
}

const publicIPCols = `t.id, t.pool_id, t.region_id, t.address, t.org_id, t.vdc_id, t.nic_id, t.version, t.created_at, t.updated_at,
	COALESCE(n.vm_id, ''), COALESCE(v.host_id, ''), COALESCE(n.ip, ''), COALESCE(n.mac, ''), COALESCE(d.name, '')`

const publicIPFrom = ` FROM public_ips t LEFT JOIN nics n ON n.id = t.nic_id LEFT JOIN vms v ON v.id = n.vm_id LEFT JOIN vdcs d ON d.id = t.vdc_id`

func scanPublicIP(sc interface{ Scan(...any) error }) (PublicIP, error) {
	var p PublicIP
	var created, updated Time
	err := sc.Scan(&p.ID, &p.PoolID, &p.RegionID, &p.Address, &p.OrgID, &p.VDCID, &p.NICID, &p.Version, &created, &updated,
		&p.VMID, &p.HostID, &p.PrivateIP, &p.MAC, &p.VDCName)
	p.CreatedAt, p.UpdatedAt = created.Time, updated.Time
	return p, mapErr(err)
}

// AllocatePublicIP gives p.OrgID the lowest free address of the first pool
// of region p.RegionID (pools in creation order) that has one, and stores
// it. An error wrapping ipam.ErrExhausted when no pool of the region has a
// free address.
func (tx *Tx) AllocatePublicIP(ctx context.Context, p *PublicIP) error {
	pools, _, err := tx.ListPublicIPPools(ctx, p.RegionID, Page{Limit: MaxLimit})
	if err != nil {
		return err
	}
	for _, pool := range pools {
		addr, err := tx.nextPoolAddress(ctx, &pool)
		if errors.Is(err, ipam.ErrExhausted) {
			continue
		}
		if err != nil {
			return err
		}
		p.created(tx.Now())
		p.PoolID, p.Address, p.NICID = pool.ID, addr.String(), ""
		_, err = tx.exec(ctx, `INSERT INTO public_ips (id, pool_id, region_id, address, org_id, vdc_id, nic_id, version, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			p.ID, p.PoolID, p.RegionID, p.Address, p.OrgID, p.VDCID, p.NICID, p.Version, ts(p.CreatedAt), ts(p.UpdatedAt))
		if err != nil {
			return fmt.Errorf("allocate public ip %s: %w", p.Address, err)
		}
		return nil
	}
	return fmt.Errorf("region %s: %d pools: %w", p.RegionID, len(pools), ipam.ErrExhausted)
}

// nextPoolAddress is the lowest address of a pool's range that is neither
// allocated nor its gateway.
func (tx *Tx) nextPoolAddress(ctx context.Context, pool *PublicIPPool) (netip.Addr, error) {
	first, err1 := netip.ParseAddr(pool.FirstIP)
	last, err2 := netip.ParseAddr(pool.LastIP)
	gw, err3 := netip.ParseAddr(pool.Gateway)
	if err := errors.Join(err1, err2, err3); err != nil {
		return netip.Addr{}, fmt.Errorf("pool %s: %w", pool.Name, err)
	}
	rows, err := tx.query(ctx, `SELECT address FROM public_ips WHERE pool_id = $1`, pool.ID)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("addresses of pool %s: %w", pool.Name, err)
	}
	used, err := collect(rows, func(sc interface{ Scan(...any) error }) (netip.Addr, error) {
		var s string
		if err := sc.Scan(&s); err != nil {
			return netip.Addr{}, err
		}
		return netip.ParseAddr(s)
	})
	if err != nil {
		return netip.Addr{}, err
	}
	return ipam.NextInRange(first, last, append(used, gw))
}

// GetPublicIP reads an address of organisation orgID by ID or by the
// address itself; one of another organisation is ErrNotFound.
func (tx *Tx) GetPublicIP(ctx context.Context, orgID, idOrAddress string) (*PublicIP, error) {
	col := "t.address"
	if IsID(idOrAddress) {
		col = "t.id"
	}
	p, err := scanPublicIP(tx.queryRow(ctx, `SELECT `+publicIPCols+publicIPFrom+` WHERE t.org_id = $1 AND `+col+` = $2`, orgID, idOrAddress))
	if err != nil {
		return nil, fmt.Errorf("public ip %s: %w", idOrAddress, err)
	}
	return &p, nil
}

// ListPublicIPs lists addresses by ID (allocation order).
func (tx *Tx) ListPublicIPs(ctx context.Context, f PublicIPFilter, pg Page) ([]PublicIP, string, error) {
	var w where
	if f.OrgID != "" {
		w.add("t.org_id = ?", f.OrgID)
	}
	if f.VDCID != "" {
		w.add("t.vdc_id = ?", f.VDCID)
	}
	if f.PoolID != "" {
		w.add("t.pool_id = ?", f.PoolID)
	}
	pg.Labels = nil // addresses carry no labels
	tail, err := w.page("public-ip", pg)
	if err != nil {
		return nil, "", err
	}
	rows, err := tx.query(ctx, `SELECT `+publicIPCols+publicIPFrom+w.String()+tail, w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list public ips: %w", err)
	}
	out, err := collect(rows, scanPublicIP)
	if err != nil {
		return nil, "", err
	}
	out, next := trimPage(out, pg, func(p PublicIP) string { return p.ID })
	return out, next, nil
}

// CountPublicIPs counts the addresses a VDC holds (its quota).
func (tx *Tx) CountPublicIPs(ctx context.Context, vdcID string) (int, error) {
	var n int
	if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM public_ips WHERE vdc_id = $1`, vdcID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count public ips of vdc %s: %w", vdcID, mapErr(err))
	}
	return n, nil
}

// AttachPublicIP points p at NIC nicID ("" detaches it) and bumps its
// version. ErrConflict if the NIC already has another address.
func (tx *Tx) AttachPublicIP(ctx context.Context, p *PublicIP, nicID string) error {
	if nicID != "" {
		var n int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM public_ips WHERE nic_id = $1 AND id <> $2`, nicID, p.ID).Scan(&n); err != nil {
			return fmt.Errorf("check nic %s: %w", nicID, mapErr(err))
		}
		if n > 0 {
			return fmt.Errorf("nic %s already has a public address: %w", nicID, ErrConflict)
		}
	}
	p.updated(tx.Now())
	p.NICID = nicID
	err := expectOne(tx.exec(ctx, `UPDATE public_ips SET nic_id = $2, version = $3, updated_at = $4 WHERE id = $1`,
		p.ID, p.NICID, p.Version, ts(p.UpdatedAt)))
	if err != nil {
		return fmt.Errorf("attach public ip %s: %w", p.Address, err)
	}
	return nil
}

// DetachPublicIP frees p from its NIC.
func (tx *Tx) DetachPublicIP(ctx context.Context, p *PublicIP) error {
	return tx.AttachPublicIP(ctx, p, "")
}

// DetachVMPublicIPs frees every address attached to a NIC of a VM (before
// the VM goes: NICs cascade with it, addresses stay with the organisation)
// and returns how many there were.
func (tx *Tx) DetachVMPublicIPs(ctx context.Context, vmID string) (int, error) {
	res, err := tx.exec(ctx, `UPDATE public_ips SET nic_id = '', version = version + 1, updated_at = $2
		WHERE nic_id IN (SELECT id FROM nics WHERE vm_id = $1)`, vmID, ts(tx.Now()))
	if err != nil {
		return 0, fmt.Errorf("detach public ips of vm %s: %w", vmID, err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// DetachOrgPublicIPs frees every attached address of an organisation (on
// suspension) and returns the hosts whose NAT rules change, to bump and
// kick.
func (tx *Tx) DetachOrgPublicIPs(ctx context.Context, orgID string) ([]string, error) {
	rows, err := tx.query(ctx, `SELECT DISTINCT v.host_id FROM public_ips t JOIN nics n ON n.id = t.nic_id JOIN vms v ON v.id = n.vm_id
		WHERE t.org_id = $1 ORDER BY v.host_id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("hosts of organisation %s's public ips: %w", orgID, err)
	}
	hosts, err := collect(rows, func(sc interface{ Scan(...any) error }) (string, error) {
		var h string
		return h, sc.Scan(&h)
	})
	if err != nil {
		return nil, err
	}
	if _, err := tx.exec(ctx, `UPDATE public_ips SET nic_id = '', version = version + 1, updated_at = $2 WHERE org_id = $1 AND nic_id <> ''`,
		orgID, ts(tx.Now())); err != nil {
		return nil, fmt.Errorf("detach public ips of organisation %s: %w", orgID, err)
	}
	return hosts, nil
}

// ReleasePublicIP deletes an address: it goes back to its pool.
func (tx *Tx) ReleasePublicIP(ctx context.Context, id string) error {
	if err := expectOne(tx.exec(ctx, `DELETE FROM public_ips WHERE id = $1`, id)); err != nil {
		return fmt.Errorf("release public ip %s: %w", id, err)
	}
	return nil
}

// Firewall rule directions and protocols.
const (
	DirectionIngress = "ingress"
	DirectionEgress  = "egress"
)

// FirewallRule allows traffic to (ingress) or from (egress) a VM.
type FirewallRule struct {
	ID          string
	OrgID       string
	VMID        string
	Direction   string
	Protocol    string
	PortFrom    int
	PortTo      int
	CIDR        string
	Description string
	CreatedAt   time.Time
}

const ruleCols = `t.id, t.org_id, t.vm_id, t.direction, t.protocol, t.port_from, t.port_to, t.cidr, t.description, t.created_at`

func scanRule(sc interface{ Scan(...any) error }) (FirewallRule, error) {
	var r FirewallRule
	var created Time
	err := sc.Scan(&r.ID, &r.OrgID, &r.VMID, &r.Direction, &r.Protocol, &r.PortFrom, &r.PortTo, &r.CIDR, &r.Description, &created)
	r.CreatedAt = created.Time
	return r, mapErr(err)
}

// CreateFirewallRule stores a rule of a VM.
func (tx *Tx) CreateFirewallRule(ctx context.Context, r *FirewallRule) error {
	if r.ID == "" {
		r.ID = NewID()
	}
	if r.CIDR == "" {
		r.CIDR = "0.0.0.0/0"
	}
	r.CreatedAt = tx.Now()
	_, err := tx.exec(ctx, `INSERT INTO firewall_rules (id, org_id, vm_id, direction, protocol, port_from, port_to, cidr, description, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		r.ID, r.OrgID, r.VMID, r.Direction, r.Protocol, r.PortFrom, r.PortTo, r.CIDR, r.Description, ts(r.CreatedAt))
	if err != nil {
		return fmt.Errorf("create firewall rule: %w", err)
	}
	return nil
}

// GetFirewallRule reads a rule of VM vmID.
func (tx *Tx) GetFirewallRule(ctx context.Context, vmID, id string) (*FirewallRule, error) {
	r, err := scanRule(tx.queryRow(ctx, `SELECT `+ruleCols+` FROM firewall_rules t WHERE t.vm_id = $1 AND t.id = $2`, vmID, id))
	if err != nil {
		return nil, fmt.Errorf("firewall rule %s: %w", id, err)
	}
	return &r, nil
}

// ListFirewallRules lists a VM's rules in creation order.
func (tx *Tx) ListFirewallRules(ctx context.Context, vmID string) ([]FirewallRule, error) {
	rows, err := tx.query(ctx, `SELECT `+ruleCols+` FROM firewall_rules t WHERE t.vm_id = $1 ORDER BY t.id`, vmID)
	if err != nil {
		return nil, fmt.Errorf("firewall rules of vm %s: %w", vmID, err)
	}
	return collect(rows, scanRule)
}

// HostFirewallRules lists the rules of every VM placed on a host, by VM
// ID: one query for the agent sync.
func (tx *Tx) HostFirewallRules(ctx context.Context, hostID string) (map[string][]FirewallRule, error) {
	rows, err := tx.query(ctx, `SELECT `+ruleCols+` FROM firewall_rules t JOIN vms v ON v.id = t.vm_id
		WHERE v.host_id = $1 ORDER BY t.vm_id, t.id`, hostID)
	if err != nil {
		return nil, fmt.Errorf("firewall rules on host %s: %w", hostID, err)
	}
	all, err := collect(rows, scanRule)
	if err != nil {
		return nil, err
	}
	out := map[string][]FirewallRule{}
	for _, r := range all {
		out[r.VMID] = append(out[r.VMID], r)
	}
	return out, nil
}

// DeleteFirewallRule removes a rule.
func (tx *Tx) DeleteFirewallRule(ctx context.Context, id string) error {
	if err := expectOne(tx.exec(ctx, `DELETE FROM firewall_rules WHERE id = $1`, id)); err != nil {
		return fmt.Errorf("delete firewall rule %s: %w", id, err)
	}
	return nil
}

// HostUnderlayIPs reads the VXLAN underlay address of each host named
// (hosts without one are left out).
func (tx *Tx) HostUnderlayIPs(ctx context.Context, hostIDs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, id := range hostIDs {
		var ip string
		err := tx.queryRow(ctx, `SELECT underlay_ip FROM hosts WHERE id = $1`, id).Scan(&ip)
		if err != nil {
			return nil, fmt.Errorf("underlay address of host %s: %w", id, mapErr(err))
		}
		if ip != "" {
			out[id] = ip
		}
	}
	return out, nil
}

// SetHostUnderlayIP records the address a host's agent uses for VXLAN.
func (tx *Tx) SetHostUnderlayIP(ctx context.Context, hostID, ip string) error {
	if err := expectOne(tx.exec(ctx, `UPDATE hosts SET underlay_ip = $2 WHERE id = $1`, hostID, ip)); err != nil {
		return fmt.Errorf("set underlay address of host %s: %w", hostID, err)
	}
	return nil
}

// HostRegion reads the region of a host's zone.
func (tx *Tx) HostRegion(ctx context.Context, hostID string) (string, error) {
	var r string
	err := tx.queryRow(ctx, `SELECT z.region_id FROM hosts h JOIN zones z ON z.id = h.zone_id WHERE h.id = $1`, hostID).Scan(&r)
	if err != nil {
		return "", fmt.Errorf("region of host %s: %w", hostID, mapErr(err))
	}
	return r, nil
}
