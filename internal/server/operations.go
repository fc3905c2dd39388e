package server

func (s *Server) operationRoutes() {}
