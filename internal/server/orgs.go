package server

func (s *Server) orgRoutes() {}
