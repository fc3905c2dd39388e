package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sirocco-cloud/sirocco/client"
)

// Data sources of the catalog: sirocco_images, sirocco_sizes and
// sirocco_zones. Each lists everything the caller may use, so a
// configuration can pick by name or attribute with a for expression.

// images

type imagesDataSource struct{ c *configured }

func newImagesDataSource() datasource.DataSource { return &imagesDataSource{} }

type imagesModel struct {
	Org    types.String `tfsdk:"org"`
	Images []imageModel `tfsdk:"images"`
}

type imageModel struct {
	ID         types.String `tfsdk:"id"`
	Name       types.String `tfsdk:"name"`
	OS         types.String `tfsdk:"os"`
	Kind       types.String `tfsdk:"kind"`
	State      types.String `tfsdk:"state"`
	MinDiskGiB types.Int64  `tfsdk:"min_disk_gib"`
	Public     types.Bool   `tfsdk:"public"`
}

func (d *imagesDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_images"
}

func (d *imagesDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Images a VM can boot: the organisation's private images, then the public catalog.",
		Attributes: map[string]schema.Attribute{
			"org": schema.StringAttribute{
				Optional:    true,
				Description: "Organisation whose private images to list too. Default: the provider's org; without one, only the public catalog.",
			},
			"images": schema.ListNestedAttribute{
				Computed: true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"id":           schema.StringAttribute{Computed: true},
					"name":         schema.StringAttribute{Computed: true},
					"os":           schema.StringAttribute{Computed: true},
					"kind":         schema.StringAttribute{Computed: true, Description: "disk or kernel."},
					"state":        schema.StringAttribute{Computed: true, Description: "Only available images can boot."},
					"min_disk_gib": schema.Int64Attribute{Computed: true},
					"public":       schema.BoolAttribute{Computed: true, Description: "Whether it is from the public catalog."},
				}},
			},
		},
	}
}

func (d *imagesDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.c = configuredFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *imagesDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m imagesModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || !requireClient(d.c, &resp.Diagnostics) {
		return
	}
	m.Images = []imageModel{}
	org := m.Org.ValueString()
	if org == "" {
		org = d.c.org
	}
	if org != "" {
		for img, err := range d.c.client.AllImages(ctx, org, client.ListOptions{}) {
			if err != nil {
				resp.Diagnostics.AddError("Cannot list the images of "+org, err.Error())
				return
			}
			m.Images = append(m.Images, imageModel{
				ID: types.StringValue(img.ID), Name: types.StringValue(img.Name), OS: types.StringValue(img.OS),
				Kind: types.StringValue(img.Kind), State: types.StringValue(img.State),
				MinDiskGiB: types.Int64Value(img.MinDiskGiB), Public: types.BoolValue(false),
			})
		}
	}
	for img, err := range d.c.client.AllPublicImages(ctx, client.ListOptions{}) {
		if err != nil {
			resp.Diagnostics.AddError("Cannot list the public images", err.Error())
			return
		}
		m.Images = append(m.Images, imageModel{
			ID: types.StringValue(img.ID), Name: types.StringValue(img.Name), OS: types.StringValue(img.OS),
			Kind: types.StringValue(img.Kind), State: types.StringValue(img.State),
			MinDiskGiB: types.Int64Value(img.MinDiskGiB), Public: types.BoolValue(true),
		})
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// sizes

type sizesDataSource struct{ c *configured }

func newSizesDataSource() datasource.DataSource { return &sizesDataSource{} }

type sizesModel struct {
	IncludeDeprecated types.Bool  `tfsdk:"include_deprecated"`
	Sizes             []sizeModel `tfsdk:"sizes"`
}

type sizeModel struct {
	ID         types.String `tfsdk:"id"`
	Name       types.String `tfsdk:"name"`
	VCPU       types.Int64  `tfsdk:"vcpu"`
	MemoryMiB  types.Int64  `tfsdk:"memory_mib"`
	DiskGiB    types.Int64  `tfsdk:"disk_gib"`
	PriceClass types.String `tfsdk:"price_class"`
	Deprecated types.Bool   `tfsdk:"deprecated"`
}

func (d *sizesDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_sizes"
}

func (d *sizesDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "VM sizes of the provider's catalog.",
		Attributes: map[string]schema.Attribute{
			"include_deprecated": schema.BoolAttribute{
				Optional:    true,
				Description: "List sizes no longer offered for new VMs too. Default: false.",
			},
			"sizes": schema.ListNestedAttribute{
				Computed: true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"id":          schema.StringAttribute{Computed: true},
					"name":        schema.StringAttribute{Computed: true},
					"vcpu":        schema.Int64Attribute{Computed: true},
					"memory_mib":  schema.Int64Attribute{Computed: true},
					"disk_gib":    schema.Int64Attribute{Computed: true},
					"price_class": schema.StringAttribute{Computed: true},
					"deprecated":  schema.BoolAttribute{Computed: true},
				}},
			},
		},
	}
}

