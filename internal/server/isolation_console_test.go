package server

// consoleIsolationRules classifies this feature's operations for the isolation matrix.
func consoleIsolationRules() []isoRule {
	return nil
}
