"""services/sandbox."""
