package server

func (s *Server) vdcRoutes() {}
