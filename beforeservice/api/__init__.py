"""The HTTP API: the app, its problems, docs and one module per resource."""
