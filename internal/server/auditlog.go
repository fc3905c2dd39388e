package server

func (s *Server) auditRoutes() {}
