"""dataset stage of GeoGen (see README.md)."""
