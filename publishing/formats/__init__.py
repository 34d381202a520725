"""The file formats of a release. Each writer reads `publishing.published` and shares only `publishing.files`."""
