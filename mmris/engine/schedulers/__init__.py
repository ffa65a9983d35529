from .warmup_poly import WarmupPolyLR, WarmupPolyParamScheduler

__all__ = ['WarmupPolyLR', 'WarmupPolyParamScheduler']
