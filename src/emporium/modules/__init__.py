"""Business modules. Each owns a PostgreSQL schema and talks to the others only through `api.py` and `events.py`."""
