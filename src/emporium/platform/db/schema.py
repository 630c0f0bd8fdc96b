"""Table-definition conventions shared by every module.

Each module owns one PostgreSQL schema (named in its manifest) and declares its
tables on a MetaData created here, so constraint names are predictable (Alembic can drop and alter
them by name) and every module's tables end up in one registry for migrations.
"""

from __future__ import annotations

from sqlalchemy import MetaData

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# One MetaData for the whole application; tables are qualified by module schema.
metadata = MetaData(naming_convention=NAMING_CONVENTION)
