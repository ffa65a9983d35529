from .caris_head import CARISHead

__all__ = ['CARISHead']
