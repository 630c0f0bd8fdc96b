"""Wiring: the list of module manifests and what the application builds from them."""
