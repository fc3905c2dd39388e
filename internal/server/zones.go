package server

func (s *Server) zoneRoutes() {}
