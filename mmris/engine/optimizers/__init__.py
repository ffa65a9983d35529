from .autocast_wrapper import AutocastOptimWrapper, cpu_has_native_bf16
from .caris_constructor import CARISOptimWrapperConstructor, caris_group
from .skip_nonfinite import SkipNonFiniteOptimWrapper

__all__ = [
    'AutocastOptimWrapper', 'CARISOptimWrapperConstructor',
    'SkipNonFiniteOptimWrapper', 'caris_group', 'cpu_has_native_bf16'
]
