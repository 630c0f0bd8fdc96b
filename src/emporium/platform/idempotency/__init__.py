"""Idempotency keys (DESIGN rule 9, the IETF httpapi Idempotency-Key draft).

A key is *claimed* inside the transaction of the effect it protects, so the
claim exists exactly when the effect committed; a concurrent request with the
same key waits on the unique index and then sees the claim. The final status
and body are stored once the request finishes, and replayed byte for byte.
"""
