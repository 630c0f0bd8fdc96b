"""Authentication (who is calling) and authorization (may they): Principal, Perm, auth_gate."""
