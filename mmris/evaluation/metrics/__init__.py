from .ris_metric import RISMetric  # noqa: F401
