package server

func (s *Server) sizeRoutes() {}
