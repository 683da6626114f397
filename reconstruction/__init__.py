"""reconstruction stage of GeoGen (see README.md)."""
