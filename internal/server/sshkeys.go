package server

// sshKeyRoutes registers the endpoints of this file.
func (s *Server) sshKeyRoutes() {}
