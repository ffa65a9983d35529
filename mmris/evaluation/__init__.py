from .metrics import RISMetric  # noqa: F401
