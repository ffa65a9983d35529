from .caris_constructor import CARISOptimWrapperConstructor, caris_group
from .skip_nonfinite import SkipNonFiniteOptimWrapper

__all__ = [
    'CARISOptimWrapperConstructor', 'SkipNonFiniteOptimWrapper', 'caris_group'
]
