"""The integration API (/api/v1): bearer tokens, JSON bodies, problem details, the OpenAPI document."""
