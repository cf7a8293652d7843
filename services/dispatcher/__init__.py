"""services/dispatcher."""
