"""Reporting: an event-fed read model (sales, products, payment outcomes) in a store of its own."""
