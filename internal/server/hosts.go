package server

func (s *Server) hostRoutes() {}
