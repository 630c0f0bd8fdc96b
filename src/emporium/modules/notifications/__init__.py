"""Notifications: email, SMS and webhooks to the endpoints each org manages."""
