"""The generic CRUD engine (seed 001): declare a `Resource`, get validated,
paginated, filterable, hookable, optimistically-locked routes — produced in the
five roles (a handler per route, a workflow per outcome, a store for SQL)."""
