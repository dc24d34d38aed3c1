"""The REST API of contacts and accounts, and what every app's API shares: permissions,
the JSON parser, the filter set base and the error responses."""
