"""Payments: provider port, sandbox and Stripe adapters, payments, captures, voids, refunds, provider webhooks."""
