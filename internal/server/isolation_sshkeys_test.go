package server

// sshKeyIsolationRules classifies this feature's operations for the isolation matrix.
func sshKeyIsolationRules() []isoRule {
	return nil
}
