"""Builders of the shipped datasets (``data/*``).

They run in a separate build environment (see ``data/build.sh``) and use only the standard
library plus the package they read, so the rebuild is byte for byte reproducible.
"""
