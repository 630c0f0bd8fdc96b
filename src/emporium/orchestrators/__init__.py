"""Orchestrators: processes that span several workflows (checkout, ...). Flow only, no rules, no transactions."""
