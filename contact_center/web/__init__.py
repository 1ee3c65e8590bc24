"""HTTP plumbing shared by every feature: app keys, endpoint declarations, middlewares, health, metrics."""
