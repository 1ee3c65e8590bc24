"""Users, teams, skills and the audit log of administrative actions."""
