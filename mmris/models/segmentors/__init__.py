from .maskris import MaskRISDistributedDataParallel, MaskRISSegmentor
from .ris_encoder_decoder import RISEncoderDecoder

__all__ = [
    'RISEncoderDecoder', 'MaskRISSegmentor', 'MaskRISDistributedDataParallel'
]
