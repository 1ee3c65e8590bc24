"""The application's side of routing: the engine of this process, its configuration and its events."""
