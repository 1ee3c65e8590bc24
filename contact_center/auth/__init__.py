"""Authentication (passwords, sessions, tokens) and authorisation by role."""
