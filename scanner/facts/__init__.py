"""Facts: typed observations with exact locations, no opinions."""
