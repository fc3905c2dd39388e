package server

// diskIsolationRules classifies this feature's operations for the isolation matrix.
func diskIsolationRules() []isoRule {
	return nil
}
