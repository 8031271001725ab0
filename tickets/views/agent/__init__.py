"""The agent workspace (staff only): queue, ticket page, saved views and the live fragments they refresh."""
