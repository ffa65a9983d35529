from .sample_data import REFER_SAMPLE, build_refer_sample

__all__ = ['REFER_SAMPLE', 'build_refer_sample']
