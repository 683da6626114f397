"""benchmark stage of GeoGen (see README.md)."""
