"""The audit log (seed 002's API logs): who did what to which target, with which result.

Successful writes are recorded by their workflow in the same transaction as
the change (`store.record`); refused or failed mutating requests are recorded
afterwards by `middleware.AuditFailuresMiddleware` in a transaction of their own.
"""
