"""The `relais` command: runs the whole system locally and administers it (tokens, …)."""
