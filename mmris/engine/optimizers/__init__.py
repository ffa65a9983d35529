from .caris_constructor import CARISOptimWrapperConstructor, caris_group

__all__ = ['CARISOptimWrapperConstructor', 'caris_group']
