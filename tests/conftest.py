"""Shared test settings: offline, small profile, a private cache per test session."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HARDNEG_PROFILE", "smoke")
