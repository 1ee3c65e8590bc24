"""The contact centre application core: settings, storage, customers, auth, API and CLI."""

__version__ = "0.1.0"
