package server

func (s *Server) providerRoutes() {}
