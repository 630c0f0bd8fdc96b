"""Create and drop throwaway databases on the test PostgreSQL server."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import asyncpg


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


class DatabaseServer:
    def __init__(self, url: str) -> None:
        self.url = asyncpg_dsn(url)

    def url_for(self, name: str) -> str:
        return _with_database(self.url, name)

    async def create_database(self, name: str) -> str:
        conn = await asyncpg.connect(self.url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.url_for(name)

    async def drop_database(self, name: str) -> None:
        conn = await asyncpg.connect(self.url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