func (d *sizesDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.c = configuredFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *sizesDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m sizesModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || !requireClient(d.c, &resp.Diagnostics) {
		return
	}
	m.Sizes = []sizeModel{}
	opts := client.SizeListOptions{ExcludeDeprecated: !m.IncludeDeprecated.ValueBool()}
	for s, err := range d.c.client.AllSizes(ctx, opts) {
		if err != nil {
			resp.Diagnostics.AddError("Cannot list sizes", err.Error())
			return
		}
		m.Sizes = append(m.Sizes, sizeModel{
			ID: types.StringValue(s.ID), Name: types.StringValue(s.Name), VCPU: types.Int64Value(int64(s.VCPU)),
			MemoryMiB: types.Int64Value(s.MemoryMiB), DiskGiB: types.Int64Value(s.DiskGiB),
			PriceClass: types.StringValue(s.PriceClass), Deprecated: types.BoolValue(s.Deprecated),
		})
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// zones

type zonesDataSource struct{ c *configured }

func newZonesDataSource() datasource.DataSource { return &zonesDataSource{} }

type zonesModel struct {
	Region types.String `tfsdk:"region"`
	Zones  []zoneModel  `tfsdk:"zones"`
}

type zoneModel struct {
	ID           types.String `tfsdk:"id"`
	Name         types.String `tfsdk:"name"`
	Region       types.String `tfsdk:"region"`
	Jurisdiction types.String `tfsdk:"jurisdiction"`
	DisplayName  types.String `tfsdk:"display_name"`
}

func (d *zonesDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_zones"
}

func (d *zonesDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Zones a VDC can be made in.",
		Attributes: map[string]schema.Attribute{
			"region": schema.StringAttribute{Optional: true, Description: "Only this region's zones."},
			"zones": schema.ListNestedAttribute{
				Computed: true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"id":           schema.StringAttribute{Computed: true},
					"name":         schema.StringAttribute{Computed: true},
					"region":       schema.StringAttribute{Computed: true},
					"jurisdiction": schema.StringAttribute{Computed: true, Description: "Country code whose law governs data there."},
					"display_name": schema.StringAttribute{Computed: true},
				}},
			},
		},
	}
}

func (d *zonesDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.c = configuredFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *zonesDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m zonesModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || !requireClient(d.c, &resp.Diagnostics) {
		return
	}
	m.Zones = []zoneModel{}
	for z, err := range d.c.client.AllZones(ctx, client.ZoneListOptions{Region: m.Region.ValueString()}) {
		if err != nil {
			resp.Diagnostics.AddError("Cannot list zones", err.Error())
			return
		}
		m.Zones = append(m.Zones, zoneModel{
			ID: types.StringValue(z.ID), Name: types.StringValue(z.Name), Region: types.StringValue(z.Region),
			Jurisdiction: types.StringValue(z.Jurisdiction), DisplayName: types.StringValue(z.DisplayName),
		})
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
