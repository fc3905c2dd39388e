package server

func (s *Server) identityRoutes() {}
