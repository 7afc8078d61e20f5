"""Model weights: the manifest that pins every file's bytes, and the sync that copies them into a region's bucket."""
