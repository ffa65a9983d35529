
from .data_preprocessor import RISDataPreprocessor  # noqa: F401
