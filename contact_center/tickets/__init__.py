"""Tickets: the workflow (a state machine), and in time SLAs, escalation tiers and notifications."""
