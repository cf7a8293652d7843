"""services/federation."""
