"""Demo data: a realistic, reproducible CRM to try segments on.

Faker is slow per call, so it fills small pools once; a seeded ``random.Random``
then picks from them. Rows go in one chunk of contacts at a time, with their
interactions and list memberships, so memory stays flat whatever the size. The
same seed and the same ``now`` give the same data.
"""

from .catalog import DemoError
from .seed import demo_data_flush, demo_data_seed, demo_prepare, demo_superuser_ensure

__all__ = [
    "DemoError",
    "demo_data_flush",
    "demo_data_seed",
    "demo_prepare",
    "demo_superuser_ensure",
]
