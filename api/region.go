package api

// Region is a geographic location with one legal jurisdiction, holding zones.
type Region struct {
	Meta
	Name         string `json:"name" example:"au-syd"`
	DisplayName  string `json:"display_name,omitempty"`
	Jurisdiction string `json:"jurisdiction" doc:"ISO 3166-1 alpha-2 country code whose law governs data here" example:"AU"`
}

// RegionCreate defines a new region. Its name is also its ID.
type RegionCreate struct {
	Name         string `json:"name" pattern:"^[a-z][a-z0-9-]{1,30}[a-z0-9]$" example:"au-syd"`
	DisplayName  string `json:"display_name,omitempty" maxLength:"100"`
	Jurisdiction string `json:"jurisdiction" pattern:"^[A-Z]{2}$" example:"AU"`
	Labels       Labels `json:"labels,omitempty"`
}

// RegionUpdate changes a region. The jurisdiction cannot change: data placed
// under one law does not move to another by an edit.
type RegionUpdate struct {
	DisplayName *string `json:"display_name,omitempty" maxLength:"100"`
	Labels      *Labels `json:"labels,omitempty"`
}

// Zone is a failure domain inside a region, holding hosts.
type Zone struct {
	Meta
	Name         string `json:"name" example:"au-syd-1a"`
	Region       string `json:"region" example:"au-syd"`
	Jurisdiction string `json:"jurisdiction" doc:"The region's jurisdiction" example:"AU"`
	DisplayName  string `json:"display_name,omitempty"`
}

// ZoneCreate defines a new zone. Its name is also its ID.
type ZoneCreate struct {
	Name        string `json:"name" pattern:"^[a-z][a-z0-9-]{1,30}[a-z0-9]$" example:"au-syd-1a"`
	Region      string `json:"region"`
	DisplayName string `json:"display_name,omitempty" maxLength:"100"`
	Labels      Labels `json:"labels,omitempty"`
}

// ZoneUpdate changes a zone.
type ZoneUpdate struct {
	DisplayName *string `json:"display_name,omitempty" maxLength:"100"`
	Labels      *Labels `json:"labels,omitempty"`
}
