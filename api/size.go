package api

// Size (flavour) is a VM shape from the provider's catalog.
type Size struct {
	Meta
	Name        string `json:"name" example:"s1.small"`
	Description string `json:"description,omitempty"`
	VCPU        int    `json:"vcpu"`
	MemoryMiB   int64  `json:"memory_mib"`
	DiskGiB     int64  `json:"disk_gib" doc:"Root disk size"`
	PriceClass  string `json:"price_class,omitempty" example:"standard"`
	Deprecated  bool   `json:"deprecated" doc:"Deprecated sizes stay on existing VMs but are not offered for new ones"`
}

// SizeCreate adds a size to the catalog. Its name is also its ID.
type SizeCreate struct {
	Name        string `json:"name" pattern:"^[a-z0-9][a-z0-9.-]{0,62}$" example:"s1.small"`
	Description string `json:"description,omitempty" maxLength:"500"`
	VCPU        int    `json:"vcpu" minimum:"1" maximum:"512"`
	MemoryMiB   int64  `json:"memory_mib" minimum:"64" maximum:"16777216"`
	DiskGiB     int64  `json:"disk_gib" minimum:"1" maximum:"65536"`
	PriceClass  string `json:"price_class,omitempty" maxLength:"50"`
	Labels      Labels `json:"labels,omitempty"`
}

// SizeUpdate changes a size. Its shape is fixed once created; deprecate it and
// add another instead.
type SizeUpdate struct {
	Description *string `json:"description,omitempty" maxLength:"500"`
	PriceClass  *string `json:"price_class,omitempty" maxLength:"50"`
	Deprecated  *bool   `json:"deprecated,omitempty"`
	Labels      *Labels `json:"labels,omitempty"`
}
