"""One module per wire protocol; each is the only importer of its SDK."""
