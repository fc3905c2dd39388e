package server

// consoleIsolationRules classifies this feature's operations for the isolation matrix.
func consoleIsolationRules() []isoRule {
	return []isoRule{
		{op: "get-forecast", kind: isoOrg},
		{op: "get-revenue", kind: isoProvider, queries: []string{"", "from=2026-01&to=2026-12"}},
	}
}
