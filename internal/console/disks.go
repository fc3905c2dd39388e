package console

import (
	"errors"
	"strconv"
	"strings"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

// diskRoutes registers the data disk pages (from networkRoutes).
func (c *Console) diskRoutes() {
	const o = "/console/o/{org}"
	c.mux.Handle("GET "+o+"/disks", c.tenant(c.disks))
	c.mux.Handle("POST "+o+"/disks", c.tenant(c.createDisk))
	c.mux.Handle("POST "+o+"/disks/{disk}/attach", c.tenant(c.attachDisk))
	c.mux.Handle("POST "+o+"/disks/{disk}/detach", c.tenant(c.detachDisk))
	c.mux.Handle("POST "+o+"/disks/{disk}/grow", c.tenant(c.growDisk))
	c.mux.Handle("POST "+o+"/disks/{disk}/delete", c.tenant(c.deleteDisk))
}

type disksData struct {
	Disks []diskRow
	// VMs are the VMs a disk may be attached to; the API accepts only
	// stopped ones of the disk's VDC, and says so.
	VMs  []api.VM
	VDCs []api.VDC
	// GiBHour is the price of one GiB for an hour, empty when the provider
	// has not priced the first VDC's region.
	GiBHour  string
	Currency string
	CanEdit  bool
}

type diskRow struct {
	api.Disk
	VMPath string
	// MinGrow is the smallest size the disk may grow to.
	MinGrow int64
}

func (c *Console) disksData(v *visit) (*disksData, error) {
	ctx := v.r.Context()
	d := &disksData{CanEdit: netWritable(v)}
	disks, err := netCollect(v.api.AllDisks(ctx, v.org.Org, client.DiskListOptions{}))
	if err != nil {
		return nil, err
	}
	for _, k := range disks {
		row := diskRow{Disk: k, MinGrow: k.SizeGiB + 1}
		if k.VM != "" {
			row.VMPath = v.orgPath("vms/%s", k.VM)
		}
		d.Disks = append(d.Disks, row)
	}
	if d.VMs, err = netCollect(v.api.AllVMs(ctx, v.org.Org, client.VMListOptions{})); err != nil {
		return nil, err
	}
	if d.VDCs, err = netCollect(v.api.AllVDCs(ctx, v.org.Org, client.ListOptions{})); err != nil {
		return nil, err
	}
	if len(d.VDCs) > 0 {
		one := int64(1)
		q, err := v.api.Quote(ctx, v.org.Org, api.QuoteRequest{VDC: d.VDCs[0].ID, DiskGiB: &one})
		if err == nil {
			for _, l := range q.Lines {
				if l.Meter == "disk" {
					d.GiBHour, d.Currency = l.UnitPrice, q.Currency
				}
			}
		} else if _, ok := errors.AsType[*api.Error](err); !ok {
			return nil, err
		}
	}
	return d, nil
}

func (c *Console) disks(v *visit) error {
	v.view.Area = "disks"
	d, err := c.disksData(v)
	if err != nil {
		return err
	}
	return v.render("disk-list", d)
}

// diskFailed shows the disks page again with a failed action's error.
func (c *Console) diskFailed(v *visit, err error) error {
	d, derr := c.disksData(v)
	if derr != nil {
		return derr
	}
	return v.formError("disk-list", d, err)
}

// diskSize reads a size in GiB from the form.
func diskSize(s, field string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 1 {
		return 0, netFormValueError(field, "%q is not a size: give a whole number of GiB, at least 1", s)
	}
	return n, nil
}

func (c *Console) createDisk(v *visit) error {
	v.view.Area = "disks"
	f := v.form()
	size, err := diskSize(f.Get("size_gib"), "size_gib")
	var k *api.Disk
	if err == nil {
		k, err = v.api.CreateDisk(v.r.Context(), v.org.Org, api.DiskCreate{Name: strings.TrimSpace(f.Get("name")), VDC: f.Get("vdc"), SizeGiB: size})
	}
	if err != nil {
		return c.diskFailed(v, netFieldError(err, map[string]string{api.CodeAlreadyExists: "name", api.CodeQuotaExceeded: "size_gib"}))
	}
	return v.redirect(v.orgPath("disks"), "Disk "+k.Name+" created ("+strconv.FormatInt(k.SizeGiB, 10)+" GiB). It is charged until you delete it.")
}

func (c *Console) attachDisk(v *visit) error {
	v.view.Area = "disks"
	k, err := v.api.AttachDisk(v.r.Context(), v.org.Org, v.r.PathValue("disk"), api.DiskAttach{VM: v.form().Get("vm")})
	if err != nil {
		return c.diskFailed(v, netRowError(v, err))
	}
	return v.redirect(v.orgPath("disks"), "Disk "+k.Name+" attached to "+k.VMName+": the guest sees it at its next start.")
}

func (c *Console) detachDisk(v *visit) error {
	v.view.Area = "disks"
	k, err := v.api.DetachDisk(v.r.Context(), v.org.Org, v.r.PathValue("disk"))
	if err != nil {
		return c.diskFailed(v, netRowError(v, err))
	}
	return v.redirect(v.orgPath("disks"), "Disk "+k.Name+" detached. It keeps its data.")
}

func (c *Console) growDisk(v *visit) error {
	v.view.Area = "disks"
	size, err := diskSize(v.form().Get("size_gib"), "size_gib")
	var k *api.Disk
	if err == nil {
		k, err = v.api.UpdateDisk(v.r.Context(), v.org.Org, v.r.PathValue("disk"), api.DiskUpdate{SizeGiB: &size})
	}
	if err != nil {
		return c.diskFailed(v, netRowError(v, err))
	}
	return v.redirect(v.orgPath("disks"), "Disk "+k.Name+" is now "+strconv.FormatInt(k.SizeGiB, 10)+" GiB: grow its file system from inside the guest.")
}

func (c *Console) deleteDisk(v *visit) error {
	v.view.Area = "disks"
	disk := v.r.PathValue("disk")
	if err := v.api.DeleteDisk(v.r.Context(), v.org.Org, disk); err != nil {
		return c.diskFailed(v, netRowError(v, err))
	}
	return v.redirect(v.orgPath("disks"), "Disk deleted.")
}
