"""Oversight: feature flag settings and the API request log, what operators and owners watch and switch."""
