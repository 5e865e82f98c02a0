"""Request and response models of the REST API (``XCreate`` in, ``XPublic`` out)."""
