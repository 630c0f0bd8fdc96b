"""The API request log's mechanism: an in-memory buffer on the request path, a writer off it (decision 034)."""

from emporium.platform.requestlog.buffer import RawRequest, RequestLogBuffer
from emporium.platform.requestlog.writer import RequestLogWriter, RequestRecord, to_records

__all__ = ["RawRequest", "RequestLogBuffer", "RequestLogWriter", "RequestRecord", "to_records"]
