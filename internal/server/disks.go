package server

// diskRoutes registers the endpoints of this file.
func (s *Server) diskRoutes() {}
