"""Catalog: products, categories, inventory (stock that cannot oversell), cached reads."""
