"""Alembic revisions for every module's schema (run through `emporium migrate`)."""
