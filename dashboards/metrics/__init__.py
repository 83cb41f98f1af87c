"""The metrics query engine: Langfuse's `{view, dimensions, metrics, filters, timeDimension, …}`
queries answered in SQL on PostgreSQL and SQLite alike (dashboards/METRICS.md)."""
