"""One controller per resource of API.md."""
