// Package api holds the wire types of Sirocco's REST API (/api/v1), shared by
// the server, the Go SDK, the CLI and the console, and the one error type every
// failure is reported with.
//
// Create, update and read types are separate: a Region is what the API shows,
// a RegionCreate what a client sends to make one, a RegionUpdate the fields a
// client may change. Store rows never go on the wire.
package api
