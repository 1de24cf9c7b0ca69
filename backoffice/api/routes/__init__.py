"""API routers, one package or module per business area, one router module per resource."""
