from .ris_inferencer import RISInferencer, mask_to_rle, prediction_record

__all__ = ['RISInferencer', 'mask_to_rle', 'prediction_record']
