from .progress_bar import ProgressBarHook

__all__ = ['ProgressBarHook']
