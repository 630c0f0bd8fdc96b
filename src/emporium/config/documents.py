"""Settings of documents: where invoices, credit notes and packing slips are stored, and their download links."""

from __future__ import annotations

from emporium.config.forms import boolean, choice, http_url, integer, text
from emporium.config.setting import Setting, setting

SETTINGS: tuple[Setting, ...] = (
    setting(
        "DOCUMENTS_STORAGE",
        "documents_storage",
        "filesystem",
        "Where invoices, credit notes and packing slips are kept: `filesystem` (under `DATA_DIR/documents`) or `s3`.",
        choice("filesystem", "s3"),
    ),
    setting(
        "DOCUMENTS_S3_BUCKET", "documents_s3_bucket", "", "S3 bucket of the documents (DOCUMENTS_STORAGE=s3).", text()
    ),
    setting("DOCUMENTS_S3_REGION", "documents_s3_region", "us-east-1", "AWS region of the documents bucket.", text()),
    setting(
        "DOCUMENTS_S3_ENDPOINT_URL",
        "documents_s3_endpoint_url",
        "",
        "Endpoint of an S3-compatible server (MinIO, ...). Empty: AWS.",
        http_url(),
    ),
    setting(
        "DOCUMENTS_S3_PATH_STYLE",
        "documents_s3_path_style",
        "false",
        "Address the bucket in the path (`host/bucket/key`), not the host name; most S3-compatible servers need it.",
        boolean(),
    ),
    setting(
        "DOCUMENTS_S3_ACCESS_KEY_ID",
        "documents_s3_access_key_id",
        "",
        "Access key for the documents bucket. Empty: the standard AWS credential chain (an IAM role on Lambda).",
        text(),
    ),
    setting(
        "DOCUMENTS_S3_SECRET_ACCESS_KEY",
        "documents_s3_secret_access_key",
        "",
        "Secret key paired with DOCUMENTS_S3_ACCESS_KEY_ID.",
        text(),
        secret=True,
    ),
    setting(
        "DOCUMENTS_LINK_TTL",
        "documents_link_ttl",
        "300",
        "Seconds a download link (S3 presigned URL or the app's own signed link) stays valid.",
        integer(10, 604_800),
    ),
    setting(
        "DOCUMENTS_LINK_SECRET",
        "documents_link_secret",
        "",
        "HMAC secret of the app's own download links (filesystem storage). Empty: one generated in "
        "`DATA_DIR/documents/.link-secret`.",
        text(32),
        secret=True,
    ),
)
