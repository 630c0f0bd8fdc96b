"""HTTP edge machinery: problem details, request context, health."""
