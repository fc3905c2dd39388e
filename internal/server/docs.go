package server

func (s *Server) docsRoutes() {}
