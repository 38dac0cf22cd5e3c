"""HTTP services over the library: thin FastAPI apps (the admission webhook; the REST API
follows)."""
