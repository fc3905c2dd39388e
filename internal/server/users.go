package server

func (s *Server) userRoutes() {}
