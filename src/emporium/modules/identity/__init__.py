"""Identity: orgs (tenants), users, roles and permissions, API keys, authentication."""
