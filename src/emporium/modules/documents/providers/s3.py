"""S3 storage through aioboto3, with SigV4 presigned GET links for downloads.

The client is created on first use and kept (one connection pool per process, reused across Lambda
invocations); `close` releases it. Credentials come from the settings when given, else from the
standard AWS chain (an IAM role on Lambda/ECS/EC2).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from emporium.modules.documents.providers.storage import StoredObject


@dataclass(frozen=True, slots=True)
class S3Settings:
    bucket: str
    region: str = "us-east-1"
    endpoint_url: str | None = None  # None: AWS; else an S3-compatible server (MinIO, moto, ...)
    access_key_id: str | None = None
    secret_access_key: str | None = None
    path_style: bool = False


class S3Storage:
    def __init__(self, settings: S3Settings) -> None:
        # Imported here, not with the app: aioboto3/botocore cost ~0.4 s of import that a process on
        # filesystem storage (the default) should not pay.
        import aioboto3

        self.settings = settings
        self._session = aioboto3.Session(
            aws_access_key_id=settings.access_key_id,
            aws_secret_access_key=settings.secret_access_key,
            region_name=settings.region,
        )
        self._stack: AsyncExitStack | None = None
        self._client: Any = None
        self._lock = asyncio.Lock()

    async def client(self) -> Any:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    from botocore.config import Config as BotoConfig

                    stack = AsyncExitStack()
                    config = BotoConfig(
                        signature_version="s3v4",
                        s3={"addressing_style": "path" if self.settings.path_style else "auto"},
                        retries={"max_attempts": 3, "mode": "standard"},
                    )
                    self._client = await stack.enter_async_context(
                        self._session.client("s3", endpoint_url=self.settings.endpoint_url, config=config)
                    )
                    self._stack = stack
        return self._client

    async def put(self, key: str, body: bytes, content_type: str) -> StoredObject:
        digest = hashlib.sha256(body).digest()
        client = await self.client()
        # S3 checks the body against the checksum and refuses a corrupted upload.
        await client.put_object(
            Bucket=self.settings.bucket,
            Key=key,
            Body=body,
            ContentType=content_type,
            ChecksumSHA256=base64.b64encode(digest).decode(),
        )
        return StoredObject(key, len(body), digest.hex())

    async def get(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        client = await self.client()
        try:
            response = await client.get_object(Bucket=self.settings.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                return None
            raise
        async with response["Body"] as stream:
            body: bytes = await stream.read()
        return body

    async def download_url(self, key: str, filename: str, expires_in: int) -> str:
        client = await self.client()
        url: str = await client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.settings.bucket,
                "Key": key,
                "ResponseContentType": "application/pdf",
                "ResponseContentDisposition": f'attachment; filename="{filename}"',
            },
            ExpiresIn=expires_in,
        )
        return url

    async def close(self) -> None:
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.aclose()
