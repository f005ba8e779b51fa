"""The JSON API under /api/v1: bearer tokens, one error shape, pagination, OpenAPI."""
