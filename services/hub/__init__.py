"""services/hub."""
