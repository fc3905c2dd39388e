package server

// reportRoutes registers the endpoints of this file.
func (s *Server) reportRoutes() {}
