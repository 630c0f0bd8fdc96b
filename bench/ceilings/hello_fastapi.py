"""Ceiling 2: the framework's hello world. FastAPI, one route, no middleware, on the same Granian settings."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/")
async def hello() -> dict[str, str]:
    return {"hello": "world"}


@app.get("/v1/products/{product_id}")
async def product(product_id: str) -> dict[str, str]:
    return {"id": product_id}
